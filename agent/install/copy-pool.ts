/**
 * Worker threads that land small files alongside the main thread (copy-worker-source.ts runs in
 * each). Why threads: a small file costs about 11 system calls (lstat, copyFile's open/fstat/open/
 * fchmod/copy_file_range/close/close, utimes, link, unlink), some 40 µs of one core, and one
 * thread makes them one after another; the libuv pool could run them in parallel, but one promise
 * and two thread hand-offs per call cost more than the call itself. Each worker runs the same
 * synchronous steps on its own core, so the main thread and N workers copy about N + 1 times as
 * fast (until directory locks or the disk are the limit).
 *
 * A worker costs about 45 ms of a core to start (it boots while the plan is being made) and about
 * 8 MiB of memory, so the installer starts the pool only for plans with many files, with one
 * worker fewer than the cores it uses (the main thread is one), and ends it when the copies are done.
 */
import { Worker } from 'node:worker_threads';
import { toError } from '../../common/errors.js';
import { COPY_WORKER_SOURCE } from './copy-worker-source.js';
import { landingError, SYNC_COPY_MAX_BYTES } from './file-copier.js';
import type { CopyOp } from './operations.js';

/** A batch of copies the workers and the main thread share (see copy-worker-source.ts). */
export interface PoolBatch {
  /** Plan index of the first copy. */
  first: number;
  /** 4 NUL-separated fields per copy: flags, source, temp, destination. */
  ops: string;
  /** Int32 count of the batch's copies claimed so far (Atomics.add by every thread). */
  counter: SharedArrayBuffer;
  /** Copies claimed at a time. */
  chunk: number;
  preserveOwner: boolean;
  uid: number;
  gid: number;
}

/** A regular file over SYNC_COPY_MAX_BYTES, left for the main thread to copy asynchronously. */
export interface LargeCopy {
  index: number;
  op: CopyOp;
  temp: string;
}

/** What one worker did of a batch. */
export interface WorkerResult {
  large: LargeCopy[];
  /** The copy that failed (the worker copied nothing after it), as the error Install reports. */
  failure?: { index: number; error: Error };
}

/** A batch posted to the workers (see CopyPool.share). */
export interface SharedBatch {
  batch: PoolBatch;
  /** One a worker that took part. */
  results: Promise<WorkerResult>[];
}

interface Pending {
  resolve: (result: WorkerResult) => void;
  reject: (err: Error) => void;
}

interface WorkerReply {
  large: (string | number)[];
  failure: { index: number; destination: string; message: string; code?: string; claiming: boolean } | null;
}

interface Thread {
  worker: Worker;
  /** The batches posted to it, answered in order. */
  queue: Pending[];
  online: boolean;
  /** Why it can take no more batches (it failed, exited or was ended). */
  gone?: Error;
}

const NO_FAILURE = 2n ** 63n - 1n;

export class CopyPool {
  private readonly threads: Thread[] = [];
  private readonly failedAt: BigInt64Array;
  private readonly stopped: Int32Array;
  private readonly allOnline: Promise<void>;
  private busiest = 0;
  /** The batch being shared, until settle(). */
  private current: SharedBatch | undefined;
  private ending = false;

