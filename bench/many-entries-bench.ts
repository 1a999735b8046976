/**
 * many-entries: deploy tars of empty files (100k and 1M entries by default) with codedeploy-local
 * (DownloadBundle + Install of `source: /`) and report each run's peak RSS and wall time, then the
 * ratio of the times. Memory must not grow with the entry count (docs/design.md section 8; target under
 * 150 MB at 1M entries) and time should grow linearly: time(1M)/time(100k) near 10.
 *
 * Peak RSS is the child's own getrusage maxrss, written by a tiny wrapper at exit, so it needs no
 * /usr/bin/time. BENCH_MANY_ENTRIES=100000,1000000 picks the sizes; BENCH_LOCAL_CLI points at
 * another build of codedeploy-local (to compare before and after a change).
 */
import { spawn } from 'node:child_process';
import { createWriteStream, rmSync, statfsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Header } from 'tar';
import type { Row } from './summary.js';

const FILES_PER_DIR = 1000;

export interface ManyEntriesTar {
  file: string;
  /** Files of the tar (the appspec included); directories come on top. */
  files: number;
  directories: number;
}

/**
 * A ustar archive: appspec.yml (installing `source: /` to `destination`), then `entries` empty files
 * in directories of FILES_PER_DIR, each directory entry before its files (as GNU tar writes them).
 */
