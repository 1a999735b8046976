/**
 * Progress of one bundle download (S3 or GitHub), for the agent log, `codedeploy-agent status` and
 * codedeploy-local's output.
 *
 * Pacing: a progress line is logged (info) when 10 s have passed since the previous one, or when
 * the download crosses the next 10 % of a known total, whichever comes first; with no known total
 * (a chunked GitHub archive) every 10 s only. The last bytes never make a progress line: finish()
 * logs the final one (bytes, time, average rate) under the caller's message. Listeners (the status
 * file) hear at most once a second, and at every logged line; a line is a `milestone`.
 *
 * Bytes are the bundle file's length so far (a resumed download starts at what it had; a restart
 * from byte 0 starts over). The rate counts the bytes received since the previous line (or the
 * start), over the time since then, so it says how fast the download goes now.
 *
 * Time is injected (`now`), so the pacing is tested without waiting.
 */
import type { Logger } from 'pino';

export interface DownloadProgress {
  /** Bytes of the bundle on disk so far. */
  bytes: number;
  /** The bundle's size when the server said it (Content-Length, Content-Range), else null. */
  totalBytes: number | null;
  /** Whole percent of totalBytes, or null when the total is unknown. */
  percent: number | null;
  /** Bytes per second received lately. */
  bytesPerSecond: number;
  /** True for the updates that were also logged (every 10 s or 10 %), and for the final one. */
  milestone: boolean;
  /** True once the download is complete. */
  done: boolean;
}

export type DownloadProgressListener = (progress: DownloadProgress) => void;

export interface DownloadProgressOptions {
  logger: Logger;
  /** What is downloaded, for the log lines: "s3://bucket/key", a URL. */
  source: string;
  /** Fields added to every progress line (bucket and key, url). */
  fields?: Record<string, unknown>;
  onProgress?: DownloadProgressListener;
  /** Clock in ms (default Date.now). */
  now?: () => number;
  /** Log a line at least this often (default 10 s). */
  logIntervalMs?: number;
  /** Log a line at every this many percent of a known total (default 10). */
  logStepPercent?: number;
  /** Tell the listener at most this often (default 1 s). */
  notifyIntervalMs?: number;
}

const UNITS = ['KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/** 1536 -> "1.5 KiB", 412 * 2^20 -> "412.0 MiB", 1000 -> "1000 B". */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 1024) return `${Math.max(0, Math.round(Number.isFinite(bytes) ? bytes : 0))} B`;
  let value = bytes;
  let unit = 'B';
  for (const u of UNITS) {
    if (value < 1024) break;
    value /= 1024;
    unit = u;
  }
  return `${value.toFixed(1)} ${unit}`;
}

/** "412.0 MiB of 1.2 GiB (34 %), 85.0 MiB/s", or "412.0 MiB, 85.0 MiB/s" without a total. */
export function describeProgress(p: Pick<DownloadProgress, 'bytes' | 'totalBytes' | 'percent' | 'bytesPerSecond'>): string {
  const of = p.totalBytes !== null ? ` of ${formatBytes(p.totalBytes)} (${p.percent ?? 0} %)` : '';
  return `${formatBytes(p.bytes)}${of}, ${formatBytes(p.bytesPerSecond)}/s`;
}

function percentOf(bytes: number, total: number | null): number | null {
  if (total === null) return null;
  if (total <= 0) return 100;
  return Math.min(100, Math.floor((bytes * 100) / total));
}

export class DownloadProgressReporter {
  private readonly now: () => number;
  private readonly logIntervalMs: number;
  private readonly stepPercent: number;
  private readonly notifyIntervalMs: number;
  private readonly startedAt: number;
  private bytes = 0;
  private total: number | null = null;
  /** Bytes received over the network in all, restarts and resumes included. */
  private received = 0;
  private lastLogAt: number;
  private lastLogStep = 0;
  private lastNotifyAt = -Infinity;
  /** Where the rate window began: time and `received` then. */
  private windowAt: number;
  private windowReceived = 0;
  private rate = 0;

