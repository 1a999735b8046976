/**
 * Running a command timed, with its peak memory: wall time from spawn to exit, and peak RSS of the
 * process tree's largest process (getrusage's maxrss of the waited-for children) through GNU time
 * (`/usr/bin/time -f %M`) when it is installed. Without it, a node command is measured by a
 * preload (`--import`) that writes the process's own maxRSS at exit, and other commands' memory is
 * not measured (NaN). Both sides of a comparison go through the same wrapper, so its own cost
 * (about a millisecond) cancels out in ratios.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const GNU_TIME = '/usr/bin/time';
const KiB_PER_MiB = 1024;

/** GNU time's -o file with -f %M: the peak RSS in KiB on the last line (after any "Command exited..." line). */
export function parseGnuTimeMaxRss(text: string): number {
  const last = text.trim().split('\n').pop()?.trim() ?? '';
  return /^\d+$/.test(last) ? Number(last) : NaN;
}

export interface RunResult {
  ms: number;
  /** Peak RSS in MiB; NaN when it cannot be measured here. */
  peakMiB: number;
  stdout: string;
}

/** Runs cmd, resolves with its wall time and stdout, rejects with its output when it exits non-zero. */
export function timed(cmd: string, args: readonly string[], env?: NodeJS.ProcessEnv): Promise<{ ms: number; stdout: string }> {
  return new Promise((resolveRun, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: env ?? process.env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout = (stdout + d.toString()).slice(-20_000)));
    child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-20_000)));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      if (code === 0) resolveRun({ ms, stdout });
      else reject(new Error(`${cmd} ${args.join(' ')} exited ${code ?? signal}:\n${(stdout + stderr).trim().slice(-4000)}`));
    });
  });
}

export class PeakRssRunner {
  private n = 0;

  private constructor(
    private readonly dir: string,
    /** How peak memory is measured, for the suite's header line. */
    readonly method: 'gnu-time' | 'preload',
    private readonly preload: string,
    private readonly gnuTime: string,
  ) {}

  /**
   * Files go in dir (one small file per run, removed after reading). gnuTime: where GNU time is
   * looked for (tests point it elsewhere to exercise the preload).
   */
  static async create(dir: string, gnuTime = GNU_TIME): Promise<PeakRssRunner> {
    const preload = join(dir, 'peak-rss-preload.mjs');
    await writeFile(
      preload,
      [
        "import { writeFileSync } from 'node:fs';",
        'const out = process.env.BENCH_PEAK_RSS_FILE;',
        // maxRSS is in KiB, like GNU time's %M.
        "if (out) process.on('exit', () => writeFileSync(out, String(process.resourceUsage().maxRSS)));",
        '',
      ].join('\n'),
    );
    let method: 'gnu-time' | 'preload' = 'preload';
    if (existsSync(gnuTime)) {
      const probe = join(dir, 'peak-rss-probe.txt');
      try {
        await timed(gnuTime, ['-f', '%M', '-o', probe, 'true']);
        if (Number.isFinite(parseGnuTimeMaxRss(await readFile(probe, 'utf8')))) method = 'gnu-time';
      } catch {
        // Not GNU time (busybox, BSD): fall back.
      } finally {
        await rm(probe, { force: true });
      }
    }
    return new PeakRssRunner(dir, method, preload, gnuTime);
  }

  describe(): string {
    return this.method === 'gnu-time'
      ? `peak RSS: maxrss of the largest process, through ${this.gnuTime}`
      : `peak RSS: node processes only (no GNU time at ${this.gnuTime}; other commands are not measured)`;
  }

  /**
   * Runs cmd measured. `node`: cmd is a node binary (the preload can measure it without GNU time;
   * it goes right after the binary, before the script).
   */
  async run(cmd: string, args: readonly string[], opts: { node?: boolean } = {}): Promise<RunResult> {
    const file = join(this.dir, `peak-rss-${process.pid}-${this.n++}.txt`);
    try {
      if (this.method === 'gnu-time') {
        const r = await timed(this.gnuTime, ['-f', '%M', '-o', file, cmd, ...args]);
        return { ...r, peakMiB: parseGnuTimeMaxRss(await readFile(file, 'utf8')) / KiB_PER_MiB };
      }
      if (!opts.node) return { ...(await timed(cmd, args)), peakMiB: NaN };
      const r = await timed(cmd, ['--import', pathToFileURL(this.preload).href, ...args], { ...process.env, BENCH_PEAK_RSS_FILE: file });
      return { ...r, peakMiB: parseGnuTimeMaxRss(await readFile(file, 'utf8').catch(() => '')) / KiB_PER_MiB };
    } finally {
      await rm(file, { force: true });
    }
  }
}
