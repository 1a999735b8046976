/**
 * The agent's own log: pino JSON lines. Credentials, tokens and presigned URLs are redacted at
 * the logger, so no call site can leak them by accident.
 */
import { pino, type DestinationStream, type Logger } from 'pino';

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
  /** An explicit destination (tests). Wins over file. */
  destination?: DestinationStream;
  name?: string;
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
