/**
 * The agent's retry policy, written down once (STYLE.md "Errors"; undici's status and errno lists,
 * the AWS SDK's standard retry mode). The commands client follows it whole; the S3 and GitHub
 * fetchers use its network codes, statuses, backoff and Retry-After parsing; retry.ts runs the loops.
 *
 * Retried by the commands client (up to `maxAttempts` attempts per call, 3 by default):
 * - network errors: ECONNRESET, ECONNREFUSED, ECONNABORTED, ETIMEDOUT, EPIPE, ENOTFOUND,
 *   EAI_AGAIN, ENETUNREACH, ENETDOWN, EHOSTUNREACH, EHOSTDOWN, "socket hang up", and our own read
 *   (socket idle) timeout;
 * - HTTP 408, 429, 500, 502, 503, 504;
 * - throttling error codes, whatever the status: Throttling, ThrottlingException, ThrottledException,
 *   RequestThrottledException, TooManyRequestsException, ProvisionedThroughputExceededException,
 *   TransactionInProgressException, RequestLimitExceeded, BandwidthLimitExceeded, LimitExceededException,
 *   RequestThrottled, SlowDown, PriorRequestNotComplete, EC2ThrottledException, RateExceeded;
 * - the model's server fault `ServerException` (and any 5xx above).
 *
 * Not retried: every other 4xx, including ClientException, AccessDenied(Exception),
 * signature and identity errors (InvalidSignatureException, SignatureDoesNotMatch,
 * IncompleteSignature, UnrecognizedClientException, InvalidClientTokenId), a malformed answer,
 * a missing CA bundle, and an aborted call.
 *
 * Expired credentials (ExpiredToken, ExpiredTokenException): the provider is asked once for fresh
 * credentials (`forceRefresh`) and the call is repeated at once; this retry is not counted against
 * `maxAttempts`. A second expiry in the same call is fatal.
 *
 * Delay before retry n (1-based): a `Retry-After` header when the answer has one (seconds or an
 * HTTP date, capped at `maxRetryAfterMs`), else FULL jitter: random() x min(cap, base x 2^(n-1)),
 * with base 100 ms (500 ms for throttling) and cap 20 s.
 *
 * Riding out an outage (commands-client/outage-retry.ts, the S3 fetcher's outage window) waits
 * longer and never near zero: EQUAL jitter, min(cap, base x 2^(n-1)) x (0.5 + 0.5 x random()).
 *
 * The poll loop has its own, slower curve on top of this (pollLoopBackoffSeconds, docs/reference.md section 1.5).
 */

export interface RetryPolicy {
  /** Attempts per call, the first one included. */
  maxAttempts: number;
  baseDelayMs: number;
  throttlingBaseDelayMs: number;
  maxDelayMs: number;
  /** The longest wait a Retry-After header can ask for. */
  maxRetryAfterMs: number;
}

export const DEFAULT_RETRY_POLICY: Readonly<RetryPolicy> = Object.freeze({
  maxAttempts: 3,
  baseDelayMs: 100,
  throttlingBaseDelayMs: 500,
  maxDelayMs: 20_000,
  maxRetryAfterMs: 20_000,
});

export const RETRIABLE_STATUS_CODES: ReadonlySet<number> = new Set([408, 429, 500, 502, 503, 504]);

export const RETRIABLE_NETWORK_CODES: ReadonlySet<string> = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ENETUNREACH',
  'ENETDOWN',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'UND_ERR_SOCKET',
  /** Our own code for a read (socket idle) timeout. */
  'READ_TIMEOUT',
]);

export const THROTTLING_ERROR_CODES: ReadonlySet<string> = new Set([
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'RequestThrottledException',
  'TooManyRequestsException',
  'ProvisionedThroughputExceededException',
  'TransactionInProgressException',
  'RequestLimitExceeded',
  'BandwidthLimitExceeded',
  'LimitExceededException',
  'RequestThrottled',
  'SlowDown',
  'PriorRequestNotComplete',
  'EC2ThrottledException',
  'RateExceeded',
]);

export const SERVER_ERROR_CODES: ReadonlySet<string> = new Set([
  'ServerException',
  'InternalFailure',
  'ServiceUnavailable',
  'InternalServerError',
]);

export const EXPIRED_CREDENTIALS_CODES: ReadonlySet<string> = new Set(['ExpiredToken', 'ExpiredTokenException']);

export type FailureKind = 'network' | 'throttling' | 'server' | 'expired-credentials' | 'client';

