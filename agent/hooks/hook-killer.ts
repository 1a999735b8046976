/**
 * Stops everything a hook script started, on a timeout or when its command is cancelled or the
 * agent shuts down (never after a script that exited by itself: ApplicationStart may leave a
 * server running on purpose). SIGTERM to every process process-tree.ts finds (the script's group,
 * its descendants, the carriers of its marker), a grace period, then SIGKILL to whatever is left,
 * found the same way. Without /proc the process group is all that can be reached.
 *
 * The search is repeated (every POLL_MS, or as long as the last scan took when that is longer)
 * until nothing is left: processes found once are followed by pid and starttime (an orphan is
 * re-parented away from the script, a reused pid is not ours), and processes that appear
 * meanwhile (a trap handler's child) get the current signal too.
 */
import { errnoCode } from '../../common/errors.js';
import { groupAlive, signalGroup } from './process-group.js';
import { findHookProcesses, readProcessTable, type ProcessInfo } from './process-tree.js';

export interface HookKillTarget {
  /** The script's pid and process group id. */
  pid: number;
  /** The script's /proc starttime, read right after it started (undefined without /proc). */
  startTime: number | undefined;
  marker: { name: string; value: string };
}

export interface HookKillOutcome {
  /** True when something was still running after the grace period and got SIGKILL. */
  killed: boolean;
  /** What was still there after the grace period ("pid (comm)"), for the log. */
  stubborn: string[];
  /** What survived even SIGKILL (normally nothing). */
  survivors: string[];
}

const POLL_MS = 50;
/** How long to wait for SIGKILLed processes to vanish (it normally takes milliseconds). */
const AFTER_KILL_WAIT_MS = 2_000;

export async function killHookProcesses(target: HookKillTarget, graceMs: number): Promise<HookKillOutcome> {
  const known = new Map<number, number>();
  const signalled = { SIGTERM: new Set<number>(), SIGKILL: new Set<number>() };

  /** One search that signals what it finds (once per process and signal); returns what is left, undefined when nothing. */
  const sweep = async (signal: 'SIGTERM' | 'SIGKILL'): Promise<ProcessInfo[] | undefined> => {
    const table = await readProcessTable();
    if (!table) {
      // No /proc: the process group is all we can reach.
      if (!signalled[signal].has(target.pid)) signalGroup(target.pid, signal);
      signalled[signal].add(target.pid);
      return (await groupAlive(target.pid)) ? [] : undefined;
    }
    const found = await findHookProcesses({ ...target, known }, table);
    for (const p of found.values()) {
      known.set(p.pid, p.startTime);
      if (signalled[signal].has(p.pid)) continue;
      signalled[signal].add(p.pid);
      signalPid(p.pid, signal);
    }
    // A group member forked between the scan and the kills: SIGKILL repeats do no harm (SIGTERM
    // ones would, a script's TERM trap runs once per signal; the next scan finds such a process).
    if (signal === 'SIGKILL') signalGroup(target.pid, signal);
    return found.size > 0 ? [...found.values()] : undefined;
  };

  const waitGone = async (signal: 'SIGTERM' | 'SIGKILL', ms: number): Promise<ProcessInfo[] | undefined> => {
    const deadline = Date.now() + ms;
    let scanStarted = Date.now();
    let left = await sweep(signal);
    while (left) {
      const wait = deadline - Date.now();
      if (wait <= 0) return left;
      // Pause at least as long as the scan took: on a host with thousands of processes the
      // scans then use at most half a core.
      const pause = Math.max(POLL_MS, Date.now() - scanStarted);
      await new Promise((r) => setTimeout(r, Math.min(pause, wait)));
      scanStarted = Date.now();
      left = await sweep(signal);
    }
    return undefined;
  };

  const afterTerm = await waitGone('SIGTERM', graceMs);
  if (!afterTerm) return { killed: false, stubborn: [], survivors: [] };
  const afterKill = await waitGone('SIGKILL', AFTER_KILL_WAIT_MS);
  return { killed: true, stubborn: afterTerm.map(describe), survivors: (afterKill ?? []).map(describe) };
}

function signalPid(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch (err) {
    // ESRCH: gone meanwhile. EPERM: another user's (a sudo child of a non-root agent): out of reach.
    if (errnoCode(err) !== 'ESRCH' && errnoCode(err) !== 'EPERM') throw err;
  }
}

function describe(p: ProcessInfo): string {
  return `${p.pid} (${p.comm})`;
}
