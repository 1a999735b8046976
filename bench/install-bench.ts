/**
 * install and large: a tgz bundle installed by codedeploy-local (DownloadBundle + Install, no hook
 * scripts, a fresh deployment root each run) against what a shell script would do with the same
 * bundle, `tar -xzf` then `cp -a` to the destination. Each run of either side goes through the
 * same peak-RSS wrapper (bench/measure.ts); the two sides alternate, and which goes first swaps
 * every run, so drift of a shared machine hits both alike. Rows: wall time (median) as a ratio to
 * the baseline, and peak memory (median) of ours, with the baseline's largest process for context.
 *
 * The small-file bundle: BENCH_FILES files of 70-600 bytes, 100 per directory. The large bundle:
 * one file of random bytes (BENCH_LARGE_MB MiB), gzipped at level 0 (stored blocks: what deflate
 * at any level makes of incompressible data, without spending a minute compressing it).
 */
import { spawn } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { createWriteStream, existsSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { PeakRssRunner, timed, type RunResult } from './measure.js';
import { median, OFFICIAL_1_8_1, type Official, type Row } from './summary.js';
import { smallFilesTarget } from './options.js';

export interface InstallBenchOptions {
  benchDir: string;
  runs: number;
  /** dist/agent/cli/codedeploy-local.js to measure. */
  localCli: string;
  /** Node flags before the script: the agent's V8 flags, as the shipped forms run it. */
  nodeFlags: readonly string[];
}

const fmt = (n: number) => n.toLocaleString('en-US');

/** src/app holds the files, src/appspec.yml installs `app` to dest. */
async function writeAppspec(src: string, dest: string): Promise<void> {
  await writeFile(join(src, 'appspec.yml'), `version: 0.0\nos: linux\nfiles:\n  - source: app\n    destination: ${dest}\n`);
}

/** `files` small files in directories of 100, plus the appspec, as dir/bundle.tgz. */
export async function generateSmallFilesBundle(dir: string, files: number, dest: string): Promise<string> {
  const src = join(dir, 'src');
  const perDir = 100;
  for (let d = 0; d < Math.ceil(files / perDir); d++) {
    const sub = join(src, 'app', `dir${String(d).padStart(3, '0')}`);
    await mkdir(sub, { recursive: true });
    const writes: Promise<void>[] = [];
    for (let f = 0; f < perDir && d * perDir + f < files; f++) {
      writes.push(writeFile(join(sub, `file${f}.txt`), `file ${d}/${f}\n${'x'.repeat(64 + ((d * 7 + f * 13) % 512))}\n`));
    }
    await Promise.all(writes);
  }
  await writeAppspec(src, dest);
  const bundle = join(dir, 'bundle.tgz');
  await timed('tar', ['-czf', bundle, '-C', src, '.']);
  await rm(src, { recursive: true, force: true });
  return bundle;
}

/** One file of `mib` MiB of random bytes, tarred and gzipped at level 0, as dir/bundle.tgz. */
export async function generateLargeFileBundle(dir: string, mib: number, dest: string): Promise<string> {
  const src = join(dir, 'src');
  await mkdir(join(src, 'app'), { recursive: true });
  const out = createWriteStream(join(src, 'app', 'big.bin'));
  const chunk = Buffer.alloc(4 * 1024 * 1024);
  let left = mib * 1024 * 1024;
  while (left > 0) {
    const piece = chunk.subarray(0, Math.min(left, chunk.length));
    randomFillSync(piece);
    left -= piece.length;
    if (!out.write(Buffer.from(piece))) await new Promise<void>((r) => out.once('drain', () => r()));
  }
  await new Promise<void>((r, reject) => out.end((err?: Error | null) => (err ? reject(err) : r())));
  await writeAppspec(src, dest);
  const bundle = join(dir, 'bundle.tgz');
  const tar = spawn('tar', ['-cf', '-', '-C', src, '.'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<number | null>((r) => tar.once('close', r));
  await pipeline(tar.stdout, createGzip({ level: 0 }), createWriteStream(bundle));
  const code = await exited;
  if (code !== 0) throw new Error(`tar -cf of ${src} exited ${code}`);
  await rm(src, { recursive: true, force: true });
  return bundle;
}

interface Compared {
  baseline: RunResult[];
  ours: RunResult[];
}

/** RUNS runs of each side, alternating, which side goes first swapping every run. */
async function compare(
  dir: string,
  bundle: string,
  dest: string,
  o: InstallBenchOptions,
  peak: PeakRssRunner,
  check: () => void,
): Promise<Compared> {
  const work = join(dir, 'home');
  await mkdir(work, { recursive: true });
  const config = join(dir, 'codedeployagent.yml');
  const x = join(dir, 'x');
  const result: Compared = { baseline: [], ours: [] };
  const baseline = async () => {
    await rm(dest, { recursive: true, force: true });
    await rm(x, { recursive: true, force: true });
    result.baseline.push(
      await peak.run('bash', ['-c', 'mkdir -p "$1" && tar -xzf "$2" -C "$1" && cp -a "$1/app" "$3"', 'baseline', x, bundle, dest]),
    );
    await rm(x, { recursive: true, force: true });
  };
  let n = 0;
  const ours = async () => {
    // A fresh deployment root each run: no previous revision, nothing to DISALLOW.
    await rm(dest, { recursive: true, force: true });
    const root = join(dir, `root${n++}`);
    await writeFile(config, `:root_dir: ${root}\n:log_dir: ${join(dir, 'log')}\n:working_directory: ${work}\n`);
    const r = await peak.run(process.execPath, [...o.nodeFlags, o.localCli, '-l', bundle, '-t', 'tgz', '-g', 'bench', '-c', config], {
      node: true,
    });
    if (!r.stdout.includes('Local deployment successful'))
      throw new Error(`codedeploy-local exited 0 without "Local deployment successful":\n${r.stdout}`);
    check();
    result.ours.push(r);
    await rm(root, { recursive: true, force: true });
  };
  for (let i = 0; i < o.runs; i++) {
    if (i % 2 === 0) {
      await baseline();
      await ours();
    } else {
      await ours();
      await baseline();
    }
  }
  await rm(dest, { recursive: true, force: true });
  return result;
}

function report(title: string, c: Compared, target: number): void {
  const med = (rs: RunResult[], k: 'ms' | 'peakMiB') => median(rs.map((r) => r[k]));
  const line = (label: string, rs: RunResult[]) => {
    const peakMiB = med(rs, 'peakMiB');
    const peakText = Number.isFinite(peakMiB) ? `peak ${peakMiB.toFixed(1)} MiB` : 'peak n/a';
    return `  ${label.padEnd(26)}: ${med(rs, 'ms').toFixed(0).padStart(6)} ms, ${peakText}   (runs: ${rs.map((r) => r.ms.toFixed(0)).join(', ')} ms)`;
  };
  console.log(title);
  console.log(line('baseline tar -xzf + cp -a', c.baseline));
  console.log(line('codedeploy-local', c.ours));
  const ratio = med(c.ours, 'ms') / med(c.baseline, 'ms');
  console.log(`  ratio ours/baseline       : ${ratio.toFixed(2)}   (target <= ${target}x: ${ratio <= target ? 'met' : 'NOT MET'})`);
}

function rows(
  what: string,
  memWhat: string,
  c: Compared,
  target: number,
  official: Official | undefined,
  officialPeak: number | undefined,
  note?: string,
): Row[] {
  const ms = (rs: RunResult[]) => median(rs.map((r) => r.ms));
  const peakMiB = (rs: RunResult[]) => median(rs.map((r) => r.peakMiB));
  const basePeak = peakMiB(c.baseline);
  return [
    {
      suite: '',
      what,
      unit: 'ms',
      ours: ms(c.ours),
      baseline: { label: 'tar -xzf + cp -a', value: ms(c.baseline) },
      target: { kind: 'ratio', max: target },
      official,
      note,
    },
    {
      suite: '',
      what: memWhat,
      unit: 'MiB',
      ours: peakMiB(c.ours),
      baseline: Number.isFinite(basePeak) ? { label: 'largest of tar, gzip, cp', value: basePeak } : undefined,
      target: officialPeak === undefined ? { kind: 'none', text: 'report' } : { kind: 'max', value: officialPeak },
      official: officialPeak === undefined ? undefined : { value: officialPeak },
    },
  ];
}

/** The install suite: one pair of rows per count of small files. */
export async function benchSmallFiles(o: InstallBenchOptions, counts: readonly number[]): Promise<Row[]> {
  const out: Row[] = [];
  for (const files of counts) {
    const dir = await mkdtemp(join(o.benchDir, 'cda-bench-install-'));
    try {
      const peak = await PeakRssRunner.create(dir);
      const dest = join(dir, 'installed');
      const bundle = await generateSmallFilesBundle(dir, files, dest);
      const lastFile = join(dest, `dir${String(Math.ceil(files / 100) - 1).padStart(3, '0')}`, `file${(files - 1) % 100}.txt`);
      const c = await compare(dir, bundle, dest, o, peak, () => {
        if (!existsSync(lastFile)) throw new Error(`codedeploy-local reported success but ${lastFile} is missing`);
      });
      const target = smallFilesTarget(files);
      const tgzKiB = statSync(bundle).size / 1024;
      report(
        `install, ${fmt(files)} small files (tgz ${tgzKiB.toFixed(0)} KiB; ${o.runs} runs, medians, in ${dir}; ${peak.describe()})`,
        c,
        target,
      );
      console.log('');
      const official =
        files === 10_000 ? OFFICIAL_1_8_1.install10kPerBaseline : files === 50_000 ? OFFICIAL_1_8_1.install50kPerBaseline : undefined;
      const officialPeak = files === 10_000 ? OFFICIAL_1_8_1.peak10kMiB : files === 50_000 ? OFFICIAL_1_8_1.peak50kMiB : undefined;
      out.push(
        ...rows(
          `install, ${fmt(files)} small files (tgz)`,
          `  peak memory, ${fmt(files)} small files`,
          c,
          target,
          official === undefined ? undefined : { value: official, perBaseline: true },
          officialPeak,
        ),
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  return out.map((r) => ({ ...r, suite: 'install' }));
}

/** The large suite: one file of `mib` MiB. */
export async function benchLargeFile(o: InstallBenchOptions, mib: number): Promise<Row[]> {
  const dir = await mkdtemp(join(o.benchDir, 'cda-bench-large-'));
  try {
    const peak = await PeakRssRunner.create(dir);
    const dest = join(dir, 'installed');
    const started = Date.now();
    const bundle = await generateLargeFileBundle(dir, mib, dest);
    const generatedS = (Date.now() - started) / 1000;
    const installed = join(dest, 'big.bin');
    const c = await compare(dir, bundle, dest, o, peak, () => {
      const size = existsSync(installed) ? statSync(installed).size : -1;
      if (size !== mib * 1024 * 1024)
        throw new Error(`codedeploy-local reported success but ${installed} has ${size} bytes, not ${mib * 1024 * 1024}`);
    });
    report(
      `large, one ${fmt(mib)} MiB incompressible file (tgz made in ${generatedS.toFixed(0)} s; ${o.runs} runs, medians, in ${dir}; ${peak.describe()})`,
      c,
      1.1,
    );
    console.log('');
    const note = mib === 200 ? undefined : `the official figures are the issue's, for one 200 MB file; this row is ${fmt(mib)} MiB`;
    return rows(
      `install, one ${fmt(mib)} MiB incompressible file (tgz)`,
      `  peak memory, one ${fmt(mib)} MiB file`,
      c,
      1.1,
      { value: OFFICIAL_1_8_1.largeFilePerBaseline, perBaseline: true },
      OFFICIAL_1_8_1.peakLargeFileMiB,
      note,
    ).map((r) => ({ ...r, suite: 'large' }));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
