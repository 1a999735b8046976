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
  /** Where the JSON lines go (tests, the control plane's stdout); default: stderr. */
  destination?: DestinationStream;
  name?: string;
}

export interface FileAgentLogOptions extends Omit<AgentLoggerOptions, 'destination'> {
  /** The file to append to (created 0640, its directory 0750; see file-modes.ts). */
  file: string;
  /** Size-based rotation: rotate past maxBytes, keep this many files in all. Default: none. */
  rotation?: { maxBytes: number; keep: number };
}

export interface AgentLog {
  logger: Logger;
  /** Writes out everything logged so far. */
  flush(): Promise<void>;
  close(): Promise<void>;
}

/**
 * A log file written through FileAppender rather than pino.destination: write errors are reported
 * once on stderr instead of crashing the process, and new files get the agent's modes.
 * Check the directory first (assertLogDirWritable) so that a bad log_dir stops the program at start.
 */
export function createFileAgentLog(options: FileAgentLogOptions): AgentLog {
  const name = options.name ?? 'codedeploy-agent';
  const appender = new FileAppender({
    path: options.file,
    ...(options.rotation ? { rotation: options.rotation } : {}),
    onError: (error) => process.stderr.write(`${name}: cannot write ${options.file}: ${error.message}; logging stopped\n`),
  });
  const logger = createAgentLogger({ ...options, name, destination: { write: (line: string) => void appender.write(line) } });
  return { logger, flush: () => appender.flush(), close: () => appender.close() };
}

/** The daemon's log: JSON lines to a file rotated by size (codedeploy-agent.log, .0 newest, ...). */
export function createRotatingAgentLog(options: FileAgentLogOptions & { rotation: { maxBytes: number; keep: number } }): AgentLog {
  return createFileAgentLog(options);
}

export function createAgentLogger(options: AgentLoggerOptions = {}): Logger {
  return pino(
    {
      name: options.name ?? 'codedeploy-agent',
      level: options.level ?? 'info',
      redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    options.destination ?? pino.destination(2),
  );
}
