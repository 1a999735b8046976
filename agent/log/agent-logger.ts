/**
 * The agent's own log: pino JSON lines. Credentials, tokens and presigned URLs are redacted at
 * the logger, so no call site can leak them by accident.
 */
import { pino, type DestinationStream, type Logger } from 'pino';
import { FileAppender } from './file-appender.js';

/** Paths pino censors wherever they appear (one and two levels deep). */
export const REDACT_PATHS = [
  'secretAccessKey',
  'sessionToken',
  'accessKeyId',
  'token',
  'authorization',
  'gitHubAccessToken',
  'GitHubAccessToken',
  'password',
  '*.secretAccessKey',
  '*.sessionToken',
  '*.accessKeyId',
  '*.token',
  '*.authorization',
  '*.Authorization',
  '*.gitHubAccessToken',
  '*.GitHubAccessToken',
  '*.password',
  'headers.authorization',
  'headers["x-amz-security-token"]',
];

export interface AgentLoggerOptions {
  level?: string;
  /** A file to append to (its directory is created); default: stderr. */
  file?: string;
  /** Size-based rotation of file: rotate past maxBytes, keep this many files in all. */
  rotation?: { maxBytes: number; keep: number };
  /** An explicit destination (tests). Wins over file. */
  destination?: DestinationStream;
  name?: string;
}

export interface AgentLog {
  logger: Logger;
  /** Writes out everything logged so far. */
  flush(): Promise<void>;
  close(): Promise<void>;
}

/** The daemon's log: JSON lines to a file rotated by size (codedeploy-agent.log, .0 newest, ...). */
export function createRotatingAgentLog(options: AgentLoggerOptions & { file: string; rotation: { maxBytes: number; keep: number } }): AgentLog {
  const appender = new FileAppender({
    path: options.file,
    rotation: options.rotation,
    onError: (error) => process.stderr.write(`codedeploy-agent: cannot write ${options.file}: ${error.message}\n`),
  });
  const logger = createAgentLogger({ ...options, destination: { write: (line: string) => void appender.write(line) } });
  return { logger, flush: () => appender.flush(), close: () => appender.close() };
}

export function createAgentLogger(options: AgentLoggerOptions = {}): Logger {
  const destination =
    options.destination ??
    (options.file ? pino.destination({ dest: options.file, mkdir: true, sync: false }) : pino.destination(2));
  return pino(
    {
      name: options.name ?? 'codedeploy-agent',
      level: options.level ?? 'info',
      redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  );
}
