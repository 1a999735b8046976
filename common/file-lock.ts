/**
 * Exclusive advisory locks between processes (flock(2)), used for "one agent per host", "one
 * writer per deployment group" and "one control plane per data dir" (docs/design.md section 8).
 *
 * Why flock and not a pid check: the kernel drops the lock the moment the holder dies (kill -9,
 * OOM, power loss), so a stale lock file never blocks a start, and a reused pid never looks like a
 * live holder. Node has no flock binding and the agent ships without native addons. A non-blocking
 * lock (the common case: every command the daemon runs takes its group's) calls libc's flock(2)
 * through node:ffi where this Node has it (Node 26, the release's); otherwise, and for a lock we
 * wait for (a blocking call would stop the event loop), util-linux's flock(1) takes it on a
 * descriptor we pass it: flock locks belong to the open file description, which the child shares
 * with us through fd 3, so the lock stays ours after the child exits and lasts exactly as long as
 * our descriptor is open. Either way the lock is the same kernel lock. (Libraries on npm either
 * need a native addon, such as fs-ext, or emulate locks with mkdir and mtimes, such as
 * proper-lockfile, which is the stale-lock problem again.)
 *
 * Lock files are never deleted: unlinking a lock file lets a waiter lock the old inode while a new
 * starter locks a new one. The holder writes a short description of itself into the file (pid and
 * program) so that a refused caller can say who holds it.
 *
 * A directory can be locked too (acquireDirectoryLock): the official on-disk layout has no room for
 * lock files (tools and tests list root_dir and the instruction files), so a deployment group is
 * locked through its own directory. Its holder is found by looking for the process that keeps the
 * directory open (/proc/<pid>/fd), best effort: /proc of other users' processes needs root.
 */
import { spawn } from 'node:child_process';
import { mkdir, open, readdir, readFile, readlink, type FileHandle } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { DIR_MODE, makeDirs } from './file-modes.js';
import { errnoReader, loadNodeFfi } from './node-ffi.js';

export interface FileLock {
  readonly path: string;
  /** Drop the lock (closes our descriptor). Idempotent. */
  release(): Promise<void>;
}

/** Who holds a lock, as its holder wrote it (best effort: the holder may not have written yet). */
export interface LockHolder {
  pid?: number;
  program?: string;
}

/** The lock is held by another process (non-blocking acquire). */
export class LockBusyError extends Error {
  constructor(
    readonly path: string,
    readonly holder: LockHolder,
  ) {
    super(`${path} is locked by ${describeHolder(holder)}`);
    this.name = 'LockBusyError';
  }
}

export function describeHolder(holder: LockHolder): string {
  if (holder.pid === undefined) return 'another process';
  return `${holder.program ?? 'process'} (pid ${holder.pid})`;
}

export interface AcquireOptions {
  /** Wait for the lock instead of failing with LockBusyError. Default false. */
  wait?: boolean;
  /** Aborts a waiting acquire. */
  signal?: AbortSignal;
  /** Written into the lock file once the lock is ours. */
  program?: string;
  /** Mode of a lock file this call creates. Default 0640. */
  mode?: number;
  /** The flock(1) binary (and never flock(2) through node:ffi). Default: flock on PATH. */
  flockCommand?: string;
}

/** Take an exclusive lock on `path` (created with its parent directories when missing). */
export async function acquireFileLock(path: string, o: AcquireOptions = {}): Promise<FileLock> {
  await mkdir(dirname(path), { recursive: true, mode: 0o750 });
  // 'a+' creates without truncating: a refused caller must not wipe the holder's description.
  const handle = await open(path, 'a+', o.mode ?? 0o640);
  try {
    const outcome = await runFlock(handle, o);
    if (outcome === 'busy') throw new LockBusyError(path, await readLockHolder(path));
    await describeSelf(handle, o.program);
  } catch (err) {
    await handle.close().catch(() => undefined);
    throw err;
  }
  return heldLock(path, handle);
}

/** The lock lasts as long as this descriptor is open. */
function heldLock(path: string, handle: FileHandle): FileLock {
  let released = false;
  return {
    path,
    async release() {
      if (released) return;
      released = true;
      await handle.close().catch(() => undefined);
    },
  };
}

/**
 * Take an exclusive lock on a directory (created with its parents, mode `mode`, when missing).
 * LockBusyError names the holder found through /proc when it can.
 */
export async function acquireDirectoryLock(path: string, o: Omit<AcquireOptions, 'program'> = {}): Promise<FileLock> {
  await makeDirs(path, { mode: o.mode ?? DIR_MODE });
  const handle = await open(path, 'r');
  try {
    if ((await runFlock(handle, o)) === 'busy') throw new LockBusyError(path, await findDirectoryHolder(path));
  } catch (err) {
    await handle.close().catch(() => undefined);
    throw err;
  }
  return heldLock(path, handle);
}

