/**
 * The agent's one retry loop. Callers say what to retry and how long to wait (an AttemptPolicy,
 * usually built from retry-policy.ts: its classification and its jitter); this runs the attempts,
 * the waits (through the injected Sleep, so tests record the delays) and the abort.
 *
 * After a failed attempt, in this order:
 * 1. the signal is aborted: stop (onAbort says with what);
 * 2. the policy says the failure is final, or this was the last attempt: throw the failure;
 * 3. the wait is the failure's own (a Retry-After) or the policy's backoff for this retry;
 * 4. a deadline the wait would overrun: throw the failure;
 * 5. onRetry is told, then the wait; a wait cut short by the signal stops the loop (see onAbort).
 * A failure is always rethrown as it is: callers put the attempt count into their own errors.
 */
import type { Sleep } from './sleep.js';

/** How one failed attempt is judged. */
export interface RetryVerdict {
  retriable: boolean;
  /** A wait the failure itself asks for (a Retry-After header), instead of the policy's backoff. */
  delayMs?: number;
}

export interface AttemptPolicy {
  /** Attempts in all, the first included; Infinity to try until success, a final failure, the deadline or an abort. */
  maxAttempts: number;
  /** Judges the failure of attempt `attempt` (1-based). */
  classify(err: unknown, attempt: number): RetryVerdict;
  /** The wait in ms before retry `retry` (1-based: the wait after attempt 1 is retry 1). */
  backoffMs(retry: number, err: unknown): number;
  /** Give up when the next attempt would start more than this many ms after `startedAt`. */
  deadlineMs?: number;
}

export interface RetryOptions {
  policy: AttemptPolicy;
  sleep: Sleep;
  signal?: AbortSignal;
  /** Told before each wait (logging); `attempt` is the one that failed (1-based). */
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
  /**
   * What to throw when the signal stops the loop, after a failure or during a wait: given the
   * abort reason (or the wait's rejection), the last failure and its attempt. Default: what was
   * interrupted reports, i.e. the failed attempt's error after an attempt, the wait's rejection
   * (the abort reason) during a wait.
   */
  onAbort?: (reason: unknown, lastError: unknown, attempt: number) => unknown;
  /** Clock in epoch ms, for the deadline. Default Date.now. */
  now?: () => number;
  /** When the deadline started counting (a budget shared by several loops). Default: now. */
  startedAt?: number;
}

/** Runs `attempt` until it succeeds or the policy, the deadline or the signal ends the tries. */
export async function retry<T>(attempt: (n: number) => Promise<T>, o: RetryOptions): Promise<T> {
  const now = o.now ?? Date.now;
  const started = o.startedAt ?? now();
  for (let n = 1; ; n++) {
    try {
      return await attempt(n);
    } catch (err) {
      if (o.signal?.aborted) throw o.onAbort ? o.onAbort(o.signal.reason, err, n) : err;
      const verdict = o.policy.classify(err, n);
      if (!verdict.retriable || n >= o.policy.maxAttempts) throw err;
      const delay = verdict.delayMs ?? o.policy.backoffMs(n, err);
      if (o.policy.deadlineMs !== undefined && now() - started + delay > o.policy.deadlineMs) throw err;
      o.onRetry?.(err, n, delay);
      try {
        await o.sleep(delay, o.signal);
      } catch (reason) {
        throw o.onAbort ? o.onAbort(reason, err, n) : reason;
      }
      // An injected sleep may ignore the signal.
      if (o.signal?.aborted) throw o.onAbort ? o.onAbort(o.signal.reason, err, n) : o.signal.reason;
    }
  }
}
