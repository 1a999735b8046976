/**
 * deployment-logs/codedeploy-agent-deployments.log (docs/reference.md section 6.7): every scripts.log
 * message of every deployment of this process, one line each, as
 * "[YYYY-MM-DD HH:MM:SS.mmm] [<DeploymentId>]<message stripped>". One instance is shared by all
 * deployments; the scripts.log writers format the lines and call write().
 *
 * Rotation is by size, like the official Ruby Logger (8 files x 64 MiB) and with its file names:
 * before a write would take the live file past maxBytes it is renamed to ".0", ".0" to ".1", …,
 * and the oldest (".<keep-2>", i.e. ".6" by default) is overwritten. With the defaults at most
 * 8 files (512 MiB) exist: codedeploy-agent-deployments.log and codedeploy-agent-deployments.log.0 … .6.
 */
import { FileAppender } from './file-appender.js';

export const DEFAULT_DEPLOYMENTS_LOG_MAX_BYTES = 64 * 1024 * 1024;
export const DEFAULT_DEPLOYMENTS_LOG_KEEP = 8;

export interface DeploymentsLog {
  /** Append one line (without its newline; one is added). Returns false when the caller should waitDrain(). */
  write(line: string): boolean;
  readonly needDrain: boolean;
  waitDrain(): Promise<void>;
  /** Resolves once everything written so far is in the file (not fsynced). */
  flush(): Promise<void>;
  close(): Promise<void>;
}

export interface DeploymentsLogOptions {
  path: string;
  /** Rotate before the live file would exceed this size (default 64 MiB). */
  maxBytes?: number;
  /** Files kept, the live one included (default 8). */
  keep?: number;
  /** Called once with the first write error; later lines are dropped. */
  onError?: (error: Error) => void;
}

export function createDeploymentsLog(options: DeploymentsLogOptions): DeploymentsLog {
  const appender = new FileAppender({
    path: options.path,
    rotation: {
      maxBytes: options.maxBytes ?? DEFAULT_DEPLOYMENTS_LOG_MAX_BYTES,
      keep: options.keep ?? DEFAULT_DEPLOYMENTS_LOG_KEEP,
    },
    ...(options.onError ? { onError: options.onError } : {}),
  });
  return {
    write: (line) => appender.write(`${line}\n`),
    get needDrain() {
      return appender.needDrain;
    },
    waitDrain: () => appender.waitDrain(),
    flush: () => appender.flush(),
    close: () => appender.close(),
  };
}
