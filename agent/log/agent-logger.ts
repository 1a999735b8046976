/**
 * The agent's own log file: pino JSON lines (common/logger.ts, which redacts credentials) written
 * through FileAppender.
 */
import type { Logger } from 'pino';
import { createLogger, type LoggerOptions } from '../../common/logger.js';
import { FileAppender } from './file-appender.js';

export interface FileAgentLogOptions extends Omit<LoggerOptions, 'destination' | 'name'> {
  name?: string;
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
  const logger = createLogger({ ...options, name, destination: { write: (line: string) => void appender.write(line) } });
  return { logger, flush: () => appender.flush(), close: () => appender.close() };
}

/** The daemon's log: JSON lines to a file rotated by size (codedeploy-agent.log, .0 newest, ...). */
export function createRotatingAgentLog(options: FileAgentLogOptions & { rotation: { maxBytes: number; keep: number } }): AgentLog {
  return createFileAgentLog(options);
}
