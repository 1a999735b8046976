import { afterEach, describe, expect, it, vi } from 'vitest';
import { bindMallocTrim, createMemoryTrimmer } from '../../../agent/platform/memory-trimmer.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('createMemoryTrimmer', () => {
  it('trims every interval while the work runs and once when it ends, never after', async () => {
    vi.useFakeTimers();
    const trim = vi.fn();
    const trimmer = createMemoryTrimmer({ trim, intervalMs: 100 });
    let finish!: () => void;
    const done = trimmer.during(() => new Promise<void>((resolve) => (finish = resolve)));
    await vi.advanceTimersByTimeAsync(350);
    expect(trim).toHaveBeenCalledTimes(3);
    finish();
    await done;
    expect(trim).toHaveBeenCalledTimes(4);
    await vi.advanceTimersByTimeAsync(1000);
    expect(trim).toHaveBeenCalledTimes(4);
  });

  it('shares one timer between overlapping work and trims when the last one ends', async () => {
    vi.useFakeTimers();
    const trim = vi.fn();
    const trimmer = createMemoryTrimmer({ trim, intervalMs: 100 });
    let finishA!: () => void;
    let finishB!: () => void;
    const a = trimmer.during(() => new Promise<void>((resolve) => (finishA = resolve)));
    const b = trimmer.during(() => new Promise<void>((resolve) => (finishB = resolve)));
    await vi.advanceTimersByTimeAsync(250);
    expect(trim).toHaveBeenCalledTimes(2);
    finishA();
    await a;
    expect(trim).toHaveBeenCalledTimes(2);
    await vi.advanceTimersByTimeAsync(100);
    expect(trim).toHaveBeenCalledTimes(3);
    finishB();
    await b;
    expect(trim).toHaveBeenCalledTimes(4);
    await vi.advanceTimersByTimeAsync(500);
    expect(trim).toHaveBeenCalledTimes(4);
  });

  it("passes the work's result and failure through, and a failing trim changes neither", async () => {
    const trimmer = createMemoryTrimmer({
      trim: () => {
        throw new Error('no trim');
      },
    });
    await expect(trimmer.during(async () => 42)).resolves.toBe(42);
    await expect(trimmer.during(() => Promise.reject(new Error('install failed')))).rejects.toThrow('install failed');
  });

  it('runs the work untouched when there is nothing to call', async () => {
    vi.useFakeTimers();
    const trimmer = createMemoryTrimmer({ trim: null, intervalMs: 10 });
    await expect(trimmer.during(async () => 'ok')).resolves.toBe('ok');
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('bindMallocTrim', () => {
  const hasFfi = (() => {
    try {
      return process.getBuiltinModule?.('node:ffi') !== undefined;
    } catch {
      return false;
    }
  })();

  it.runIf(hasFfi && process.platform === 'linux')("calls this glibc's malloc_trim(0) (Node 26)", () => {
    const trim = bindMallocTrim();
    expect(trim, 'malloc_trim bound through node:ffi').not.toBeNull();
    // Free memory after big short-lived allocations; the call must not throw.
    const chunks = Array.from({ length: 64 }, () => Buffer.alloc(64 * 1024, 1));
    chunks.length = 0;
    expect(() => trim?.()).not.toThrow();
  });

  it.skipIf(hasFfi)('is null on a Node.js without node:ffi', () => {
    expect(bindMallocTrim()).toBeNull();
  });
});
