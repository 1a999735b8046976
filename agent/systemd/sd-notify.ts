/**
 * sd_notify for the daemon (docs/design.md section 8: systemd readiness and watchdog): READY=1, STATUS=,
 * WATCHDOG=1 and STOPPING=1 to the service manager when it set NOTIFY_SOCKET (Type=notify).
 *
 * Two routes, chosen once per process:
 * - ffi (the default; notify-datagram.ts): the agent process sends the datagram itself, through
 *   node:ffi, so systemd attributes it to the agent's PID and the unit says NotifyAccess=main.
 * - binary (the fallback, when node:ffi is missing - Node 20 to 24 on the npm route - or fails to
 *   load, or NOTIFY_SOCKET is not a path or @name): each message is sent by the `systemd-notify`
 *   binary, with argv only (no shell). systemd-notify (systemd >= 246) first sends with its
 *   *parent's* PID - the agent - in SCM_CREDENTIALS, which the kernel allows only to privileged
 *   senders; unprivileged (an agent with :user:) it falls back to its own PID, which systemd
 *   accepts only with NotifyAccess=all, so in that case a warning says to set it. Without
 *   `--no-block` systemd-notify waits (BARRIER=1) until the manager has read the message, so the
 *   manager can still see the sender alive.
 *
 * Nothing here throws: a missing binary is reported once as a warning, a failed send as a warning
 * (then at debug until a send succeeds again).
 */
import { execFile } from 'node:child_process';
import type { Logger } from 'pino';
import { errnoCode, toError } from '../../common/errors.js';
import { FfiUnavailableError, loadNodeFfi, openNotifyDatagram, type NotifyDatagramSocket } from './notify-datagram.js';

/** How messages reach the manager: 'auto' tries ffi and falls back to the binary. */
export type NotifyRoute = 'auto' | 'ffi' | 'binary';

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
  /** Default 'auto'. 'ffi' never falls back (tests); 'binary' never tries node:ffi. */
  route?: NotifyRoute;
  /** node:ffi, or undefined when this Node has none (tests make it unavailable); default loadNodeFfi. */
  loadFfi?: typeof loadNodeFfi;
  /** Our effective uid (the binary route warns when it is not root); default process.geteuid(). */
  euid?: number;
}

export interface Notifier {
  /** False when NOTIFY_SOCKET is unset: every method is then a no-op. */
  readonly enabled: boolean;
  /** The route the messages took so far: undefined before the first one (and when disabled). */
  readonly route: 'ffi' | 'binary' | undefined;
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
  const wanted = opts.route ?? 'auto';

  let route: 'ffi' | 'binary' | undefined;
  let datagram: NotifyDatagramSocket | undefined;
  let binaryMissing = false;
  let failing = false;
  // Messages leave in the order they were asked for (READY before a later STATUS, ...).
  let queue: Promise<void> = Promise.resolve();

  const childEnv: NodeJS.ProcessEnv = { NOTIFY_SOCKET: socket };
  if (env.PATH !== undefined) childEnv.PATH = env.PATH;

  const failed = (detail: Record<string, unknown>): void => {
    if (failing) logger.debug(detail, 'sd_notify failed again');
    else logger.warn(detail, 'sd_notify failed');
    failing = true;
  };
  const succeeded = (detail: Record<string, unknown>): void => {
    if (failing) logger.debug(detail, 'sd_notify works again');
    failing = false;
  };

  const useBinary = (reason: string | undefined): void => {
    route = 'binary';
    const euid = opts.euid ?? process.geteuid?.() ?? 0;
    if (reason !== undefined) logger.debug({ reason }, `sd_notify through ${binary} (node:ffi cannot be used: ${reason})`);
    if (euid !== 0) {
      logger.warn(
        { binary, euid },
        `sd_notify goes through ${binary}, which systemd attributes to its own PID when not run as root: the unit needs NotifyAccess=all (systemctl edit codedeploy-agent), or systemd drops READY=1 and the watchdog pings`,
      );
    }
  };

  /** The ffi route: true when the message went (or failed) that way, false to use the binary. */
  const viaFfi = (lines: string[]): boolean => {
    if (route === 'binary') return false;
    try {
      datagram ??= openNotifyDatagram(socket ?? '', opts.loadFfi ?? loadNodeFfi);
      route = 'ffi';
      datagram.send(lines.join('\n'));
      succeeded({ message: lines });
    } catch (err) {
      if (err instanceof FfiUnavailableError && wanted === 'auto' && route === undefined) {
        useBinary(err.message);
        return false;
      }
      route ??= 'ffi';
      failed({ message: lines, err: toError(err).message });
    }
    return true;
  };

  const viaBinary = (lines: string[]): Promise<void> =>
    new Promise((resolve) => {
      if (binaryMissing) return resolve();
      // systemd-notify's own flags for READY and STATUS (every version has them); the rest as VAR=VALUE.
      const args = lines.map((l) => (l === 'READY=1' ? '--ready' : l.startsWith('STATUS=') ? `--status=${l.slice(7)}` : l));
      execFile(binary, args, { env: childEnv, timeout: sendTimeoutMs, windowsHide: true }, (error, _stdout, stderr) => {
        if (!error) {
          succeeded({ args });
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
        failed({ args, err: toError(error).message, stderr: String(stderr).trim() });
        resolve();
      });
    });

  const run = async (lines: string[]): Promise<void> => {
    if (route === undefined && wanted === 'binary') useBinary(undefined);
    if (viaFfi(lines)) return;
    await viaBinary(lines);
  };

  const send = (lines: string[]): Promise<void> => {
    if (!enabled) return Promise.resolve();
    queue = queue.then(() => run(lines));
    return queue;
  };
  const withStatus = (status: string | undefined, line: string, statusFirst: boolean): string[] => {
    if (status === undefined) return [line];
    const text = `STATUS=${oneLine(status)}`;
    return statusFirst ? [text, line] : [line, text];
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
    get route() {
      return route;
    },
    watchdogIntervalMs,
    ready: (status) => send(withStatus(status, 'READY=1', false)),
    status: (text) => send([`STATUS=${oneLine(text)}`]),
    watchdog,
    stopping: (status) => send(withStatus(status, 'STOPPING=1', true)),
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
