/**
 * Time slices for synchronous fs work on the main thread. Install runs its per-file calls (lstat,
 * copyFile, utimes, link, unlink, mkdir, readdir) synchronously, because for thousands of small files
 * the thread-pool round trip of each async call (a promise, a request object, a callback, two thread
 * hand-offs) costs more than the call itself. To keep the daemon responsive while it installs (polls,
 * heartbeats, other commands' I/O), the work is cut into slices of about SLICE_MS: at the end of each
 * slice the caller awaits next(), which yields to the event loop with setImmediate, so every timer and
 * I/O callback that became ready runs before the next slice.
 */

/** Longest stretch of synchronous work between two yields to the event loop. */
export const SLICE_MS = 10;

export class TimeSlice {
  private deadline = performance.now() + SLICE_MS;

  /** True when the current slice is used up: the caller then awaits next(). */
  spent(): boolean {
    return performance.now() >= this.deadline;
  }

  /** Yield to the event loop, then start a fresh slice. */
  async next(): Promise<void> {
    await yieldToEventLoop();
    this.deadline = performance.now() + SLICE_MS;
  }
}

export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolveYield) => setImmediate(resolveYield));
}
