/**
 * One writer per deployment group across processes (docs/design.md section 8): two codedeploy-local
 * processes into one group at once, and codedeploy-local beside a daemon command in that group.
 */
import { existsSync } from 'node:fs';
import { cp, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { localHost, FIXTURES } from '../helpers/local-deploy.js';
import { runNode, type ProgramRun } from '../helpers/run-node.js';
import { acquireDirectoryLock } from '../../common/file-lock.js';

const LOCAL_CLI = join(import.meta.dirname, '..', '..', 'dist', 'agent', 'cli', 'codedeploy-local.js');
const GROUP = 'dg-shared';

function runLocal(args: string[], env: Record<string, string>): Promise<ProgramRun> {
  return runNode(LOCAL_CLI, args, { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env } });
}

/** A revision with `count` files and a BeforeInstall hook that sleeps, so two runs overlap. */
async function bundle(dir: string, count: number): Promise<string> {
  await cp(join(FIXTURES, 'sample-app'), dir, { recursive: true });
  await mkdir(join(dir, 'many'), { recursive: true });
  for (let i = 0; i < count; i++) await writeFile(join(dir, 'many', `f${i}.txt`), `${i}\n`);
  await writeFile(join(dir, 'scripts', 'slow.sh'), '#!/bin/sh\nsleep 2\n', { mode: 0o755 });
  await writeFile(
    join(dir, 'appspec.yml'),
    [
      'version: 0.0',
      'os: linux',
      'files:',
      '  - source: many',
      `    destination: ${join(dir, '..', 'dest')}`,
      'file_exists_behavior: OVERWRITE',
      'hooks:',
      '  BeforeInstall:',
      '    - location: scripts/slow.sh',
      '',
    ].join('\n'),
  );
  return dir;
}

describe.skipIf(!existsSync(LOCAL_CLI))('deployment group lock', () => {
  it('two codedeploy-local runs into one group: one deploys, the other is refused at once, the cleanup list stays whole', async () => {
    const h = await localHost();
    const src = await bundle(join(h.root, 'rev'), 500);
    const args = ['-l', src, '-t', 'directory', '-g', GROUP, '-c', h.configFile];
    const [a, b] = await Promise.all([runLocal(args, {}), new Promise((r) => setTimeout(r, 300)).then(() => runLocal(args, {}))]);
    const results = [a, b].sort((x, y) => (x.code ?? 9) - (y.code ?? 9));
    expect(results.map((r) => r.code)).toEqual([0, 1]);
    expect(results[1]?.stdout).toMatch(
      new RegExp(`ERROR: deployment group ${GROUP} is busy: codedeploy-local \\(pid \\d+\\) is deploying into it`),
    );
    const cleanup = await readFile(join(h.rootDir, 'deployment-instructions', `${GROUP}-cleanup`), 'utf8');
    expect(cleanup.includes('\0')).toBe(false);
    const listed = cleanup.split('\n').filter((l) => l.includes('/dest/f'));
    expect(listed).toHaveLength(500);
    // Once the first is done, the group is free again.
    const again = await runLocal(args, {});
    expect(again.code).toBe(0);
  }, 60_000);

  it('codedeploy-local names the holder of a busy group, whoever it is', async () => {
    const h = await localHost();
    const src = await bundle(join(h.root, 'rev'), 3);
    const lock = await acquireDirectoryLock(join(h.rootDir, GROUP));
    try {
      const r = await runLocal(['-l', src, '-t', 'directory', '-g', GROUP, '-c', h.configFile], {});
      expect(r.code).toBe(1);
      expect(r.stdout).toContain(
        `ERROR: deployment group ${GROUP} is busy: process (pid ${process.pid}) is deploying into it. Wait for it to finish, or deploy into another group with -g.`,
      );
      expect(existsSync(join(h.rootDir, 'deployment-instructions', `${GROUP}-cleanup`))).toBe(false);
      expect((await readdir(join(h.rootDir, GROUP))).length).toBe(0);
    } finally {
      await lock.release();
    }
  }, 30_000);
});
