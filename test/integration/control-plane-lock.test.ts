/**
 * One control plane per data dir, as real processes (issue 9, item 9): the lock is flock(2), so a
 * second start on the same dir exits non-zero at once naming the holder's pid, a SIGKILLed holder
 * leaves nothing that blocks the next start, and neither does a stale pid file whose pid now
 * belongs to a live, unrelated process (pid reuse).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../../scripts/lib/local-fleet.js';
import { tempDir } from '../helpers/temp.js';

const CLI = join(projectRoot(), 'dist', 'control-plane', 'cli', 'codedeploy-control-plane.js');

interface Running {
  child: ChildProcess;
  url: string;
  exited: Promise<number | null>;
}

function start(dataDir: string): Promise<Running> {
  const child = spawn(process.execPath, [CLI, '--data-dir', dataDir, '--port', '0', '--log-level', 'warn'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let err = '';
  return new Promise((resolve, reject) => {
    child.stderr?.on('data', (d: Buffer) => {
      err += d.toString();
      const m = /listening on (http:\/\/\S+)/.exec(err);
      if (m?.[1]) resolve({ child, url: m[1], exited });
    });
    void exited.then((code) => reject(new Error(`exited ${code}: ${err}`)));
  });
}

describe.skipIf(!existsSync(CLI))('codedeploy-control-plane data-dir lock', () => {
  it('refuses a second process at once naming the first, and starts again after the first is SIGKILLed', async () => {
    const dataDir = join(await tempDir('cda-cp-lock-'), 'data');
    await mkdir(dataDir, { recursive: true });
    // A stale pid file naming a live, unrelated process (this test runner) must not block a start.
    await writeFile(join(dataDir, 'control-plane.pid'), `${process.pid}\n`);
    const first = await start(dataDir);
    const firstPid = first.child.pid ?? 0;
    try {
      const started = performance.now();
      const second = spawnSync(process.execPath, [CLI, '--data-dir', dataDir, '--port', '0'], { encoding: 'utf8', timeout: 20_000 });
      const ms = performance.now() - started;
      expect(second.status).toBe(1);
      expect(second.stderr).toBe(
        `codedeploy-control-plane: cannot start: the data dir ${dataDir} is in use by another control plane (pid ${firstPid}); stop it or use another --data-dir\n`,
      );
      // "At once": the time to start node and load the modules, not a wait for the lock.
      expect(ms).toBeLessThan(10_000);
      expect((await fetch(`${first.url}/_health`)).status).toBe(200);
    } finally {
      first.child.kill('SIGKILL');
      await first.exited;
    }
    // The kernel dropped the lock with the process; the file it left names a dead pid.
    const third = await start(dataDir);
    try {
      expect((await fetch(`${third.url}/_health`)).status).toBe(200);
    } finally {
      third.child.kill('SIGTERM');
      expect(await third.exited).toBe(0);
    }
  });
});
