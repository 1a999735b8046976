/**
 * An append-only text file writer with backpressure, batching and optional size-based rotation.
 * It backs scripts.log and the deployments log: callers push whole lines, a single async pump
 * joins everything queued into one write (no sync write per line), and write() returns false once
 * more than highWaterMark characters wait, so a producer (the hook runner) can pause its pipe and
 * await waitDrain(). The file is opened lazily for appending (never truncated), its directory is
 * created on first use; new files and directories get the agent's modes (file-modes.ts), rotation
 * included.
 *
 * Write errors never throw into the producer: the first one is reported to onError, and from then
 * on everything is dropped (a full disk must not wedge or crash a deployment).
 */
import { rename, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { errnoCode, toError } from '../../common/errors.js';
import { makeDirs, openAppendFile } from '../../common/file-modes.js';

export interface FileAppenderRotation {
  /** Rotate before a write would take the file past this many bytes. */
  maxBytes: number;
  /** Total number of files, the live one included: path, path.0 (newest) … path.<keep-2>. */
  keep: number;
}

export interface FileAppenderOptions {
  path: string;
  /** Characters queued before write() returns false (default 1 MiB). */
  highWaterMark?: number;
  rotation?: FileAppenderRotation;
  onError?: (error: Error) => void;
}

const DEFAULT_HIGH_WATER_MARK = 1024 * 1024;
/** At most this many characters go into one write (more only when a single entry is longer). */
const MAX_BATCH_CHARS = 4 * 1024 * 1024;

export class FileAppender {
  readonly path: string;
  private readonly highWaterMark: number;
  private readonly rotation: FileAppenderRotation | undefined;
  private readonly onError: ((error: Error) => void) | undefined;
  private queue: string[] = [];
  /** Characters queued or being written. */
  private pending = 0;
  private handle: FileHandle | undefined;
  private size = 0;
  private pumping = false;
  private failed: Error | undefined;
  private closed = false;
  /** Characters ever queued, and ever written out (or dropped): flush() waits for the first to be reached by the second. */
  private enqueued = 0;
  private done = 0;
  private drainWaiters: Array<() => void> = [];
  private flushWaiters: Array<{ target: number; resolve: () => void }> = [];

  constructor(options: FileAppenderOptions) {
    this.path = options.path;
    this.highWaterMark = options.highWaterMark ?? DEFAULT_HIGH_WATER_MARK;
    this.rotation = options.rotation;
    this.onError = options.onError;
  }

  /** Queue text (normally whole lines). Returns false when the caller should wait for waitDrain(). */
  write(text: string): boolean {
    if (this.failed || this.closed) return true;
    this.queue.push(text);
    this.pending += text.length;
    this.enqueued += text.length;
    if (!this.pumping) void this.pump();
    return this.pending < this.highWaterMark;
  }

  get needDrain(): boolean {
    return !this.failed && this.pending >= this.highWaterMark;
  }

  /** Resolves once fewer than highWaterMark characters wait (immediately when that is already so). */
  waitDrain(): Promise<void> {
    if (!this.needDrain) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  /** Resolves once everything written so far has been handed to the file (not fsynced). */
  flush(): Promise<void> {
    if (this.done >= this.enqueued || this.failed) return Promise.resolve();
    const target = this.enqueued;
    return new Promise((resolve) => this.flushWaiters.push({ target, resolve }));
  }

  /** Flushes and closes the file; later writes are ignored. */
  async close(): Promise<void> {
    await this.flush();
    this.closed = true;
    const handle = this.handle;
    this.handle = undefined;
    if (handle) await handle.close().catch(() => undefined);
  }

  /** The first write error, if any. */
  get error(): Error | undefined {
    return this.failed;
  }

  private async pump(): Promise<void> {
    this.pumping = true;
    try {
      while (this.queue.length > 0 && !this.failed) {
        const batch = this.takeBatch();
        const text = batch.length === 1 ? (batch[0] ?? '') : batch.join('');
        try {
          await this.writeOut(Buffer.from(text, 'utf8'));
        } catch (err) {
          this.fail(toError(err));
        }
        this.pending -= text.length;
        this.done += text.length;
        if (this.pending < this.highWaterMark) this.releaseDrain();
        this.releaseFlush();
      }
    } finally {
      this.pumping = false;
    }
    if (this.failed) {
      this.pending = 0;
      this.done = this.enqueued;
    }
    this.releaseDrain();
    this.releaseFlush();
  }

  /** Queued text up to the batch limit (at least one entry), so a rotated file stays within maxBytes. */
  private takeBatch(): string[] {
    const limit = Math.min(MAX_BATCH_CHARS, this.rotation?.maxBytes ?? MAX_BATCH_CHARS);
    let n = 0;
    let chars = 0;
    while (n < this.queue.length) {
      const len = this.queue[n]?.length ?? 0;
      if (n > 0 && chars + len > limit) break;
      chars += len;
      n++;
    }
    if (n === this.queue.length) {
      const all = this.queue;
      this.queue = [];
      return all;
    }
    const batch = this.queue.slice(0, n);
    this.queue = this.queue.slice(n);
    return batch;
  }

  private async writeOut(data: Buffer): Promise<void> {
    if (!this.handle) await this.openFile();
    if (this.rotation && this.size > 0 && this.size + data.length > this.rotation.maxBytes) await this.rotate();
    const handle = this.handle;
    if (!handle) throw new Error(`${this.path} is not open`);
    let offset = 0;
    while (offset < data.length) {
      const { bytesWritten } = await handle.write(data, offset, data.length - offset);
      offset += bytesWritten;
    }
    this.size += data.length;
  }

  private async openFile(): Promise<void> {
    // Logs hold deployment output: not world-readable (doctor checks the same).
    await makeDirs(dirname(this.path));
    const handle = await openAppendFile(this.path);
    this.handle = handle;
    this.size = (await handle.stat()).size;
  }

  /** path -> path.0, path.0 -> path.1, … ; the oldest (path.<keep-2>) is overwritten. */
  private async rotate(): Promise<void> {
    const keep = Math.max(1, this.rotation?.keep ?? 1);
    await this.handle?.close();
    this.handle = undefined;
    for (let i = keep - 3; i >= 0; i--) await renameIfExists(`${this.path}.${i}`, `${this.path}.${i + 1}`);
    if (keep > 1) await renameIfExists(this.path, `${this.path}.0`);
    const handle = await openAppendFile(this.path);
    if (keep <= 1) await handle.truncate(0);
    this.handle = handle;
    this.size = 0;
  }

  private fail(error: Error): void {
    if (this.failed) return;
    this.failed = error;
    this.queue = [];
    this.onError?.(error);
  }

  private releaseDrain(): void {
    if (this.drainWaiters.length === 0) return;
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const resolve of waiters) resolve();
  }

  private releaseFlush(): void {
    if (this.flushWaiters.length === 0) return;
    const ready = this.flushWaiters.filter((w) => w.target <= this.done);
    if (ready.length === 0) return;
    this.flushWaiters = this.flushWaiters.filter((w) => w.target > this.done);
    for (const w of ready) w.resolve();
  }
}

async function renameIfExists(from: string, to: string): Promise<void> {
  try {
    await rename(from, to);
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT') throw err;
  }
}