  constructor(private readonly o: DownloadProgressOptions) {
    this.now = o.now ?? Date.now;
    this.logIntervalMs = o.logIntervalMs ?? 10_000;
    this.stepPercent = o.logStepPercent ?? 10;
    this.notifyIntervalMs = o.notifyIntervalMs ?? 1000;
    this.startedAt = this.now();
    this.lastLogAt = this.startedAt;
    this.windowAt = this.startedAt;
  }

  /** A response began: the file holds `bytes` (0, or what a resume keeps); `total` when known. */
  begin(bytes: number, total: number | undefined): void {
    this.bytes = bytes;
    this.total = total ?? null;
    this.lastLogStep = this.step();
    this.notify(false, true);
  }

  /** `n` more bytes were written to the file. */
  advance(n: number): void {
    this.bytes += n;
    this.received += n;
    const t = this.now();
    const complete = this.total !== null && this.bytes >= this.total;
    const step = this.step();
    const due = t - this.lastLogAt >= this.logIntervalMs || step > this.lastLogStep;
    if (due && !complete) {
      this.updateRate(t);
      this.lastLogAt = t;
      this.lastLogStep = step;
      this.o.logger.info(
        { ...this.o.fields, ...this.snapshotFields() },
        `Downloaded ${describeProgress(this.snapshot(false, false))} from ${this.o.source}`,
      );
      this.notify(true, true);
      return;
    }
    this.notify(false, false);
  }

  /** The next response starts over from byte 0. */
  restart(): void {
    this.bytes = 0;
    this.lastLogStep = 0;
  }

  /** The download is complete: the final figures (the caller logs them in its own line). */
  finish(): { bytes: number; seconds: number; bytesPerSecond: number; text: string } {
    const t = this.now();
    const ms = Math.max(0, t - this.startedAt);
    const bytesPerSecond = ms > 0 ? Math.round((this.received * 1000) / ms) : this.received;
    this.rate = bytesPerSecond;
    this.o.onProgress?.({ ...this.snapshot(true, true) });
    const seconds = Math.round(ms / 100) / 10;
    return {
      bytes: this.bytes,
      seconds,
      bytesPerSecond,
      text: `${formatBytes(this.bytes)} in ${seconds} s (${formatBytes(bytesPerSecond)}/s)`,
    };
  }

  /** The current figures (tests, callers' messages). */
  snapshot(milestone = false, done = false): DownloadProgress {
    return {
      bytes: this.bytes,
      totalBytes: this.total,
      percent: percentOf(this.bytes, this.total),
      bytesPerSecond: this.rate,
      milestone,
      done,
    };
  }

  private snapshotFields(): Record<string, unknown> {
    const s = this.snapshot();
    return { bytes: s.bytes, totalBytes: s.totalBytes, percent: s.percent, bytesPerSecond: s.bytesPerSecond };
  }

  private step(): number {
    const percent = percentOf(this.bytes, this.total);
    return percent === null ? 0 : Math.floor(percent / this.stepPercent);
  }

  private updateRate(t: number): void {
    const ms = t - this.windowAt;
    if (ms > 0) this.rate = Math.round(((this.received - this.windowReceived) * 1000) / ms);
    this.windowAt = t;
    this.windowReceived = this.received;
  }

  private notify(milestone: boolean, force: boolean): void {
    if (!this.o.onProgress) return;
    const t = this.now();
    if (!force && t - this.lastNotifyAt < this.notifyIntervalMs) return;
    // The status file's rate: over the window so far when it spans at least a second.
    if (!milestone && t - this.windowAt >= 1000) {
      this.rate = Math.round(((this.received - this.windowReceived) * 1000) / (t - this.windowAt));
    }
    this.lastNotifyAt = t;
    this.o.onProgress(this.snapshot(milestone, false));
  }
}
