/**
 * sd_notify for the daemon (docs/design.md section 8: systemd readiness and watchdog): READY=1, STATUS=,
 * WATCHDOG=1 and STOPPING=1 to the service manager when it set NOTIFY_SOCKET (Type=notify).
 *
 * Why a child process: the protocol is one datagram on an AF_UNIX SOCK_DGRAM socket, and Node has
 * no unix datagram sockets (node:dgram is UDP only, node:net is stream only). Rather than add a
 * native addon, each message is sent by the `systemd-notify` binary, with argv only (no shell).
 *
 * Attribution: systemd-notify (systemd >= 246) first sends with its *parent's* PID - the agent,
 * since we spawn it directly - in SCM_CREDENTIALS; the kernel allows that only to privileged
 * senders. Unprivileged, it falls back to its own PID, which systemd accepts only with
 * NotifyAccess=all, so the unit must say NotifyAccess=all. We do not pass `--pid`: it does not
 * change the sender, it sends MAINPID=, which is redundant for the service's main process.
 * Without `--no-block` systemd-notify waits (BARRIER=1) until the manager has read the message,
 * so the manager can still see the sender alive.
 *
 * Nothing here throws: a missing binary is reported once as a warning, a failed send as a warning
 * (then at debug until a send succeeds again).
 */
import { execFile } from 'node:child_process';
import type { Logger } from 'pino';
import { errnoCode, toError } from '../../common/errors.js';

export interface NotifierOptions {
  /** The agent's environment: NOTIFY_SOCKET, WATCHDOG_USEC, WATCHDOG_PID and PATH are read. */
  env: NodeJS.ProcessEnv;
  logger: Pick<Logger, 'debug' | 'warn'>;
  /** Default 'systemd-notify', looked up on env.PATH. */
  notifyBinary?: string;
  /** Monotonic milliseconds, used to notice watchdog pings that came late; default performance.now. */
  now?: () => number;
  /** Our process id, compared with WATCHDOG_PID; default process.pid. */
  pid?: number;
  /** A send that takes longer than this is abandoned; default 10 s (systemd-notify's barrier waits 5 s). */
  sendTimeoutMs?: number;
}

export interface Notifier {
  /** False when NOTIFY_SOCKET is unset: every method is then a no-op. */
  readonly enabled: boolean;
  /** Half of WATCHDOG_USEC in ms when the watchdog applies to this process, else undefined. */
  readonly watchdogIntervalMs: number | undefined;
  /** READY=1, with STATUS= when given. */
  ready(status?: string): Promise<void>;
  status(text: string): Promise<void>;
  watchdog(): Promise<void>;
  /** STOPPING=1, with STATUS= when given. */
  stopping(status?: string): Promise<void>;
  /** Pings WATCHDOG=1 every watchdogIntervalMs (an unref'd timer); returns the function that stops it. */
  startWatchdog(): () => void;
}

/** Status text goes on one line: a newline would start another variable in the datagram. */
const oneLine = (text: string): string => text.replace(/[\r\n]+/g, ' ');

export function createNotifier(opts: NotifierOptions): Notifier {
  const { env, logger } = opts;
  const socket = env.NOTIFY_SOCKET;
  const enabled = typeof socket === 'string' && socket !== '';
  const binary = opts.notifyBinary ?? 'systemd-notify';
  const now = opts.now ?? (() => performance.now());
  const pid = opts.pid ?? process.pid;
  const sendTimeoutMs = opts.sendTimeoutMs ?? 10_000;
  const watchdogIntervalMs = enabled ? watchdogInterval(env, pid) : undefined;

  let binaryMissing = false;
  let failing = false;
  // Messages leave in the order they were asked for (READY before a later STATUS, ...).
  let queue: Promise<void> = Promise.resolve();

  const childEnv: NodeJS.ProcessEnv = { NOTIFY_SOCKET: socket };
  if (env.PATH !== undefined) childEnv.PATH = env.PATH;

  const run = (args: string[]): Promise<void> =>
    new Promise((resolve) => {
      if (binaryMissing) return resolve();
      execFile(binary, args, { env: childEnv, timeout: sendTimeoutMs, windowsHide: true }, (error, _stdout, stderr) => {
        if (!error) {
          if (failing) logger.debug({ args }, 'sd_notify works again');
          failing = false;
          return resolve();
        }
        if (errnoCode(error) === 'ENOENT') {
          binaryMissing = true;
          logger.warn(
            { binary },
            `sd_notify disabled: ${binary} was not found (install systemd or set the notify binary); systemd will not see readiness or watchdog pings`,
          );
          return resolve();
        }
        const detail = { args, err: toError(error).message, stderr: String(stderr).trim() };
        if (failing) logger.debug(detail, 'sd_notify failed again');
        else logger.warn(detail, 'sd_notify failed');
        failing = true;
        resolve();
      });
    });

  const send = (args: string[]): Promise<void> => {
    if (!enabled) return Promise.resolve();
    queue = queue.then(() => run(args));
    return queue;
  };

  let watchdogInFlight = false;
  const watchdog = async (): Promise<void> => {
    if (watchdogIntervalMs === undefined) return;
    watchdogInFlight = true;
    try {
      await send(['WATCHDOG=1']);
    } finally {
      watchdogInFlight = false;
    }
  };

  return {
    enabled,
    watchdogIntervalMs,
    ready: (status) => send(status === undefined ? ['--ready'] : ['--ready', `--status=${oneLine(status)}`]),
    status: (text) => send([`--status=${oneLine(text)}`]),
    watchdog,
    stopping: (status) => send(status === undefined ? ['STOPPING=1'] : [`--status=${oneLine(status)}`, 'STOPPING=1']),
    startWatchdog: () => {
      if (watchdogIntervalMs === undefined) return () => undefined;
      const limitMs = watchdogIntervalMs * 2;
      let last = now();
      logger.debug({ intervalMs: watchdogIntervalMs }, 'systemd watchdog pings started');
      const timer = setInterval(() => {
        const at = now();
        if (at - last > limitMs) {
          logger.warn(
            { lateByMs: Math.round(at - last - watchdogIntervalMs) },
            'the watchdog ping is late: the event loop was blocked longer than WATCHDOG_USEC',
          );
        }
        last = at;
        // A send still waiting (the manager is slow) is enough; do not pile up processes.
        if (!watchdogInFlight) void watchdog();
      }, watchdogIntervalMs);
      timer.unref();
      return () => clearInterval(timer);
    },
  };
}

/**
 * sd_watchdog_enabled(3): WATCHDOG_USEC (microseconds) enables the watchdog, for this process only
 * when WATCHDOG_PID is unset or names it. systemd recommends pinging at half the interval.
 */
function watchdogInterval(env: NodeJS.ProcessEnv, pid: number): number | undefined {
  const usec = Number(env.WATCHDOG_USEC);
  if (!Number.isSafeInteger(usec) || usec <= 0) return undefined;
  if (env.WATCHDOG_PID !== undefined && env.WATCHDOG_PID !== '' && Number(env.WATCHDOG_PID) !== pid) return undefined;
  return Math.max(1, Math.floor(usec / 2000));
}
