/**
 * How the control plane's log looks on stdout: JSON lines for machines (stdout is a pipe, a file,
 * docker logs) and one readable line per entry for a person at a terminal (pino-pretty), unless
 * --log-format says otherwise. Only the control plane's CLI builds the pretty form: the agent and
 * common/logger.ts stay JSON-only, so the agent never depends on pino-pretty. Each entry is
 * formatted and written synchronously (prettyFactory, no worker thread), so nothing is lost when
 * the process exits right after a line.
 */
import type { DestinationStream } from 'pino';
import { prettyFactory } from 'pino-pretty';

export type LogFormat = 'json' | 'pretty';
export const LOG_FORMATS: readonly LogFormat[] = ['json', 'pretty'];

/** The flag's value wins; without one, pretty on a TTY and JSON otherwise. Undefined for a bad value. */
export function chooseLogFormat(flag: string | undefined, stdoutIsTTY: boolean): LogFormat | undefined {
  if (flag === undefined) return stdoutIsTTY ? 'pretty' : 'json';
  return LOG_FORMATS.find((f) => f === flag);
}

/** Colors only on a terminal, and never with NO_COLOR set (no-color.org) or TERM=dumb. */
export function useColor(stdoutIsTTY: boolean, env: NodeJS.ProcessEnv): boolean {
  return stdoutIsTTY && !env.NO_COLOR && env.TERM !== 'dumb';
}

/** Where the logger writes: each JSON line as it is, or as a readable line. */
export function logDestination(format: LogFormat, write: (text: string) => void, opts: { colorize: boolean }): DestinationStream {
  if (format === 'json') return { write };
  const pretty = prettyFactory({
    colorize: opts.colorize,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname,name,part',
    messageFormat: '{if part}{part}: {end}{msg}',
    singleLine: true,
  });
  return { write: (line: string) => write(pretty(line)) };
}
