/**
 * Hands memory that glibc's allocator keeps after free() back to the system (malloc_trim(3))
 * while a bundle is unpacked or installed.
 *
 * Why: those phases make millions of short native allocations (zlib streams, fs requests, path
 * copies) on the main thread, the thread pool and the copy workers. glibc returns a freed chunk to
 * the system only when it sits at the top of its arena, so the rest stays resident: a
 * 100,000-entry zip left 30-40 MiB of free but resident memory (peak RSS 132-145 MiB, the V8 heap
 * under 30 MiB of it). malloc_trim(0) releases the free pages inside the arenas too; called every
 * TRIM_INTERVAL_MS during those phases (1-5 ms a call, about 50 ms in all for that zip) the same
 * deployment peaked at 114-119 MiB.
 *
 * Through node:ffi (Node 26, the runtime the release embeds); on older Node.js or a libc without
 * malloc_trim (musl) nothing is trimmed and the work runs as before.
 */
import { loadNodeFfi } from '../../common/node-ffi.js';

export const TRIM_INTERVAL_MS = 250;

/** Runs work with trimming: every interval while it runs, and once when it ends. */
export interface MemoryTrimmer {
  during<T>(work: () => Promise<T>): Promise<T>;
}

export interface MemoryTrimmerOptions {
  /** Defaults to libc's malloc_trim(0) through node:ffi; null: nothing to call (never trims). */
  trim?: (() => void) | null;
  intervalMs?: number;
}

export function createMemoryTrimmer(o: MemoryTrimmerOptions = {}): MemoryTrimmer {
  const trim = o.trim === undefined ? bindMallocTrim() : o.trim;
  if (!trim) return { during: (work) => work() };
  const intervalMs = o.intervalMs ?? TRIM_INTERVAL_MS;
  let running = 0;
  let timer: NodeJS.Timeout | undefined;
  const trimSafely = (): void => {
    try {
      trim();
    } catch {
      // Trimming is an optimisation: a failed call changes nothing the work depends on.
    }
  };
  return {
    async during(work) {
      // Nested or concurrent work shares one timer.
      if (running++ === 0) {
        timer = setInterval(trimSafely, intervalMs);
        timer.unref();
      }
      try {
        return await work();
      } finally {
        if (--running === 0) {
          clearInterval(timer);
          timer = undefined;
          trimSafely();
        }
      }
    },
  };
}

/** malloc_trim(0) of this process's libc, or null when node:ffi or the symbol is missing. */
export function bindMallocTrim(): (() => void) | null {
  const ffi = loadNodeFfi();
  if (!ffi) return null;
  try {
    const { functions } = ffi.dlopen(null, { malloc_trim: { arguments: ['u64'], return: 'i32' } });
    const mallocTrim = functions.malloc_trim;
    if (!mallocTrim) return null;
    return () => void mallocTrim(0n);
  } catch {
    return null;
  }
}
