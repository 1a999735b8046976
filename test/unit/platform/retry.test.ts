import { describe, expect, it } from 'vitest';
import { retry, type AttemptPolicy } from '../../../agent/platform/retry.js';
import { backoffDelay } from '../../../agent/platform/retry-policy.js';
import { sleep } from '../../../agent/platform/sleep.js';

class Failure extends Error {
  constructor(
    readonly retriable: boolean,
    readonly retryAfterMs?: number,
  ) {
    super(retriable ? 'try again' : 'final');
  }
}

/** Full jitter at random() = 0.5 over base 100 ms: 50, 100, 200, ... */
function policy(maxAttempts: number, extra: Partial<AttemptPolicy> = {}): AttemptPolicy {
  return {
    maxAttempts,
    classify: (err) => (err instanceof Failure ? { retriable: err.retriable, delayMs: err.retryAfterMs } : { retriable: false }),
    backoffMs: (n) => backoffDelay(n, { base: 100, cap: 20_000, random: () => 0.5 }),
    ...extra,
  };
}

/** An attempt that fails with `failures` in turn, then answers 'ok'; records the attempt numbers. */
function scripted(failures: Error[]): { fn: (n: number) => Promise<string>; attempts: number[] } {
  const attempts: number[] = [];
  const fn = (n: number): Promise<string> => {
    attempts.push(n);
    const failure = failures[n - 1];
    return failure ? Promise.reject(failure) : Promise.resolve('ok');
  };
  return { fn, attempts };
}

function recordingSleep(): { sleep: (ms: number) => Promise<void>; delays: number[] } {
  const delays: number[] = [];
  return { delays, sleep: (ms) => (delays.push(ms), Promise.resolve()) };
}

