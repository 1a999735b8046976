/**
 * The pino logger both programs use: JSON lines with ISO times. Credentials, tokens and presigned
 * URLs are redacted at the logger, so no call site can leak them by accident.
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

/** pino's redact option: every logger of both programs censors the same paths the same way. */
export const REDACTION = { paths: REDACT_PATHS, censor: '[REDACTED]' };

export interface LoggerOptions {
  level?: string;
  /** Where the JSON lines go (tests, the control plane's stdout); default: stderr. */
  destination?: DestinationStream;
  /** The program name on every line (codedeploy-agent, codedeploy-control-plane, ...). */
  name: string;
}

export function createLogger(options: LoggerOptions): Logger {
  return pino(
    {
      name: options.name,
      level: options.level ?? 'info',
      redact: REDACTION,
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    options.destination ?? pino.destination(2),
  );
}
