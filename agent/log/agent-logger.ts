/**
 * The agent's own log file (codedeploy-agent.log, codedeploy-local.log), written through
 * FileAppender, in one of two formats (:log_format:):
 * - `text` (default): the official agent's line, `2024-05-01T12:00:01 INFO  [codedeploy-agent(1234)]: message`
 *   with the record's fields after the message (agent-log-format.ts), so grep habits, log shippers
 *   and CloudWatch agent configs written for the official agent keep working;
 * - `json`: pino JSON lines with level labels (`"level":"info"`), an ISO `time`, one `pid`, the
 *   `hostname` and the program `name`.
 * Both are built by pino with the credential redaction of common/logger.ts: the text line is made
 * from the JSON line pino wrote, after redaction.
 */
import { pino, type Logger } from 'pino';
import { REDACTION } from '../../common/logger.js';
import { AgentLogTextFormatter } from './agent-log-format.js';
import { FileAppender } from './file-appender.js';

export type AgentLogFormat = 'text' | 'json';

export interface AgentLoggerOptions {
  /** The program name on every line (:program_name:, or codedeploy-local). Default codedeploy-agent. */
  name?: string;
  /** pino level: info, or debug with :verbose:. Default info. */
  level?: string;
  /** Default text. */
  format?: AgentLogFormat;
}

export interface FileAgentLogOptions extends AgentLoggerOptions {
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
 * A pino logger that hands each finished line (newline included) to write(), synchronously: a
 * record logged before close() is never lost, rotation included (FileAppender queues whole lines).
 */
export function createAgentLogger(write: (line: string) => void, options: AgentLoggerOptions = {}): Logger {
  const name = options.name ?? 'codedeploy-agent';
  const level = options.level ?? 'info';
  const labels = { level: (label: string) => ({ level: label }) };
  if ((options.format ?? 'text') === 'json') {
    return pino(
      { name, level, redact: REDACTION, timestamp: pino.stdTimeFunctions.isoTime, formatters: labels },
      { write: (line: string) => write(line) },
    );
  }
  // Text: the pid and name go in the brackets, so the JSON record carries neither (base: null)
  // and a field named pid in a call stays a field. Epoch time: no ISO string parsed back.
  const formatter = new AgentLogTextFormatter({ program: name, pid: process.pid, stacks: (pino.levels.values[level] ?? 30) <= 20 });
  return pino(
    { level, base: null, redact: REDACTION, timestamp: pino.stdTimeFunctions.epochTime, formatters: labels },
    { write: (line: string) => write(formatter.formatJsonLine(line)) },
  );
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
  const logger = createAgentLogger((line) => void appender.write(line), { ...options, name });
  return { logger, flush: () => appender.flush(), close: () => appender.close() };
}

/** The daemon's log: a file rotated by size (codedeploy-agent.log, .0 newest, ...). */
export function createRotatingAgentLog(options: FileAgentLogOptions & { rotation: { maxBytes: number; keep: number } }): AgentLog {
  return createFileAgentLog(options);
}
