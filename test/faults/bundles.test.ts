/**
 * Issue 9, items 1 and 6: real-world bundle shapes, deployed by the daemon (through the control
 * plane's S3, via the proxy) and by codedeploy-local: zips with 8 MiB incompressible entries
 * stored and deflated (a compressed size over 1 MiB used to crash the daemon), zip64 as
 * `zip -fz` writes it, tars of large entries, and 100k-entry zips and tars. Every file must
 * arrive intact, the daemon must still be alive afterwards (and survive a redeploy), and memory
 * must stay bounded (the target: under 150 MB RSS even for a million entries).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect } from 'vitest';
import { buildBigTar, buildManyEntries, buildMixedZip, buildZip64, digestTree, manyEntry, type BuiltBundle } from './harness/bundles.js';
import { checkCompletions } from './harness/completions.js';
import { startFaultEnv } from './harness/fault-env.js';
import { localHost, peakRssKiB, runLocal } from './harness/local-runner.js';
import { scenario, type Scenario } from './harness/scenario.js';
import { walkTree } from '../helpers/file-tree.js';

const MAX_RSS_MIB = 150;
const MANY = 100_000;

interface Shape {
  name: string;
  build: (dir: string, destination: string) => Promise<BuiltBundle> | BuiltBundle;
  /** Deploy twice (the crash of item 1 hit redeploys of the same bundle). */
  redeploy?: boolean;
}

const DAEMON_SHAPES: Shape[] = [
  { name: 'zip, 8 MiB incompressible entries stored + deflated', build: (d, dest) => buildMixedZip(d, dest), redeploy: true },
  { name: 'zip64 (zip -fz), 8 MiB incompressible entries', build: (d, dest) => buildZip64(d, dest) },
  { name: 'tar, 8 MiB incompressible entries', build: (d, dest) => buildBigTar(d, dest, false) },
  { name: 'zip, 100k entries (zip64 end records)', build: (d, dest) => buildManyEntries(d, dest, 'zip', MANY) },
];

const LOCAL_SHAPES: Shape[] = [
  { name: 'zip, 8 MiB incompressible entries stored + deflated', build: (d, dest) => buildMixedZip(d, dest) },
  { name: 'zip64 (zip -fz), 8 MiB incompressible entries', build: (d, dest) => buildZip64(d, dest) },
  { name: 'tgz, 8 MiB incompressible entries', build: (d, dest) => buildBigTar(d, dest, true) },
  { name: 'tar, 100k entries', build: (d, dest) => buildManyEntries(d, dest, 'tar', MANY) },
];

/** Every file of the bundle arrived with its content (big files by digest; many-entry bundles by count and samples). */
async function expectInstalled(s: Scenario, bundle: BuiltBundle, dest: string): Promise<void> {
  s.step('checking the installed files');
  if (bundle.files.length > 0) {
    const got = await digestTree(dest);
    expect(got.size, 'file count at the destination').toBe(bundle.files.length);
    for (const f of bundle.files) expect(got.get(f.path), f.path).toEqual({ bytes: f.bytes, sha256: f.sha256 });
    return;
  }
  const all = (await walkTree(dest)).filter((e) => e.dirent.isFile());
  expect(all.length, 'file count at the destination').toBe(bundle.entryCount);
  for (const i of [0, 1, 4242, 65_535, 65_536, bundle.entryCount - 1]) {
    const e = manyEntry(i);
    expect(await readFile(join(dest, e.path), 'utf8'), e.path).toBe(e.data);
  }
}

async function deployByDaemon(s: Scenario, shape: Shape): Promise<void> {
  const env = await startFaultEnv(s);
  const dest = join(s.dir, 'dest');
  s.step('building the bundle');
  const bundle = await shape.build(s.dir, dest);
  const key = `bundle.${bundle.type}`;
  const { eTag } = await env.api.upload(key, bundle.file);
  const firstPid = env.agent.pid;
  for (let round = 1; round <= (shape.redeploy ? 2 : 1); round++) {
    s.step(`deployment ${round}`);
    const deploymentId = await env.api.createDeployment(key, bundle.type, eTag);
    const info = await env.waitForEnd(deploymentId, 180_000);
    expect(info.status, await env.explain(deploymentId)).toBe('Succeeded');
    expect(env.agent.running, `the daemon is alive after deployment ${round}\n${await env.agent.describe()}`).toBe(true);
    expect(env.agent.pid).toBe(firstPid);
    await expectInstalled(s, bundle, dest);
  }
  expect(checkCompletions(env.proxy.records()).problems).toEqual([]);
  expect(env.agent.output(), 'no EBADF or uncaught error on stderr').not.toMatch(/EBADF|Uncaught|uncaught/);
  const rss = Math.round((await peakRssKiB(env.agent.pid)) / 1024);
  s.note(`daemon peak RSS ${rss} MiB`);
  expect(rss, 'daemon peak RSS (MiB)').toBeLessThan(MAX_RSS_MIB);
}

async function deployByLocal(s: Scenario, shape: Shape): Promise<void> {
  const host = await localHost(join(s.dir, 'host'));
  const dest = join(s.dir, 'dest');
  s.step('building the bundle');
  const bundle = await shape.build(s.dir, dest);
  s.step('running codedeploy-local');
  const run = runLocal(host, ['-l', bundle.file, '-t', bundle.type, '-g', 'bundle-shapes'], 200_000);
  s.defer(() => run.kill());
  const r = await run.done;
  const rss = Math.round(r.peakRssKiB / 1024);
  s.note(`peak RSS ${rss} MiB`);
  expect(r.code, `exit ${r.code ?? r.signal}\n${r.stdout.slice(-2000)}${r.stderr.slice(-2000)}`).toBe(0);
  expect(r.stderr).not.toMatch(/EBADF|Uncaught|uncaught/);
  await expectInstalled(s, bundle, dest);
  expect(rss, 'codedeploy-local peak RSS (MiB)').toBeLessThan(MAX_RSS_MIB);
}

// One concurrent block, the longest (100k entries) first, so they overlap with the rest.
describe('bundle shapes, by the daemon through the control plane and by codedeploy-local', () => {
  const all = [
    ...DAEMON_SHAPES.map((shape) => ({
      label: `daemon: ${shape.name}`,
      run: (s: Scenario) => deployByDaemon(s, shape),
      long: shape.name.includes('100k'),
    })),
    ...LOCAL_SHAPES.map((shape) => ({
      label: `local: ${shape.name}`,
      run: (s: Scenario) => deployByLocal(s, shape),
      long: shape.name.includes('100k'),
    })),
  ];
  for (const c of [...all.filter((x) => x.long), ...all.filter((x) => !x.long)]) {
    scenario(c.label, { timeoutSeconds: 240, concurrent: true }, (s) => c.run(s));
  }
});