export interface Failure {
  /** HTTP status of the answer, when there was one. */
  statusCode?: number;
  /** The service error code (`__type` / x-amzn-ErrorType, without namespace). */
  serviceCode?: string;
  /** errno-style code of a network error (ECONNRESET, READ_TIMEOUT, ...). */
  networkCode?: string;
  /** The network error's message (for "socket hang up", which has no code of its own). */
  networkMessage?: string;
}

export interface Classification {
  kind: FailureKind;
  /** Retry with backoff (expired credentials are handled apart: refresh once, then retry). */
  retriable: boolean;
}

export function classifyFailure(f: Failure): Classification {
  if (f.statusCode === undefined) {
    const retriable =
      (f.networkCode !== undefined && RETRIABLE_NETWORK_CODES.has(f.networkCode)) || /socket hang up/i.test(f.networkMessage ?? '');
    return { kind: 'network', retriable };
  }
  const code = f.serviceCode;
  if (code && EXPIRED_CREDENTIALS_CODES.has(code)) return { kind: 'expired-credentials', retriable: false };
  if ((code && THROTTLING_ERROR_CODES.has(code)) || f.statusCode === 429) return { kind: 'throttling', retriable: true };
  if ((code && SERVER_ERROR_CODES.has(code)) || f.statusCode >= 500) {
    return { kind: 'server', retriable: RETRIABLE_STATUS_CODES.has(f.statusCode) || (code !== undefined && SERVER_ERROR_CODES.has(code)) };
  }
  return { kind: 'client', retriable: RETRIABLE_STATUS_CODES.has(f.statusCode) };
}

export interface BackoffOptions {
  base: number;
  cap: number;
  /** A number in [0, 1); Math.random in production, fixed in tests. */
  random: () => number;
}

/** Full-jitter delay in ms before retry `attempt` (1-based): random() x min(cap, base x 2^(attempt-1)). */
export function backoffDelay(attempt: number, opts: BackoffOptions): number {
  const exp = Math.max(0, attempt - 1);
  // 2^exp overflows to Infinity for huge attempts; min() with the cap keeps it finite.
  const ceiling = Math.min(opts.cap, opts.base * 2 ** Math.min(exp, 1024));
  return Math.floor(opts.random() * ceiling);
}

/**
 * Equal-jitter delay in ms before retry `attempt` (1-based): min(cap, base x 2^(attempt-1)) x
 * (0.5 + 0.5 x random()), rounded. For outages: hosts that lost a service together do not come
 * back in step, and no wait is near zero.
 */
export function equalJitterDelay(attempt: number, opts: BackoffOptions): number {
  const ceiling = Math.min(opts.cap, opts.base * 2 ** Math.min(Math.max(0, attempt - 1), 40));
  return Math.round(ceiling * (0.5 + 0.5 * opts.random()));
}

/**
 * A Retry-After header value in ms: delta-seconds ("2", "1.5") or an HTTP date (relative to `nowMs`).
 * Returns undefined for a missing or unparsable value; a date in the past gives 0; capped at `capMs`.
 */
export function parseRetryAfter(value: string | undefined, nowMs: number, capMs: number): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (text === '') return undefined;
  let ms: number;
  if (/^\d+(\.\d+)?$/.test(text)) {
    ms = Math.round(Number(text) * 1000);
  } else {
    // Only accept something that looks like a date, not any string Date.parse tolerates.
    if (!/[a-z]/i.test(text)) return undefined;
    const at = Date.parse(text);
    if (Number.isNaN(at)) return undefined;
    ms = Math.max(0, at - nowMs);
  }
  return Math.min(ms, capMs);
}

/** The delay before retry `attempt` of a failure of `kind`, honouring Retry-After when present. */
export function retryDelay(
  attempt: number,
  kind: FailureKind,
  retryAfterMs: number | undefined,
  policy: RetryPolicy,
  random: () => number,
): number {
  if (retryAfterMs !== undefined) return retryAfterMs;
  const base = kind === 'throttling' ? policy.throttlingBaseDelayMs : policy.baseDelayMs;
  return backoffDelay(attempt, { base, cap: policy.maxDelayMs, random });
}

/**
 * The poll loop's backoff in seconds after `errorCount` consecutive errors (docs/reference.md section 1.5):
 * floor(1.2675^n x 90 / 1.2675^10) with n capped at 10, i.e. 10, 13, 17, 21, 27, 34, 44, 56, 71, 90.
 * 0 for no errors. The poller adds jitter and subtracts the time the failed call took.
 */
export function pollLoopBackoffSeconds(errorCount: number): number {
  if (!(errorCount >= 1)) return 0;
  const n = Math.min(Math.floor(errorCount), 10);
  // Same value as 1.2675^n x 90 / 1.2675^10, written so that n = 10 gives exactly 90 (no 89.999...).
  return Math.floor(90 / 1.2675 ** (10 - n));
}
