/**
 * release: the self-contained executable (scripts/release/build-executables.mjs, a Node single
 * executable application) against the npm build (dist/ on the system node), measured in the same
 * run:
 * - artifact size (and the .deb with BENCH_DEB=1: dpkg-deb's xz takes ~90 s on 150 MB);
 * - wall time of `node -e 0` on each runtime: the floor no start-up can go below;
 * - wall time of `codedeploy-agent --version`;
 * - wall time and peak RSS of a trivial codedeploy-local deployment (one tiny file in a tgz, no
 *   hooks), the executable invoked through a symlink named codedeploy-local as the packages
 *   install it;
 * - daemon RSS after BENCH_IDLE_SECONDS (default 60) of long polling an idle local control plane
 *   (the real one, started as in control-plane-bench.ts) with the shipped :wait_between_runs: 1,
 *   every daemon at once against it.
 * It returns the summary's rows for the executable (start-up, idle RSS) and the npm build's idle RSS.
 * Times are medians of BENCH_RUNS (default 5) runs after one untimed warm-up each (the first run of
 * a 150 MB file pays for the page cache, not for start-up), the flavours alternating in rotated
 * order so drift hits them alike. When the release's Node (.cache/node) is there, the npm build
 * also runs on it: that column separates what the newer runtime costs from what the SEA costs.
 *
 * BENCH_EXE=path reuses an executable instead of building one (~20 s). When none can be built
 * here (no Node runtime in .cache and no registry, another OS), the suite says so and is skipped.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CodeDeployClient, RegisterOnPremisesInstanceCommand } from '@aws-sdk/client-codedeploy';
import { createFleetAgent } from '../scripts/lib/local-fleet.js';
import { agentCli, agentNodeFlags, localCli, repo } from './agent-build.js';
import { startCp } from './control-plane-bench.js';
import { PeakRssRunner, timed, type RunResult } from './measure.js';
import { formatTable, median, OFFICIAL_1_8_1, type Row } from './summary.js';

export { formatTable, median };

const MiB = 1024 * 1024;

/** One way of running the agent: the argv prefixes for codedeploy-agent and codedeploy-local. */
interface Flavour {
  label: string;
  agent: string[];
  local: string[];
  /** The bare runtime it starts on: `node -e 0` with it is the floor of its start-up. */
  node: string;
}

export interface ProcMemory {
  rssKb: number;
  hwmKb: number;
  anonKb: number;
}

/**
 * From a /proc/<pid>/status text, in KiB (NaN when absent): VmRSS, VmHWM (peak), and RssAnon, the
 * private part. The rest of RSS is clean pages of the node binary (text, ICU and snapshot data),
 * shared by every process running that file and dropped first under memory pressure; a bigger
 * Node binary inflates RSS through them without taking memory from anything.
 */
export function parseProcStatus(status: string): ProcMemory {
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rssKb: field('VmRSS'), hwmKb: field('VmHWM'), anonKb: field('RssAnon') };
}

/**
 * The newest Node runtime directory name for arch among .cache/node entries ("26.12.1-x64"), or
 * undefined. Compared numerically: 26.2.0 is older than 26.12.1.
 */
export function newestRuntime(names: readonly string[], arch: string): { name: string; version: string } | undefined {
  let best: { name: string; version: string; parts: number[] } | undefined;
  for (const name of names) {
    const m = /^(\d+)\.(\d+)\.(\d+)-(.+)$/.exec(name);
    if (!m || m[4] !== arch) continue;
    const parts = [Number(m[1]), Number(m[2]), Number(m[3])];
    const first = best ? parts.findIndex((p, i) => p !== best!.parts[i]) : 0;
    if (!best || (first >= 0 && parts[first]! > best.parts[first]!)) best = { name, version: `${m[1]}.${m[2]}.${m[3]}`, parts };
  }
  return best && { name: best.name, version: best.version };
}

const mib = (bytes: number) => `${(bytes / MiB).toFixed(1)} MiB`;

const run = (cmd: string, args: string[]) => timed(cmd, args);

/** The executable to measure: BENCH_EXE, or a fresh build into dir; a reason string when there is none. */
async function executable(dir: string): Promise<{ path: string } | { skip: string }> {
  const given = process.env.BENCH_EXE;
  if (given) return existsSync(given) ? { path: given } : { skip: `BENCH_EXE=${given} does not exist` };
  if (process.platform !== 'linux' || !['x64', 'arm64'].includes(process.arch)) {
    return { skip: `the release builds linux x64/arm64 executables; this is ${process.platform}-${process.arch}` };
  }
  const script = join(repo, 'scripts', 'release', 'build-executables.mjs');
  try {
    const { ms, stdout } = await run(process.execPath, [script, '--out', dir, '--arch', process.arch]);
    const path = stdout.trim().split('\n').pop() ?? '';
    if (!existsSync(path)) return { skip: `${script} printed no executable (output: ${stdout.trim() || 'none'})` };
    console.log(`  built ${path} in ${(ms / 1000).toFixed(0)} s`);
    return { path };
  } catch (error) {
    const tail = String(error instanceof Error ? error.message : error)
      .trim()
      .split('\n')
      .slice(-5)
      .join('\n    ');
    return { skip: `building the executable failed (set BENCH_EXE to reuse one):\n    ${tail}` };
  }
}

