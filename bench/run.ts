/**
 * npm run bench: performance claims as ratios against a baseline measured in the same run.
 *
 * install-10k: install a generated tgz bundle of 10,000 small files with codedeploy-local
 * (DownloadBundle + Install, no hook scripts) versus the baseline `tar -xzf` + `cp -a` of the same
 * bundle. Each side runs RUNS times; the medians are compared. Target: ratio <= 1.5.
 * many-entries: peak RSS and time of codedeploy-local on tars of 100,000 and 1,000,000 empty files,
 * and the ratio of the times (bench/many-entries-bench.ts). Targets: < 150 MiB, ratio near 10.
 * Then the daemon: idle RSS and poll-to-ack latency (bench/daemon-bench.ts), and the local control
 * plane under a fleet of real agents (bench/control-plane-bench.ts).
 * release: the self-contained executable against the npm build: size, `--version` and a trivial
 * codedeploy-local deployment (times and ratios), daemon idle RSS (bench/release-bench.ts).
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { hideSdkNodeVersionWarning } from '../scripts/lib/sdk-warning.js';
import { benchControlPlane } from './control-plane-bench.js';
import { benchDaemon } from './daemon-bench.js';
import { benchManyEntries, manyEntriesDir } from './many-entries-bench.js';
import { benchRelease } from './release-bench.js';

const execFileAsync = promisify(execFile);
const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const localCli = join(repo, 'dist', 'agent', 'cli', 'codedeploy-local.js');
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
/**
 * Where the files go: tmpfs (/dev/shm) when present, because the disks of shared CI machines are
 * noisy enough (the same `tar -xzf` seen at 0.3 s and 6.9 s) to drown the ratio; BENCH_DIR overrides.
 */
const BENCH_DIR = process.env.BENCH_DIR ?? (existsSync('/dev/shm') ? '/dev/shm' : tmpdir());
const FILES = Number(process.env.BENCH_FILES ?? 10_000);

function timeCommand(cmd: string, args: string[]): Promise<number> {
  return new Promise((resolveRun, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      if (code === 0) resolveRun(ms);
      else reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${stderr}`));
    });
  });
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
};

async function generateBundle(dir: string): Promise<string> {
  const src = join(dir, 'src');
  const perDir = 100;
  for (let d = 0; d < Math.ceil(FILES / perDir); d++) {
    const sub = join(src, 'app', `dir${String(d).padStart(3, '0')}`);
    await mkdir(sub, { recursive: true });
    const writes: Promise<void>[] = [];
    for (let f = 0; f < perDir && d * perDir + f < FILES; f++) {
      writes.push(writeFile(join(sub, `file${f}.txt`), `file ${d}/${f}\n${'x'.repeat(64 + ((d * 7 + f * 13) % 512))}\n`));
    }
    await Promise.all(writes);
  }
  const dest = join(dir, 'installed');
  await writeFile(join(src, 'appspec.yml'), `version: 0.0\nos: linux\nfiles:\n  - source: app\n    destination: ${dest}\n`);
  const bundle = join(dir, 'bundle.tgz');
  await execFileAsync('tar', ['-czf', bundle, '-C', src, '.']);
  return bundle;
}

async function benchInstall(): Promise<void> {
  const dir = await mkdtemp(join(BENCH_DIR, 'cda-bench-'));
  try {
    const bundle = await generateBundle(dir);
    const dest = join(dir, 'installed');
    const config = join(dir, 'codedeployagent.yml');
    const work = join(dir, 'home');
    await mkdir(work);
    const baseline: number[] = [];
    const ours: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      // Baseline: what a shell script would do.
      await rm(dest, { recursive: true, force: true });
      const x = join(dir, 'x');
      await rm(x, { recursive: true, force: true });
      baseline.push(await timeCommand('bash', ['-c', `mkdir -p "${x}" && tar -xzf "${bundle}" -C "${x}" && cp -a "${x}/app" "${dest}"`]));
      // Ours: a fresh deployment root each run so DISALLOW never trips.
      await rm(dest, { recursive: true, force: true });
      const root = join(dir, `root${i}`);
      await writeFile(config, `:root_dir: ${root}\n:log_dir: ${join(dir, 'log')}\n:working_directory: ${work}\n`);
      ours.push(await timeCommand(process.execPath, [localCli, '-l', bundle, '-t', 'tgz', '-g', 'bench', '-c', config]));
      await rm(root, { recursive: true, force: true });
    }
    const b = median(baseline);
    const o = median(ours);
    console.log(`install-${FILES} (tgz, ${RUNS} runs, medians, in ${BENCH_DIR})`);
    console.log(`  baseline tar -xzf + cp -a : ${b.toFixed(0)} ms   (runs: ${baseline.map((t) => t.toFixed(0)).join(', ')})`);
    console.log(`  codedeploy-local          : ${o.toFixed(0)} ms   (runs: ${ours.map((t) => t.toFixed(0)).join(', ')})`);
    console.log(`  ratio ours/baseline       : ${(o / b).toFixed(2)}   (target <= 1.5)`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

hideSdkNodeVersionWarning();
// BENCH_SUITES=install,many-entries,daemon,control-plane,release (default: all) picks what runs.
const suites = new Set((process.env.BENCH_SUITES ?? 'install,many-entries,daemon,control-plane,release').split(',').map((s) => s.trim()));
if (suites.has('install')) {
  await benchInstall();
  console.log('');
}
if (suites.has('many-entries')) {
  const sizes = (process.env.BENCH_MANY_ENTRIES ?? '100000,1000000').split(',').map(Number);
  await benchManyEntries(manyEntriesDir(BENCH_DIR, sizes), process.env.BENCH_LOCAL_CLI ?? localCli, sizes);
  console.log('');
}
if (suites.has('daemon')) await benchDaemon(Number(process.env.BENCH_IDLE_SECONDS ?? 60), Number(process.env.BENCH_COMMANDS ?? 200));
if (suites.has('control-plane')) await benchControlPlane(Number(process.env.BENCH_FLEET_HOSTS ?? 50));
if (suites.has('release')) {
  if (suites.size > 1) console.log('');
  await benchRelease(RUNS, Number(process.env.BENCH_IDLE_SECONDS ?? 60));
}