/** The first other process that keeps `dir` open, with its program name (from its command line). */
export async function findDirectoryHolder(dir: string, procRoot = '/proc'): Promise<LockHolder> {
  const target = resolve(dir);
  let pids: string[];
  try {
    pids = (await readdir(procRoot)).filter((n) => /^\d+$/.test(n) && Number(n) !== process.pid);
  } catch {
    return {};
  }
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = await readdir(`${procRoot}/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      const link = await readlink(`${procRoot}/${pid}/fd/${fd}`).catch(() => undefined);
      if (link !== target) continue;
      const cmdline = await readFile(`${procRoot}/${pid}/cmdline`, 'utf8').catch(() => '');
      const program = /codedeploy-(local|agent)/.exec(cmdline)?.[0];
      return { pid: Number(pid), ...(program ? { program } : {}) };
    }
  }
  return {};
}

/** Whether some process holds the lock now; never creates the file. Undefined when it cannot tell. */
export async function probeFileLock(
  path: string,
  o: { flockCommand?: string } = {},
): Promise<{ held: boolean; holder: LockHolder } | undefined> {
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch {
    return undefined;
  }
  try {
    // A shared, non-blocking lock succeeds unless someone holds the exclusive one; it is dropped
    // again when we close, so probing never disturbs a holder or a starter.
    const outcome = await runFlock(handle, { flockCommand: o.flockCommand, shared: true });
    return { held: outcome === 'busy', holder: outcome === 'busy' ? await readLockHolder(path) : {} };
  } catch {
    return undefined;
  } finally {
    await handle.close().catch(() => undefined);
  }
}

export async function readLockHolder(path: string): Promise<LockHolder> {
  try {
    const text = (await readFile(path, 'utf8')).slice(0, 512);
    const pid = /^pid=(\d+)$/m.exec(text)?.[1];
    const program = /^program=([^\n]{1,100})$/m.exec(text)?.[1];
    return { ...(pid ? { pid: Number(pid) } : {}), ...(program ? { program } : {}) };
  } catch {
    return {};
  }
}

async function describeSelf(handle: FileHandle, program: string | undefined): Promise<void> {
  await handle.truncate(0);
  await handle.write(`pid=${process.pid}\n${program ? `program=${program}\n` : ''}`, 0);
}

type FlockOutcome = 'locked' | 'busy';

function runFlock(
  handle: FileHandle,
  o: { wait?: boolean; signal?: AbortSignal; flockCommand?: string; shared?: boolean },
): Promise<FlockOutcome> {
  if (!o.wait && o.flockCommand === undefined && !o.signal?.aborted) {
    const outcome = flockNow(handle.fd, o.shared === true);
    if (outcome !== undefined) return Promise.resolve(outcome);
  }
  return new Promise((resolve, reject) => {
    if (o.signal?.aborted) return reject(abortError(o.signal));
    const args = [o.shared ? '--shared' : '--exclusive', ...(o.wait ? [] : ['--nonblock']), '3'];
    const child = spawn(o.flockCommand ?? 'flock', args, { stdio: ['ignore', 'ignore', 'pipe', handle.fd] });
    let stderr = '';
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      if (stderr.length < 2000) stderr += chunk;
    });
    const onAbort = () => child.kill('SIGKILL');
    o.signal?.addEventListener('abort', onAbort, { once: true });
    child.on('error', (err) => {
      o.signal?.removeEventListener('abort', onAbort);
      reject(new Error(`could not run flock(1) to lock a file (install util-linux): ${err.message}`, { cause: err }));
    });
    child.on('close', (code, sig) => {
      o.signal?.removeEventListener('abort', onAbort);
      if (code === 0) return resolve('locked');
      if (o.signal?.aborted) return reject(abortError(o.signal));
      if (code === 1 && !o.wait) return resolve('busy');
      reject(new Error(`flock(1) failed (${sig ?? `exit ${code}`}): ${stderr.trim()}`));
    });
  });
}

// flock(2) operations and the errno of a busy lock (Linux, every architecture the agent ships for).
const LOCK_SH = 1;
const LOCK_EX = 2;
const LOCK_NB = 4;
const EWOULDBLOCK = 11;
const EINTR = 4;

type FlockCall = (fd: number, operation: number) => { result: number; errno: number | undefined };
let libcFlock: FlockCall | null | undefined;

/** flock(2) through node:ffi, bound once; null when this Node has no node:ffi or libc no flock. */
function bindFlock(): FlockCall | null {
  const ffi = loadNodeFfi();
  if (!ffi) return null;
  try {
    const { functions: f } = ffi.dlopen(null, {
      flock: { arguments: ['int32', 'int32'], return: 'int32' },
      __errno_location: { arguments: [], return: 'pointer' },
    });
    const flock = f.flock;
    if (!flock) return null;
    const errno = errnoReader(ffi, f.__errno_location);
    return (fd, operation) => {
      const result = Number(flock(fd, operation));
      return { result, errno: result === 0 ? undefined : errno() };
    };
  } catch {
    return null;
  }
}

/**
 * A non-blocking flock(2) on fd in this process: 'locked', 'busy', or undefined when node:ffi is
 * not there or the call failed for another reason (the caller then runs flock(1), which reports it).
 */
function flockNow(fd: number, shared: boolean): FlockOutcome | undefined {
  if (libcFlock === undefined) libcFlock = bindFlock();
  if (libcFlock === null) return undefined;
  for (let attempt = 0; attempt < 3; attempt++) {
    const { result, errno } = libcFlock(fd, (shared ? LOCK_SH : LOCK_EX) | LOCK_NB);
    if (result === 0) return 'locked';
    if (errno === EWOULDBLOCK) return 'busy';
    if (errno !== EINTR) return undefined;
  }
  return undefined;
}

function abortError(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new Error('lock wait aborted');
}
