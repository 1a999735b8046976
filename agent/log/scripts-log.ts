/**
 * The per-deployment logs/scripts.log writer, in the official format (docs/reference.md section 6.7):
 *
 *   2024-05-01 12:00:01 LifecycleEvent - BeforeInstall
 *   2024-05-01 12:00:01 Script - scripts/before_install.sh
 *   2024-05-01 12:00:01 [stdout]installing deps
 *   2024-05-01 12:00:02 [agent]<a note of ours, e.g. a child kept stdout open>
 *
 * Times are local. The file is appended to, never truncated (the official agent truncates on its
 * first write of a process; appending keeps earlier commands' output of the same deployment).
 * Every line that does not end in a newline gets one, so the file stays line-based. Each message
 * also goes to the shared deployments log, when given, as "[<ts>.mmm] [<DeploymentId>]<message stripped>".
 *
 * Writes are queued and batched (see FileAppender); needDrain/waitDrain let the hook runner apply
 * backpressure to the script's pipes, so memory stays bounded whatever a script prints.
 */
import type { Logger } from 'pino';
import type { OutputStream, ScriptLogWriter } from './types.js';
import type { DeploymentsLog } from './deployments-log.js';
import { FileAppender } from './file-appender.js';
import { LogClock } from './log-time.js';

/** A ScriptLogWriter that also exposes backpressure (the hook runner uses it when present). */
export interface StreamingScriptLogWriter extends ScriptLogWriter {
  /** True while more is queued than the writer wants in memory; the producer should waitDrain(). */
  readonly needDrain: boolean;
  waitDrain(): Promise<void>;
}

export interface ScriptLogWriterOptions {
  scriptsLogPath: string;
  deploymentId: string;
  deploymentsLog?: DeploymentsLog;
  now?: () => Date;
  /** Told (once, at warn) when scripts.log cannot be written; output is then dropped, the deployment goes on. */
  logger?: Logger;
}

export function createScriptLogWriter(options: ScriptLogWriterOptions): StreamingScriptLogWriter {
  const clock = new LogClock(options.now);
  const deploymentsLog = options.deploymentsLog;
  const prefix = `] [${options.deploymentId}]`;
  const file = new FileAppender({
    path: options.scriptsLogPath,
    onError: (error) =>
      options.logger?.warn(
        { err: error, path: options.scriptsLogPath },
        `cannot write ${options.scriptsLogPath}; script output is not logged: ${error.message}`,
      ),
  });

  function emit(message: string): void {
    const t = clock.read();
    file.write(`${t.seconds} ${message}`);
    if (deploymentsLog) deploymentsLog.write(`[${t.seconds}.${t.millis}${prefix}${strip(message)}`);
  }

  return {
    lifecycleEvent: (event) => emit(`LifecycleEvent - ${event}\n`),
    script: (location) => emit(`Script - ${location}\n`),
    output: (stream: OutputStream, line: string) => emit(line.endsWith('\n') ? `[${stream}]${line}` : `[${stream}]${line}\n`),
    note: (message) => emit(`[agent]${oneLine(message)}\n`),
    get needDrain() {
      return file.needDrain || (deploymentsLog?.needDrain ?? false);
    },
    async waitDrain() {
      await Promise.all([file.waitDrain(), deploymentsLog?.waitDrain()]);
    },
    async flush() {
      await Promise.all([file.flush(), deploymentsLog?.flush()]);
    },
    async close() {
      // The deployments log is shared with other deployments: flushed, never closed here.
      await Promise.all([file.close(), deploymentsLog?.flush()]);
    },
  };
}

/** Ruby String#strip: ASCII whitespace (tab, LF, VT, FF, CR, space) and NUL at both ends. */
export function strip(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && isStripped(text.charCodeAt(start))) start++;
  while (end > start && isStripped(text.charCodeAt(end - 1))) end--;
  return start === 0 && end === text.length ? text : text.slice(start, end);
}

function isStripped(c: number): boolean {
  return c === 32 || (c >= 9 && c <= 13) || c === 0;
}

function oneLine(message: string): string {
  return message.replace(/\r?\n/g, ' ');
}