export async function writeManyEntriesTar(file: string, entries: number, destination: string): Promise<ManyEntriesTar> {
  const out = createWriteStream(file, { highWaterMark: 4 * 1024 * 1024 });
  const mtime = new Date(1_700_000_000_000);
  const blocks: Buffer[] = [];
  let pending = 0;
  const flush = async (): Promise<void> => {
    if (blocks.length === 0) return;
    const chunk = Buffer.concat(blocks);
    blocks.length = 0;
    pending = 0;
    if (!out.write(chunk)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
  };
  const header = async (path: string, type: 'File' | 'Directory', size = 0): Promise<void> => {
    const block = Buffer.alloc(512);
    new Header({ path, type, size, mode: type === 'File' ? 0o644 : 0o755, mtime, uid: 0, gid: 0 }).encode(block, 0);
    blocks.push(block);
    if (++pending >= 8192) await flush();
  };
  const appspec = Buffer.from(`version: 0.0\nos: linux\nfiles:\n  - source: /\n    destination: ${destination}\n`);
  await header('appspec.yml', 'File', appspec.length);
  blocks.push(Buffer.concat([appspec, Buffer.alloc(512 - (appspec.length % 512 || 512))]));
  let directories = 0;
  for (let i = 0; i < entries; i++) {
    const dir = `d${String(Math.floor(i / FILES_PER_DIR)).padStart(5, '0')}`;
    if (i % FILES_PER_DIR === 0) {
      await header(`${dir}/`, 'Directory');
      directories++;
    }
    await header(`${dir}/f${String(i).padStart(7, '0')}`, 'File');
  }
  blocks.push(Buffer.alloc(1024));
  await flush();
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
  return { file, files: entries + 1, directories };
}

export interface DeployRun {
  ms: number;
  /** Peak resident set size of the codedeploy-local process, in bytes. */
  peakRss: number;
  code: number | null;
  /** The end of what codedeploy-local printed (stdout and stderr), for failure messages. */
  output: string;
}

/**
 * Runs codedeploy-local on a tar in a child process; its own maxrss is written to a file at exit.
 * nodeFlags go before the wrapper (the bench passes the agent's V8 flags).
 */
export async function deployMeasured(
  cli: string,
  tarFile: string,
  dir: string,
  group = 'many',
  nodeFlags: readonly string[] = [],
): Promise<DeployRun> {
  await mkdir(dir, { recursive: true });
  const wrapper = join(dir, 'peak-rss.mjs');
  const rssFile = join(dir, 'peak-rss.txt');
  await writeFile(
    wrapper,
    [
      "import { writeFileSync } from 'node:fs';",
      'const [out, cli, ...args] = process.argv.slice(2);',
      // maxRSS is in KiB.
      "process.on('exit', () => writeFileSync(out, String(process.resourceUsage().maxRSS * 1024)));",
      'process.argv = [process.argv[0], cli, ...args];',
      'await import(cli);',
      '',
    ].join('\n'),
  );
  const root = join(dir, 'root');
  const home = join(dir, 'home');
  await mkdir(home, { recursive: true });
  const config = join(dir, 'codedeployagent.yml');
  await writeFile(config, `:root_dir: ${root}\n:log_dir: ${join(dir, 'log')}\n:working_directory: ${home}\n`);
  const args = [...nodeFlags, wrapper, rssFile, pathToFileURL(cli).href, '-l', tarFile, '-t', 'tar', '-g', group, '-c', config];
  const started = process.hrtime.bigint();
  const { code, output } = await new Promise<{ code: number | null; output: string }>((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const keep = (d: Buffer): void => {
      out = (out + d.toString()).slice(-4000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.on('error', reject);
    child.on('close', (c) => resolve({ code: c, output: out }));
  });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  const peakRss = Number(await readFile(rssFile, 'utf8').catch(() => 'NaN'));
  return { ms, peakRss, code, output };
}

/**
 * `preferred` (tmpfs in the bench) when it has the inodes for the largest run (the revision is
 * unpacked and installed: two inodes per entry), else the system temp directory.
 */
export function manyEntriesDir(preferred: string, sizes: readonly number[]): string {
  try {
    if (statfsSync(preferred).ffree > 2.2 * Math.max(...sizes)) return preferred;
  } catch {
    // fall through
  }
  return tmpdir();
}

/** Prints each size's peak RSS and time and returns the summary's rows (peak memory per size, time growth). */
export async function benchManyEntries(
  baseDir: string,
  cli: string,
  sizes: readonly number[],
  nodeFlags: readonly string[] = [],
): Promise<Row[]> {
  console.log(`many-entries (tar of empty files, DownloadBundle + Install, in ${baseDir})`);
  const rows: Row[] = [];
  const times = new Map<number, number>();
  for (const entries of sizes) {
    const dir = await mkdtemp(join(baseDir, 'cda-many-'));
    try {
      const dest = join(dir, 'installed');
      const tar = await writeManyEntriesTar(join(dir, 'bundle.tar'), entries, dest);
      const run = await deployMeasured(cli, tar.file, dir, 'many', nodeFlags);
      if (run.code !== 0) throw new Error(`codedeploy-local exited ${run.code} on ${entries} entries: ${run.output}`);
      times.set(entries, run.ms);
      const label = `${entries.toLocaleString('en-US')} entries`.padEnd(20);
      console.log(`  ${label}: peak RSS ${(run.peakRss / 2 ** 20).toFixed(0)} MiB, ${(run.ms / 1000).toFixed(1)} s (target < 150 MiB)`);
      rows.push({
        suite: 'many-entries',
        what: `peak memory, tar of ${entries.toLocaleString('en-US')} empty files`,
        unit: 'MiB',
        ours: run.peakRss / 2 ** 20,
        target: { kind: 'max', value: 150 },
      });
    } finally {
      // Synchronous: the promise-based rm keeps every entry of a large tree in flight at once.
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const [small, large] = [Math.min(...sizes), Math.max(...sizes)];
  const a = times.get(small);
  const b = times.get(large);
  if (a !== undefined && b !== undefined && small !== large) {
    console.log(`  time ratio ${large}/${small} entries: ${(b / a).toFixed(1)} (linear: ${(large / small).toFixed(0)})`);
    rows.push({
      suite: 'many-entries',
      what: `time, tar of ${large.toLocaleString('en-US')} empty files`,
      unit: 'ms',
      ours: b,
      baseline: { label: `${small.toLocaleString('en-US')} entries`, value: a },
      target: { kind: 'none', text: `linear: ${(large / small).toFixed(0)}x` },
    });
  }
  console.log('');
  return rows;
}
