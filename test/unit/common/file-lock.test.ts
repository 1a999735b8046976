import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { acquireDirectoryLock, acquireFileLock, findDirectoryHolder, LockBusyError, probeFileLock } from '../../../common/file-lock.js';
import { loadNodeFfi } from '../../../common/node-ffi.js';
import { tempDir } from '../../helpers/temp.js';

const hasFfi = loadNodeFfi() !== undefined;

async function holdInChild(path: string): Promise<{ pid: number; kill: () => Promise<void> }> {
  // flock(1) itself holds the lock for as long as `sleep` runs: a holder in another process.
  // flock forks `sleep`, which inherits the locked descriptor: kill the whole group.
  const child = spawn('flock', ['--exclusive', path, 'sleep', '300'], { stdio: 'ignore', detached: true });
  const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
  for (let i = 0; i < 100; i++) {
    if ((await probeFileLock(path))?.held) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    pid: child.pid ?? 0,
    kill: async () => {
      process.kill(-(child.pid ?? 0), 'SIGKILL');
      await exited;
    },
  };
}

describe('file lock', () => {
  it('is exclusive between two holders and names the holder', async () => {
    const path = join(await tempDir(), 'sub', 'agent.lock');
    const first = await acquireFileLock(path, { program: 'codedeploy-agent' });
    expect(await readFile(path, 'utf8')).toBe(`pid=${process.pid}\nprogram=codedeploy-agent\n`);
    const err = await acquireFileLock(path).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LockBusyError);
    expect((err as LockBusyError).holder).toEqual({ pid: process.pid, program: 'codedeploy-agent' });
    expect((err as LockBusyError).message).toContain(`codedeploy-agent (pid ${process.pid})`);
    // The refused attempt did not wipe the holder's description.
    expect(await readFile(path, 'utf8')).toContain(`pid=${process.pid}`);
    await first.release();
    const second = await acquireFileLock(path);
    await second.release();
  });

  it('is released by the kernel when the holder is killed, whatever pid the file names', async () => {
    const path = join(await tempDir(), 'agent.lock');
    // A stale description naming a live process (ourselves): a pid check would refuse here.
    await writeFile(path, `pid=${process.pid}\nprogram=stale\n`);
    const holder = await holdInChild(path);
    expect((await probeFileLock(path))?.held).toBe(true);
    await expect(acquireFileLock(path)).rejects.toBeInstanceOf(LockBusyError);
    await holder.kill();
    // flock(1) has exited; its `sleep` child (same group, same SIGKILL) may still be on its way
    // out on a loaded machine, and the kernel drops the lock when the last descriptor closes.
    let held = (await probeFileLock(path))?.held;
    for (const until = Date.now() + 5000; held && Date.now() < until; held = (await probeFileLock(path))?.held)
      await new Promise((r) => setTimeout(r, 20));
    expect(held).toBe(false);
    const lock = await acquireFileLock(path);
    await lock.release();
  });

  it('waits for the lock when asked, and a wait can be aborted', async () => {
    const path = join(await tempDir(), 'group.lock');
    const first = await acquireFileLock(path);
    let got = false;
    const waiting = acquireFileLock(path, { wait: true }).then((l) => {
      got = true;
      return l;
    });
    await new Promise((r) => setTimeout(r, 200));
    expect(got).toBe(false);
    await first.release();
    const second = await waiting;
    expect(got).toBe(true);
    const abort = new AbortController();
    const third = acquireFileLock(path, { wait: true, signal: abort.signal });
    setTimeout(() => abort.abort(new Error('stopping')), 100);
    await expect(third).rejects.toThrow('stopping');
    await second.release();
    await (await acquireFileLock(path)).release();
  });

  it('probe says nothing about a missing file and does not create it', async () => {
    const path = join(await tempDir(), 'none.lock');
    expect(await probeFileLock(path)).toBeUndefined();
    await expect(readFile(path)).rejects.toThrow();
  });

  it('takes the same kernel lock through flock(2) (node:ffi) as through flock(1)', async () => {
    const path = join(await tempDir(), 'both.lock');
    const viaLibc = await acquireFileLock(path);
    await expect(acquireFileLock(path, { flockCommand: 'flock' })).rejects.toBeInstanceOf(LockBusyError);
    await viaLibc.release();
    const viaBinary = await acquireFileLock(path, { flockCommand: 'flock' });
    await expect(acquireFileLock(path)).rejects.toBeInstanceOf(LockBusyError);
    expect((await probeFileLock(path))?.held).toBe(true);
    await viaBinary.release();
    expect((await probeFileLock(path))?.held).toBe(false);
  });

  it.skipIf(!hasFfi)(
    `needs no flock binary for a lock it does not wait for, where Node has node:ffi${hasFfi ? '' : ` (skipped: ${process.version} has none)`}`,
    async () => {
      const dir = await tempDir();
      const path = process.env.PATH;
      process.env.PATH = '/nonexistent';
      try {
        const lock = await acquireFileLock(join(dir, 'agent.lock'));
        await (await acquireDirectoryLock(dir)).release();
        await expect(acquireFileLock(join(dir, 'agent.lock'))).rejects.toBeInstanceOf(LockBusyError);
        await lock.release();
      } finally {
        process.env.PATH = path;
      }
    },
  );

  it('says how to fix a missing flock binary', async () => {
    const path = join(await tempDir(), 'x.lock');
    await expect(acquireFileLock(path, { flockCommand: '/nonexistent/flock' })).rejects.toThrow(/install util-linux/);
  });

  it('locks a directory without adding a file to it, and finds the holder through /proc', async () => {
    const dir = join(await tempDir(), 'group');
    const first = await acquireDirectoryLock(dir);
    await expect(acquireDirectoryLock(dir)).rejects.toBeInstanceOf(LockBusyError);
    // The holder here is this very process, which findDirectoryHolder skips; a child holds it next.
    await first.release();
    const child = spawn('flock', ['--exclusive', dir, 'sleep', '300'], { stdio: 'ignore', detached: true });
    try {
      let err: unknown;
      for (let i = 0; i < 100 && !(err instanceof LockBusyError); i++) {
        err = await acquireDirectoryLock(dir).then(
          (l) => l.release(),
          (e: unknown) => e,
        );
        if (!(err instanceof LockBusyError)) await new Promise((r) => setTimeout(r, 20));
      }
      expect(err).toBeInstanceOf(LockBusyError);
      // flock(1) or the sleep it forked holds the directory open: both are in the child's group.
      const holder = (err as LockBusyError).holder.pid ?? 0;
      expect(holder).toBeGreaterThan(0);
      expect(readFileSync(`/proc/${holder}/stat`, 'utf8').split(' ')[4]).toBe(String(child.pid));
      expect((await findDirectoryHolder(dir)).pid).toBe(holder);
    } finally {
      process.kill(-(child.pid ?? 0), 'SIGKILL');
    }
    expect(await readdir(dir)).toEqual([]);
  });
});
