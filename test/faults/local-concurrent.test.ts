/**
 * Issue 9, item 4: two `codedeploy-local` runs into one deployment group at the same moment, with
 * different revisions installing thousands of files into one destination. One must wait for the
 * other or be refused with a clear message; the group's cleanup list must never be written by
 * both (no NUL bytes, nothing missing): it lists exactly what the last successful run installed,
 * so a third deployment removes all of it and leaves only its own files.
 */
import { chmod, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { describe, expect } from 'vitest';
import { localHost, runLocal, type LocalRun } from './harness/local-runner.js';
import { scenario } from './harness/scenario.js';

const GROUP = 'concurrent-group';
const FILES = 3000;

async function revision(dir: string, tag: string, destination: string): Promise<{ dir: string; paths: Set<string> }> {
  const src = join(dir, `rev-${tag}`);
  await mkdir(join(src, 'scripts'), { recursive: true });
  await writeFile(
    join(src, 'appspec.yml'),
    [
      'version: 0.0',
      'os: linux',
      'files:',
      '  - source: app',
      `    destination: ${destination}`,
      'file_exists_behavior: OVERWRITE',
      'hooks:',
      '  BeforeInstall:',
      '    - location: scripts/wait.sh',
      '',
    ].join('\n'),
  );
  await writeFile(join(src, 'scripts', 'wait.sh'), '#!/bin/sh\nsleep 1\n');
  await chmod(join(src, 'scripts', 'wait.sh'), 0o755);
  const paths = new Set<string>([tag]);
  for (let d = 0; d < 30; d++) {
    await mkdir(join(src, 'app', tag, `d${d}`), { recursive: true });
    paths.add(`${tag}/d${d}`);
  }
  for (let i = 0; i < FILES; i++) {
    const rel = `${tag}/d${i % 30}/f${i}.txt`;
    await writeFile(join(src, 'app', rel), `${tag} ${i}\n`);
    paths.add(rel);
  }
  return { dir: src, paths };
}

async function tree(root: string): Promise<Set<string>> {
  return new Set((await readdir(root, { recursive: true })).map((p) => p.toString()));
}

async function cleanupList(rootDir: string): Promise<string> {
  return readFile(join(rootDir, 'deployment-instructions', `${GROUP}-cleanup`), 'utf8');
}

/**
 * The paths a cleanup list names, relative to the destination. The agent also lists each copy's
 * temp name (.cda-<run>-<n>.tmp) before it exists, so that a crash leaves nothing untracked;
 * those never stay on disk and are left out here.
 */
function listedPaths(list: string, dest: string): Set<string> {
  return new Set(
    list
      .split('\n')
      .filter((p) => p !== '' && !/(^|\/)\.cda-[^/]*\.tmp$/.test(p))
      .map((p) => relative(dest, p)),
  );
}

const describeRun = (name: string, r: LocalRun) => `${name}: exit ${r.code ?? r.signal}\n${r.stdout.slice(-1500)}${r.stderr.slice(-1500)}`;

describe('two codedeploy-local runs into one deployment group', () => {
  scenario('two codedeploy-local runs at once, then a third', { timeoutSeconds: 150 }, async (s) => {
    const host = await localHost(join(s.dir, 'host'));
    const dest = join(s.dir, 'dest');
    await mkdir(dest, { recursive: true });
    const a = await revision(s.dir, 'a', dest);
    const b = await revision(s.dir, 'b', dest);
    const c = await revision(s.dir, 'c', dest);
    const args = (rev: string) => ['-l', rev, '-t', 'directory', '-g', GROUP];

    s.step('running A and B at the same time');
    const runA = runLocal(host, args(a.dir), 100_000);
    const runB = runLocal(host, args(b.dir), 100_000);
    s.defer(() => runA.kill());
    s.defer(() => runB.kill());
    const [ra, rb] = await Promise.all([runA.done, runB.done]);
    const both = `${describeRun('A', ra)}\n${describeRun('B', rb)}`;
    const ok = [
      { name: 'A', run: ra, rev: a },
      { name: 'B', run: rb, rev: b },
    ].filter((x) => x.run.code === 0);
    expect(ok.length, `at least one run succeeds\n${both}`).toBeGreaterThan(0);
    for (const x of [
      { run: ra, name: 'A' },
      { run: rb, name: 'B' },
    ]) {
      if (x.run.code !== 0) {
        expect(x.run.code, both).toBe(1);
        expect(`${x.run.stdout}${x.run.stderr}`, `run ${x.name} was refused with a clear message\n${both}`).toMatch(
          /another|already|in progress|lock|busy/i,
        );
      }
    }
    // With both successful (one waited), the one that finished last installed last.
    const last = ok.sort((x, y) => x.run.endedAt - y.run.endedAt)[ok.length - 1]!;

    const list = await cleanupList(host.rootDir);
    expect(list.includes('\0'), 'the cleanup list has no NUL bytes').toBe(false);
    const listed = listedPaths(list, dest);
    expect([...(await tree(dest))].sort(), `the destination holds exactly run ${last.name}'s files`).toEqual([...last.rev.paths].sort());
    expect([...listed].sort(), `the cleanup list lists exactly what run ${last.name} installed`).toEqual([...last.rev.paths].sort());

    s.step('running C alone');
    const rc = await runLocal(host, args(c.dir), 100_000).done;
    expect(rc.code, describeRun('C', rc)).toBe(0);
    expect([...(await tree(dest))].sort(), 'after C, nothing of A or B is left').toEqual([...c.paths].sort());
    const after = await cleanupList(host.rootDir);
    expect(after.includes('\0')).toBe(false);
    expect(listedPaths(after, dest)).toEqual(c.paths);
  });
});
