/**
 * Riding out a control-plane outage (DESIGN.md section 8: a command's outcome survives outages of
 * any length). The commands client's own retries (retry-policy.ts) cover a blip of a second or
 * so; calls whose loss would lose a command (GetDeploymentSpecification, the acknowledgement,
 * PutHostCommandComplete) are wrapped here and tried again until they get an answer, a definitive
 * refusal, or their deadline.
 *
 * Tried again: everything except a definitive refusal, i.e. a 4xx the policy does not retry
 * (`kind: 'client'`): a network error, 5xx, throttling, a malformed answer (a captive proxy), and
 * missing credentials (IMDS or the on-premises credentials file may come back with the network).
 * Never tried again: an aborted call (shutdown).
 *
 * Wait before try n+1: min(cap, base x 2^(n-1)) x (0.5 + 0.5 x random()): capped exponential
 * backoff with "equal" jitter, so hosts that lost the control plane together do not return in
 * step, and no wait is near zero.
 */
import { isCommandsApiError } from './commands-api-error.js';

export interface OutageRetryOptions {
  /** Stops waiting (shutdown): the last error is thrown. */
  signal?: AbortSignal;
  /** Give up after this many ms from the first try. Default: never. */
  deadlineMs?: number;
  baseDelayMs?: number;
  maxDelayMs: number;
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
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

export function outageDelayMs(attempt: number, o: Pick<OutageRetryOptions, 'baseDelayMs' | 'maxDelayMs' | 'random'>): number {
  const base = o.baseDelayMs ?? 1000;
  const ceiling = Math.min(o.maxDelayMs, base * 2 ** Math.min(Math.max(0, attempt - 1), 40));
  return Math.round(ceiling * (0.5 + 0.5 * (o.random ?? Math.random)()));
}

export async function retryThroughOutage<T>(call: () => Promise<T>, o: OutageRetryOptions): Promise<T> {
  const now = o.now ?? Date.now;
  const started = now();
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (err) {
      if (isDefinitiveRefusal(err) || isAborted(err) || o.signal?.aborted) throw err;
      const delay = outageDelayMs(attempt, o);
      if (o.deadlineMs !== undefined && now() - started + delay > o.deadlineMs) throw err;
      o.onRetry?.(err, attempt, delay);
      try {
        await o.sleep(delay, o.signal);
      } catch {
        throw err;
      }
    }
  }
}