  /**
   * Starts `threads` workers; they boot in the background and take part in the batches posted
   * once they run. `onStartFailure` is told (once) when one cannot start.
   */
  constructor(threads: number, onStartFailure: (err: Error) => void) {
    const shared = new SharedArrayBuffer(16);
    this.failedAt = new BigInt64Array(shared, 0, 1);
    this.stopped = new Int32Array(shared, 8, 1);
    this.failedAt[0] = NO_FAILURE;
    let told = false;
    const startFailed = (err: Error): void => {
      if (!told && !this.ending) onStartFailure(err);
      told = true;
    };
    const started: Promise<void>[] = [];
    for (let i = 0; i < threads; i++) {
      let worker: Worker;
      try {
        worker = new Worker(COPY_WORKER_SOURCE, {
          eval: true,
          workerData: { shared, syncCopyMaxBytes: SYNC_COPY_MAX_BYTES },
          stdin: false,
        });
      } catch (err) {
        startFailed(toError(err));
        started.push(Promise.reject(toError(err)));
        break;
      }
      const thread: Thread = { worker, queue: [], online: false };
      this.threads.push(thread);
      started.push(
        new Promise<void>((resolve, reject) => {
          worker.once('online', () => {
            thread.online = true;
            // Joins the batch being copied (it claims what is left of it).
            if (this.current) this.post(thread, this.current);
            resolve();
          });
          worker.once('exit', () => reject(thread.gone ?? new Error('a copy worker thread exited before it started')));
        }),
      );
      worker.on('message', (reply: WorkerReply) => thread.queue.shift()?.resolve(toResult(reply)));
      worker.on('error', (err) => {
        thread.gone ??= new Error(`a copy worker thread failed: ${err.message}`, { cause: err });
        if (!thread.online) startFailed(thread.gone);
      });
      worker.on('exit', (code) => {
        thread.gone ??= new Error(`a copy worker thread stopped unexpectedly (exit code ${code})`);
        if (!thread.online) startFailed(thread.gone);
        for (let next = thread.queue.shift(); next; next = thread.queue.shift()) next.reject(thread.gone);
      });
    }
    this.allOnline = Promise.all(started).then(() => undefined);
    // Only tests wait for it; a pool nobody waits for must not report an unhandled rejection.
    this.allOnline.catch(() => undefined);
  }

  /** Resolves when every worker runs; rejects when one could not start. */
  started(): Promise<void> {
    return this.allOnline;
  }

  /** The most threads (the main thread included) that shared a batch. */
  get threadsUsed(): number {
    return this.busiest + 1;
  }

  /**
   * Every worker that runs, or starts running before settle(), claims and lands chunks of the
   * batch until none is left, skipping the copies at or after a failure (any thread's: the
   * workers', or one passed to fail()), and all of them once stop() was called.
   */
  share(batch: PoolBatch): SharedBatch {
    const shared: SharedBatch = { batch, results: [] };
    this.current = shared;
    for (const thread of this.threads) if (thread.online && !thread.gone) this.post(thread, shared);
    return shared;
  }

  /**
   * The main thread has no chunk of the batch left: what each worker that took part did. A
   * rejection means the worker died (its claimed copies may have left temp files).
   */
  settle(shared: SharedBatch): Promise<PromiseSettledResult<WorkerResult>[]> {
    if (this.current === shared) this.current = undefined;
    return Promise.allSettled(shared.results);
  }

  private post(thread: Thread, shared: SharedBatch): void {
    shared.results.push(
      new Promise<WorkerResult>((resolve, reject) => {
        thread.queue.push({ resolve, reject });
        thread.worker.postMessage(shared.batch);
      }),
    );
    this.busiest = Math.max(this.busiest, shared.results.length);
  }

  /** Whether a copy at or before `index` failed (or was reported with fail()). */
  failedBefore(index: number): boolean {
    return index >= Atomics.load(this.failedAt, 0);
  }

  /** A copy failed outside the workers: they skip every copy at or after `index`. */
  fail(index: number): void {
    const at = BigInt(index);
    for (;;) {
      const current = Atomics.load(this.failedAt, 0);
      if (current <= at || Atomics.compareExchange(this.failedAt, 0, current, at) === current) return;
    }
  }

  /** The install is to stop: no worker starts another copy. */
  stop(): void {
    Atomics.store(this.stopped, 0, 1);
  }

  async terminate(): Promise<void> {
    this.ending = true;
    for (const thread of this.threads) thread.gone ??= new Error('the copy worker threads were ended');
    await Promise.all(this.threads.map((thread) => thread.worker.terminate()));
  }
}

function toResult(reply: WorkerReply): WorkerResult {
  const large: LargeCopy[] = [];
  for (let at = 0; at + 4 < reply.large.length; at += 5) {
    const [index, flags, source, temp, destination] = reply.large.slice(at, at + 5) as [number, string, string, string, string];
    const op: CopyOp = { type: 'copy', source, destination, kind: flags[0] === 'l' ? 'symlink' : 'file', overwrite: flags[1] === '1' };
    large.push({ index, op, temp });
  }
  const failed = reply.failure;
  if (!failed) return { large };
  const cause = Object.assign(new Error(failed.message), failed.code === undefined ? {} : { code: failed.code });
  return { large, failure: { index: failed.index, error: landingError(failed.destination, cause, failed.claiming) } };
}