/**
 * `runs` results per item, after one untimed warm-up each (the first run of a 150 MB file pays for
 * the page cache, not for start-up), the items in rotated order so drift hits them alike.
 */
export async function alternate<T, R>(items: readonly T[], runs: number, once: (item: T) => Promise<R>): Promise<R[][]> {
  const results = items.map(() => [] as R[]);
  for (const item of items) await once(item);
  for (let i = 0; i < runs; i++) {
    for (let k = 0; k < items.length; k++) {
      const j = (i + k) % items.length;
      results[j]!.push(await once(items[j]!));
    }
  }
  return results;
}

/** How to start codedeploy-local: argv prefix, and whether argv[0] is a node binary (for the peak-RSS preload). */
export interface LocalCommand {
  label: string;
  argv: readonly string[];
  node: boolean;
}

/**
 * A trivial codedeploy-local deployment per call: one tiny file from a tgz, no hooks, a fresh
 * deployment root, timed and with its peak RSS.
 */
export async function trivialDeployment(dir: string, peak: PeakRssRunner): Promise<(c: LocalCommand) => Promise<RunResult>> {
  const src = join(dir, 'bundle-src');
  const dest = join(dir, 'installed');
  await mkdir(src, { recursive: true });
  await writeFile(join(src, 'hello.txt'), 'hello\n');
  await writeFile(join(src, 'appspec.yml'), `version: 0.0\nos: linux\nfiles:\n  - source: hello.txt\n    destination: ${dest}\n`);
  const bundle = join(dir, 'bundle.tgz');
  await run('tar', ['-czf', bundle, '-C', src, '.']);
  const work = join(dir, 'home');
  await mkdir(work, { recursive: true });
  let n = 0;
  return async (c) => {
    // A fresh deployment root and destination each time: no previous revision, nothing to DISALLOW.
    const root = join(dir, `root${n++}`);
    const config = join(dir, 'codedeployagent.yml');
    await rm(dest, { recursive: true, force: true });
    await writeFile(config, `:root_dir: ${root}\n:log_dir: ${join(dir, 'log')}\n:working_directory: ${work}\n`);
    const [cmd, ...pre] = c.argv as [string, ...string[]];
    const r = await peak.run(cmd, [...pre, '-l', bundle, '-t', 'tgz', '-g', 'bench', '-c', config], { node: c.node });
    if (!r.stdout.includes('Local deployment successful') || !existsSync(join(dest, 'hello.txt'))) {
      throw new Error(`${c.label}: codedeploy-local exited 0 but did not install ${join(dest, 'hello.txt')}:\n${r.stdout}`);
    }
    await rm(root, { recursive: true, force: true });
    return r;
  };
}

/** `node -e 0` on a runtime: the start-up floor of anything running on it. */
export const bareNode = (peak: PeakRssRunner) => (node: string) => peak.run(node, ['-e', '0'], { node: true });

