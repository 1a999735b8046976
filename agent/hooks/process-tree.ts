/**
 * Finds the processes a hook script started (Linux /proc), for the timeout and cancellation kill:
 * - its process group (the script leads its own);
 * - every descendant, walking /proc/<pid>/stat parent links from the script and from every process
 *   already found (a child that called setsid is still a descendant until its parent exits);
 * - every process whose environment carries the run's marker (hook-run-id.ts), which finds
 *   children that left both the group and the tree (setsid plus a double fork, a daemon).
 * Only processes started no earlier than the script are searched for the marker, so an old
 * process is never read or matched. What escapes all three: a process that both leaves the tree
 * and clears its environment (env -i, a daemon that execs with a fresh one).
 *
 * Zombies are ignored (nothing to kill; where PID 1 does not reap, they stay forever), and so are
 * this process and PID 1.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { parseStat, type StatFields } from './process-group.js';

/**
 * /proc files are read synchronously, this many between two turns of the event loop: a scan of
 * 1,000 processes took 47 ms that way on a loaded 2-core VM and 180-300 ms through the thread
 * pool, and a kill scans repeatedly. Batches keep each pause of the event loop to a few ms.
 */
const BATCH = 128;

export interface ProcessInfo extends StatFields {
  pid: number;
}

export interface HookProcessQuery {
  /** The script's pid, which is also its process group id. */
  pid: number;
  /** /proc starttime of the script (clock ticks since boot); undefined when unknown (then every process's environment is searched). */
  startTime: number | undefined;
  marker: { name: string; value: string };
  /** Processes found earlier, by pid, with their starttime (a reused pid has another). */
  known: ReadonlyMap<number, number>;
}

/** The live processes of the host; undefined without a readable /proc. */
export async function readProcessTable(): Promise<Map<number, ProcessInfo> | undefined> {
  let names: string[];
  try {
    names = readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    return undefined;
  }
  const table = new Map<number, ProcessInfo>();
  await inBatches(names, (name) => {
    const stat = readOrUndefined(`/proc/${name}/stat`);
    const parsed = stat === undefined ? undefined : parseStat(stat.toString('utf8'));
    if (!parsed || parsed.state === 'Z' || parsed.state === 'X') return;
    table.set(Number(name), { pid: Number(name), ...parsed });
  });
  return table;
}

/** The live processes the script started, per the rules above (the script itself included while it runs). */
export async function findHookProcesses(q: HookProcessQuery, table: Map<number, ProcessInfo>): Promise<Map<number, ProcessInfo>> {
  const found = new Map<number, ProcessInfo>();
  const self = process.pid;
  const add = (p: ProcessInfo): void => {
    if (p.pid !== self && p.pid !== 1) found.set(p.pid, p);
  };
  for (const p of table.values()) {
    const isScript = p.pid === q.pid && (q.startTime === undefined || p.startTime === q.startTime);
    if (isScript || p.pgrp === q.pid || q.known.get(p.pid) === p.startTime) add(p);
  }
  const candidates = [...table.values()].filter(
    (p) => !found.has(p.pid) && p.pid !== self && (q.startTime === undefined || p.startTime >= q.startTime),
  );
  const needle = Buffer.from(`\0${q.marker.name}=${q.marker.value}\0`);
  await inBatches(candidates, (p) => {
    if (hasMarker(p.pid, needle)) add(p);
  });
  addDescendants(found, table, add);
  return found;
}

/** Adds every descendant of the processes already found. */
function addDescendants(found: Map<number, ProcessInfo>, table: Map<number, ProcessInfo>, add: (p: ProcessInfo) => void): void {
  const children = new Map<number, ProcessInfo[]>();
  for (const p of table.values()) {
    const list = children.get(p.ppid);
    if (list) list.push(p);
    else children.set(p.ppid, [p]);
  }
  const queue = [...found.keys()];
  const seen = new Set(queue);
  while (queue.length > 0) {
    const pid = queue.pop() as number;
    for (const child of children.get(pid) ?? []) {
      if (seen.has(child.pid)) continue;
      seen.add(child.pid);
      add(child);
      queue.push(child.pid);
    }
  }
}

function hasMarker(pid: number, needle: Buffer): boolean {
  // Undefined: another user's process when we are not root (EACCES), or it has just exited.
  const environ = readOrUndefined(`/proc/${pid}/environ`);
  if (!environ || environ.length === 0) return false;
  return Buffer.concat([Buffer.from([0]), environ, Buffer.from([0])]).includes(needle);
}

function readOrUndefined(path: string): Buffer | undefined {
  try {
    return readFileSync(path);
  } catch {
    return undefined;
  }
}

async function inBatches<T>(items: readonly T[], fn: (item: T) => void): Promise<void> {
  for (let i = 0; i < items.length; i++) {
    if (i > 0 && i % BATCH === 0) await new Promise((resolve) => setImmediate(resolve));
    fn(items[i] as T);
  }
}

/** The /proc starttime of a process, undefined when it cannot be read. */
export async function processStartTime(pid: number): Promise<number | undefined> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  const startTime = stat === undefined ? undefined : parseStat(stat)?.startTime;
  return startTime === undefined || startTime < 0 ? undefined : startTime;
}