describe('retry', () => {
  it('returns the first success without waiting', async () => {
    const { fn, attempts } = scripted([]);
    const { sleep: s, delays } = recordingSleep();
    expect(await retry(fn, { policy: policy(3), sleep: s })).toBe('ok');
    expect(attempts).toEqual([1]);
    expect(delays).toEqual([]);
  });

  it('retries retriable failures with the policy backoff, attempts numbered from 1', async () => {
    const { fn, attempts } = scripted([new Failure(true), new Failure(true)]);
    const { sleep: s, delays } = recordingSleep();
    const told: [number, number][] = [];
    const result = await retry(fn, { policy: policy(3), sleep: s, onRetry: (_err, n, ms) => told.push([n, ms]) });
    expect(result).toBe('ok');
    expect(attempts).toEqual([1, 2, 3]);
    expect(delays).toEqual([50, 100]);
    expect(told).toEqual([
      [1, 50],
      [2, 100],
    ]);
  });

  it('throws a final failure at once, as it is', async () => {
    const final = new Failure(false);
    const { fn, attempts } = scripted([final]);
    const { sleep: s, delays } = recordingSleep();
    await expect(retry(fn, { policy: policy(3), sleep: s })).rejects.toBe(final);
    expect(attempts).toEqual([1]);
    expect(delays).toEqual([]);
  });

  it('stops after maxAttempts and throws the last failure', async () => {
    const last = new Failure(true);
    const { fn, attempts } = scripted([new Failure(true), new Failure(true), last]);
    const { sleep: s, delays } = recordingSleep();
    await expect(retry(fn, { policy: policy(3), sleep: s })).rejects.toBe(last);
    expect(attempts).toEqual([1, 2, 3]);
    expect(delays).toEqual([50, 100]);
  });

  it('waits what the failure asks for (Retry-After) instead of the backoff', async () => {
    const { fn } = scripted([new Failure(true, 7000), new Failure(true)]);
    const { sleep: s, delays } = recordingSleep();
    await retry(fn, { policy: policy(3), sleep: s });
    expect(delays).toEqual([7000, 100]);
  });

  it('gives up when the next wait would overrun the deadline', async () => {
    const failures = Array.from({ length: 10 }, () => new Failure(true));
    const { fn, attempts } = scripted(failures);
    let clock = 1000;
    const delays: number[] = [];
    const advance = (ms: number): Promise<void> => {
      delays.push(ms);
      clock += ms;
      return Promise.resolve();
    };
    // 50 + 100 = 150 ms spent; the next wait (200) would end at 350 > 300.
    await expect(retry(fn, { policy: policy(Infinity, { deadlineMs: 300 }), sleep: advance, now: () => clock })).rejects.toBe(failures[2]);
    expect(attempts).toEqual([1, 2, 3]);
    expect(delays).toEqual([50, 100]);
  });

  it('counts the deadline from startedAt when given (a budget shared by several loops)', async () => {
    const failures = [new Failure(true)];
    const { fn } = scripted(failures);
    const { sleep: s, delays } = recordingSleep();
    const run = retry(fn, { policy: policy(Infinity, { deadlineMs: 1000 }), sleep: s, now: () => 5000, startedAt: 4000 });
    await expect(run).rejects.toBe(failures[0]);
    expect(delays).toEqual([]);
  });

  it('stops when the signal aborts during a wait, with the wait rejection by default', async () => {
    const controller = new AbortController();
    const { fn, attempts } = scripted([new Failure(true), new Failure(true)]);
    const stopped = new Error('the agent is stopping');
    const waitThenAbort = (_ms: number, signal?: AbortSignal): Promise<void> => {
      controller.abort(stopped);
      return Promise.reject(signal?.reason as Error);
    };
    await expect(retry(fn, { policy: policy(5), sleep: waitThenAbort, signal: controller.signal })).rejects.toBe(stopped);
    expect(attempts).toEqual([1]);
  });

  it('stops when an injected sleep ignores the signal, before the next attempt', async () => {
    const controller = new AbortController();
    const { fn, attempts } = scripted([new Failure(true), new Failure(true)]);
    const ignoring = (): Promise<void> => {
      controller.abort(new Error('stop'));
      return Promise.resolve();
    };
    await expect(retry(fn, { policy: policy(5), sleep: ignoring, signal: controller.signal })).rejects.toThrow('stop');
    expect(attempts).toEqual([1]);
  });

  it('does not classify or wait after a failure once the signal is aborted: the failure is thrown', async () => {
    const controller = new AbortController();
    const failure = new Failure(true);
    const { sleep: s, delays } = recordingSleep();
    const fn = (): Promise<never> => {
      controller.abort();
      return Promise.reject(failure);
    };
    await expect(retry(fn, { policy: policy(5), sleep: s, signal: controller.signal })).rejects.toBe(failure);
    expect(delays).toEqual([]);
  });

  it('lets onAbort choose what an abort throws', async () => {
    const controller = new AbortController();
    const first = new Failure(true);
    const { fn } = scripted([first, new Failure(true)]);
    const seen: unknown[] = [];
    const waitThenAbort = (_ms: number, signal?: AbortSignal): Promise<void> => {
      controller.abort(new Error('shutdown'));
      return Promise.reject(signal?.reason as Error);
    };
    const cancelled = new Error('cancelled');
    const run = retry(fn, {
      policy: policy(5),
      sleep: waitThenAbort,
      signal: controller.signal,
      onAbort: (reason, last, attempt) => {
        seen.push((reason as Error).message, last, attempt);
        return cancelled;
      },
    });
    await expect(run).rejects.toBe(cancelled);
    expect(seen).toEqual(['shutdown', first, 1]);
  });

  it('works with the real sleep, which an abort cuts short', async () => {
    const controller = new AbortController();
    const { fn } = scripted([new Failure(true), new Failure(true)]);
    const started = Date.now();
    const long = policy(3, { backoffMs: () => 60_000 });
    setTimeout(() => controller.abort(new Error('stopping')), 20);
    await expect(retry(fn, { policy: long, sleep, signal: controller.signal })).rejects.toThrow('stopping');
    expect(Date.now() - started).toBeLessThan(5000);
  });
});

describe('sleep', () => {
  it('waits about the time asked', async () => {
    const started = Date.now();
    await sleep(30);
    expect(Date.now() - started).toBeGreaterThanOrEqual(25);
  });

  it('rejects at once with the reason of an already aborted signal', async () => {
    const reason = new Error('gone');
    await expect(sleep(60_000, AbortSignal.abort(reason))).rejects.toBe(reason);
  });

  it('rejects with an AbortError when the reason is not an Error', async () => {
    const controller = new AbortController();
    const pending = sleep(60_000, controller.signal);
    controller.abort('not an error');
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' });
  });
});