/** Every flavour's daemon at once against one idle local control plane; RSS and peak after idleSeconds. */
async function idleRss(dir: string, flavours: Flavour[], idleSeconds: number): Promise<ProcMemory[]> {
  const cp = await startCp(join(dir, 'data'));
  const procs: ReturnType<typeof spawn>[] = [];
  try {
    const deploy = new CodeDeployClient({
      endpoint: cp.url,
      region: 'us-east-1',
      credentials: { accessKeyId: 'AKIDBENCH', secretAccessKey: 'bench' },
    });
    const stderrs: string[] = [];
    for (const [i, f] of flavours.entries()) {
      const host = await createFleetAgent({
        name: `release-${i}`,
        controlPlaneUrl: cp.url,
        caCertificatePath: cp.ca,
        root: join(dir, 'hosts'),
        // The shipped config's pause after an empty or failed poll (conf/codedeployagent.yml).
        waitBetweenRunsSeconds: 1,
      });
      await deploy.send(new RegisterOnPremisesInstanceCommand({ instanceName: host.name, iamUserArn: host.iamUserArn }));
      const [cmd, ...pre] = f.agent as [string, ...string[]];
      // The environment createFleetAgent's own start() gives a daemon.
      const p = spawn(cmd, [...pre, 'start', '--config_file', host.configFile], {
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: host.root },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      stderrs[i] = '';
      p.stderr?.on('data', (d: Buffer) => (stderrs[i] = (stderrs[i] + d.toString()).slice(-4000)));
      procs.push(p);
    }
    await new Promise((r) => setTimeout(r, idleSeconds * 1000));
    return procs.map((p, i) => {
      if (p.exitCode !== null || p.signalCode !== null) {
        throw new Error(`${flavours[i]!.label}: the daemon exited (${p.exitCode ?? p.signalCode}) before ${idleSeconds} s:\n${stderrs[i]}`);
      }
      return parseProcStatus(readFileSync(`/proc/${p.pid}/status`, 'utf8'));
    });
  } finally {
    const running = procs.filter((p) => p.exitCode === null && p.signalCode === null);
    await Promise.all(
      running.map(
        (p) =>
          new Promise((r) => {
            p.once('exit', r);
            p.kill('SIGTERM');
          }),
      ),
    );
    cp.proc.kill('SIGTERM');
    await new Promise((r) => cp.proc.once('exit', r));
  }
}

export async function benchRelease(runs: number, idleSeconds: number, benchDir: string = tmpdir()): Promise<Row[]> {
  const dir = await mkdtemp(join(benchDir, 'cda-release-bench-'));
  try {
    console.log(`release: self-contained executable vs the npm build (linux-${process.arch}, same run)`);
    const exe = await executable(join(dir, 'out'));
    if ('skip' in exe) {
      console.log(`  skipped: ${exe.skip}`);
      return [];
    }
    const peak = await PeakRssRunner.create(dir);
    const links = join(dir, 'bin');
    await mkdir(links);
    await symlink(exe.path, join(links, 'codedeploy-local'));
    // The npm build runs with the V8 flags the executable has in its execArgv (and the
    // install.sh launcher passes), so the columns differ only in runtime and packaging.
    const flags = agentNodeFlags();
    const npmFlavour = (label: string, node: string): Flavour => ({
      label,
      agent: [node, ...flags, agentCli],
      local: [node, ...flags, localCli],
      node,
    });
    const cache = join(repo, '.cache', 'node');
    const newer = existsSync(cache) ? newestRuntime(readdirSync(cache), process.arch) : undefined;
    const newerNode = newer && join(cache, newer.name, 'bin', 'node');
    const haveNewer = newer !== undefined && newerNode !== undefined && existsSync(newerNode);
    // The executable's floor: bare node of the version it embeds (the release's cached runtime).
    const exeNode = haveNewer ? newerNode : process.execPath;
    const exeNodeVersion = haveNewer ? `v${newer.version}` : process.version;
    const flavours: Flavour[] = [
      { label: 'executable', agent: [exe.path], local: [join(links, 'codedeploy-local')], node: exeNode },
      npmFlavour(`npm, node ${process.version}`, process.execPath),
    ];
    if (haveNewer && `v${newer.version}` !== process.version) flavours.push(npmFlavour(`npm, node v${newer.version}`, newerNode));
    const runtimes = [...new Set(flavours.map((f) => f.node))];

    const exeBytes = statSync(exe.path).size;
    const sizes = [
      ['artifact', 'size'],
      [`executable (${exe.path.split('/').pop()})`, mib(exeBytes)],
    ];
    if (haveNewer) {
      const nodeBytes = statSync(newerNode).size;
      sizes.push([`  of which node v${newer.version} binary / the rest`, `${mib(nodeBytes)} / ${mib(exeBytes - nodeBytes)}`]);
    }
    if (process.env.BENCH_DEB === '1') {
      const script = join(repo, 'scripts', 'packaging', 'build-packages.sh');
      const debs = await run(script, ['--exe', exe.path, '--arch', process.arch, '--format', 'deb', '--out', join(dir, 'pkg')]);
      const deb = debs.stdout.trim().split('\n').pop() ?? '';
      sizes.push([`.deb (${deb.split('/').pop()})`, mib(statSync(deb).size)]);
    } else sizes.push(['.deb', 'BENCH_DEB=1 to build (xz of 150 MB: 30-90 s)']);
    for (const line of formatTable(sizes)) console.log(line);

    const floor = await alternate(runtimes, runs, bareNode(peak));
    const version = await alternate(flavours, runs, async (f) => {
      const [cmd, ...pre] = f.agent as [string, ...string[]];
      return (await run(cmd, [...pre, '--version'])).ms;
    });
    const deployOnce = await trivialDeployment(join(dir, 'local'), peak);
    const local = await alternate(flavours, runs, (f) => deployOnce({ label: f.label, argv: f.local, node: f !== flavours[0] }));
    const rss = await idleRss(dir, flavours, idleSeconds);

    const msOf = (rs: RunResult[]) => median(rs.map((r) => r.ms));
    const peakOf = (rs: RunResult[]) => median(rs.map((r) => r.peakMiB));
    const floorMs = (node: string) => msOf(floor[runtimes.indexOf(node)]!);
    const floorPeak = (node: string) => peakOf(floor[runtimes.indexOf(node)]!);
    const fmtMs = (ms: number) => `${ms.toFixed(0)} ms`;
    const ratios = (values: number[]) => values.slice(1).map((v) => ((values[0] as number) / v).toFixed(2));
    const ratioHeads = flavours.slice(1).map((f) => `exe / ${f.label.replace(/^npm, node (v\d+)\..*$/, 'npm $1')}`);
    const blank = flavours.slice(1).map(() => '');
    const table = [
      ['', ...flavours.map((f) => f.label), ...ratioHeads],
      [`node -e 0 on its runtime, the floor (median of ${runs})`, ...flavours.map((f) => fmtMs(floorMs(f.node))), ...blank],
      [`codedeploy-agent --version (median of ${runs})`, ...version.map((xs) => fmtMs(median(xs))), ...ratios(version.map(median))],
      [`codedeploy-local, 1 file tgz (median of ${runs})`, ...local.map((rs) => fmtMs(msOf(rs))), ...ratios(local.map(msOf))],
      ['  its peak RSS', ...local.map((rs) => `${peakOf(rs).toFixed(1)} MiB`), ...ratios(local.map(peakOf))],
      [`daemon RSS after ${idleSeconds} s idle`, ...rss.map((r) => mib(r.rssKb * 1024)), ...ratios(rss.map((r) => r.rssKb))],
      ['  of which private (RssAnon)', ...rss.map((r) => mib(r.anonKb * 1024)), ...ratios(rss.map((r) => r.anonKb))],
      ['  peak RSS (VmHWM)', ...rss.map((r) => mib(r.hwmKb * 1024)), ...ratios(rss.map((r) => r.hwmKb))],
    ];
    console.log('');
    for (const line of formatTable(table)) console.log(line);
    const each = (times: number[][]) => times.map((xs, k) => `${flavours[k]!.label} ${xs.map((t) => t.toFixed(0)).join(', ')}`).join('; ');
    console.log(`  every run (ms): --version: ${each(version)}`);
    console.log(`                  codedeploy-local: ${each(local.map((rs) => rs.map((r) => r.ms)))}`);

    const exeFloor = { label: `node -e 0 (node ${exeNodeVersion})`, floor: true };
    const idleRow = (k: number, what: string): Row => ({
      suite: 'release',
      what,
      unit: 'MiB',
      ours: rss[k]!.rssKb / 1024,
      target: { kind: 'max', value: 40 },
      official: { value: OFFICIAL_1_8_1.idleRssMiB },
      note: `private (RssAnon) ${(rss[k]!.anonKb / 1024).toFixed(1)} MiB, peak (VmHWM) ${(rss[k]!.hwmKb / 1024).toFixed(1)} MiB; against the local control plane, :wait_between_runs: 1`,
    });
    return [
      {
        suite: 'release',
        what: `start-up: node -e 0, node ${exeNodeVersion} (the executable's runtime)`,
        unit: 'ms',
        ours: floorMs(exeNode),
        target: { kind: 'none', text: 'the floor' },
      },
      {
        suite: 'release',
        what: 'start-up: codedeploy-agent --version, executable',
        unit: 'ms',
        ours: median(version[0]!),
        baseline: { ...exeFloor, value: floorMs(exeNode) },
        target: { kind: 'max', value: 60 },
      },
      {
        suite: 'release',
        what: 'start-up: trivial codedeploy-local deployment, executable',
        unit: 'ms',
        ours: msOf(local[0]!),
        baseline: { ...exeFloor, value: floorMs(exeNode) },
        target: { kind: 'max', value: 250 },
        official: { value: OFFICIAL_1_8_1.tinyDeploymentMs },
      },
      {
        suite: 'release',
        what: '  peak memory, trivial deployment, executable',
        unit: 'MiB',
        ours: peakOf(local[0]!),
        baseline: { label: exeFloor.label, value: floorPeak(exeNode) },
        target: { kind: 'max', value: OFFICIAL_1_8_1.peakTinyMiB },
        official: { value: OFFICIAL_1_8_1.peakTinyMiB },
      },
      idleRow(0, `daemon idle RSS after ${idleSeconds} s, executable`),
      idleRow(1, `daemon idle RSS after ${idleSeconds} s, npm build (node ${process.version})`),
    ];
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
