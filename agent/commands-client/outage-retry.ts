/**
 * Riding out a control-plane outage (docs/design.md section 8: a command's outcome survives outages of
 * any length). The commands client's own retries (platform/retry-policy.ts) cover a blip of a
 * second or so; calls whose loss would lose a command (GetDeploymentSpecification, the
 * acknowledgement, PutHostCommandComplete) are wrapped here and tried again until they get an
 * answer, a definitive refusal, or their deadline.
 *
 * Tried again: everything except a definitive refusal, i.e. a 4xx the policy does not retry
 * (`kind: 'client'`): a network error, 5xx, throttling, a malformed answer (a captive proxy), and
 * missing credentials (IMDS or the on-premises credentials file may come back with the network).
 * Never tried again: an aborted call (shutdown).
 *
 * Wait before try n+1: the policy's equal jitter, min(cap, base x 2^(n-1)) x (0.5 + 0.5 x random()),
 * so hosts that lost the control plane together do not return in step, and no wait is near zero.
 * When the wait is cut short (shutdown), the last error is thrown.
 */
import { retry } from '../platform/retry.js';
import { equalJitterDelay } from '../platform/retry-policy.js';
import type { Sleep } from '../platform/sleep.js';
import { isCommandsApiError } from './commands-api-error.js';

export interface OutageRetryOptions {
  /** Stops waiting (shutdown): the last error is thrown. */
  signal?: AbortSignal;
  /** Give up after this many ms from the first try. Default: never. */
  deadlineMs?: number;
  /** First wait; default 1000 ms. */
  baseDelayMs?: number;
  maxDelayMs: number;
  sleep: Sleep;
  random?: () => number;
  now?: () => number;
  /** Told before each wait (logging); `attempt` is the try that failed (1-based). */
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
}

/** True when trying again can never help: the control plane understood and refused the call. */
export function isDefinitiveRefusal(err: unknown): boolean {
  if (!isCommandsApiError(err)) return false;
  return err.kind === 'client' && !err.retriable;
}

export function isAborted(err: unknown): boolean {
  return isCommandsApiError(err) && err.aborted;
}

export function retryThroughOutage<T>(call: () => Promise<T>, o: OutageRetryOptions): Promise<T> {
  const backoff = { base: o.baseDelayMs ?? 1000, cap: o.maxDelayMs, random: o.random ?? Math.random };
  return retry(call, {
    policy: {
      maxAttempts: Infinity,
      classify: (err) => ({ retriable: !isDefinitiveRefusal(err) && !isAborted(err) }),
      backoffMs: (n) => equalJitterDelay(n, backoff),
      deadlineMs: o.deadlineMs,
    },
    sleep: o.sleep,
    signal: o.signal,
    onRetry: o.onRetry,
    onAbort: (_reason, err) => err,
    now: o.now,
  });
}
