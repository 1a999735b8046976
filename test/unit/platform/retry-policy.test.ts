import { describe, expect, it } from 'vitest';
import {
  backoffDelay,
  classifyFailure,
  DEFAULT_RETRY_POLICY,
  equalJitterDelay,
  parseRetryAfter,
  pollLoopBackoffSeconds,
  retryDelay,
} from '../../../agent/platform/retry-policy.js';

describe('classifyFailure', () => {
  it.each([
    // network
    [{ networkCode: 'ECONNRESET' }, 'network', true],
    [{ networkCode: 'ECONNREFUSED' }, 'network', true],
    [{ networkCode: 'ETIMEDOUT' }, 'network', true],
    [{ networkCode: 'EPIPE' }, 'network', true],
    [{ networkCode: 'ENOTFOUND' }, 'network', true],
    [{ networkCode: 'EAI_AGAIN' }, 'network', true],
    [{ networkCode: 'READ_TIMEOUT' }, 'network', true],
    [{ networkCode: 'ENETWORK', networkMessage: 'socket hang up' }, 'network', true],
    [{ networkCode: 'CERT_HAS_EXPIRED' }, 'network', false],
    [{ networkCode: 'RESPONSE_TOO_LARGE' }, 'network', false],
    // statuses
    [{ statusCode: 408 }, 'client', true],
    [{ statusCode: 429 }, 'throttling', true],
    [{ statusCode: 500 }, 'server', true],
    [{ statusCode: 502 }, 'server', true],
    [{ statusCode: 503 }, 'server', true],
    [{ statusCode: 504 }, 'server', true],
    [{ statusCode: 501 }, 'server', false],
    [{ statusCode: 404 }, 'client', false],
    // codes
    [{ statusCode: 400, serviceCode: 'ThrottlingException' }, 'throttling', true],
    [{ statusCode: 400, serviceCode: 'Throttling' }, 'throttling', true],
    [{ statusCode: 400, serviceCode: 'ThrottledException' }, 'throttling', true],
    [{ statusCode: 400, serviceCode: 'RequestThrottledException' }, 'throttling', true],
    [{ statusCode: 400, serviceCode: 'TooManyRequestsException' }, 'throttling', true],
    [{ statusCode: 400, serviceCode: 'ProvisionedThroughputExceededException' }, 'throttling', true],
    [{ statusCode: 503, serviceCode: 'RequestLimitExceeded' }, 'throttling', true],
    [{ statusCode: 400, serviceCode: 'RateExceeded' }, 'throttling', true],
    [{ statusCode: 400, serviceCode: 'ServerException' }, 'server', true],
    [{ statusCode: 500, serviceCode: 'ServerException' }, 'server', true],
    [{ statusCode: 400, serviceCode: 'ClientException' }, 'client', false],
    [{ statusCode: 403, serviceCode: 'AccessDeniedException' }, 'client', false],
    [{ statusCode: 403, serviceCode: 'InvalidSignatureException' }, 'client', false],
    [{ statusCode: 403, serviceCode: 'SignatureDoesNotMatch' }, 'client', false],
    [{ statusCode: 400, serviceCode: 'UnrecognizedClientException' }, 'client', false],
    [{ statusCode: 400, serviceCode: 'ExpiredTokenException' }, 'expired-credentials', false],
    [{ statusCode: 403, serviceCode: 'ExpiredToken' }, 'expired-credentials', false],
  ])('%j -> %s, retriable %s', (failure, kind, retriable) => {
    expect(classifyFailure(failure)).toEqual({ kind, retriable });
  });
});

describe('backoffDelay (full jitter)', () => {
  const opts = (random: number) => ({ base: 100, cap: 20_000, random: () => random });

  it('is random() x min(cap, base x 2^(attempt-1))', () => {
    expect([1, 2, 3, 4, 5].map((n) => backoffDelay(n, opts(0.999999)))).toEqual([99, 199, 399, 799, 1599]);
    expect([1, 2, 3].map((n) => backoffDelay(n, opts(0.5)))).toEqual([50, 100, 200]);
  });

  it('is 0 with random() = 0 and never above the cap', () => {
    expect(backoffDelay(3, opts(0))).toBe(0);
    expect(backoffDelay(9, opts(0.999999))).toBe(19_999);
    expect(backoffDelay(5000, opts(0.5))).toBe(10_000);
  });

  it('uses the larger base for throttling, and Retry-After when given', () => {
    const p = DEFAULT_RETRY_POLICY;
    expect(retryDelay(1, 'throttling', undefined, p, () => 0.5)).toBe(250);
    expect(retryDelay(2, 'server', undefined, p, () => 0.5)).toBe(100);
    expect(retryDelay(2, 'throttling', 2000, p, () => 0.5)).toBe(2000);
  });
});

describe('equalJitterDelay (outages)', () => {
  const opts = (random: number) => ({ base: 1000, cap: 20_000, random: () => random });

  it('is min(cap, base x 2^(attempt-1)) x (0.5 + 0.5 x random()): never below half the ceiling', () => {
    expect([1, 2, 3, 4, 5, 6].map((n) => equalJitterDelay(n, opts(0)))).toEqual([500, 1000, 2000, 4000, 8000, 10_000]);
    expect([1, 2, 3].map((n) => equalJitterDelay(n, opts(0.5)))).toEqual([750, 1500, 3000]);
    expect(equalJitterDelay(1000, opts(0.999999))).toBe(20_000);
  });
});

describe('parseRetryAfter', () => {
  const now = Date.UTC(2024, 0, 1, 12, 0, 0);
  it.each([
    [undefined, undefined],
    ['', undefined],
    ['2', 2000],
    ['0', 0],
    ['1.5', 1500],
    ['600', 20_000],
    ['-1', undefined],
    ['soon', undefined],
    ['Mon, 01 Jan 2024 12:00:05 GMT', 5000],
    ['Mon, 01 Jan 2024 11:00:00 GMT', 0],
    ['Mon, 01 Jan 2024 13:00:00 GMT', 20_000],
  ])('%j -> %j ms', (value, expected) => {
    expect(parseRetryAfter(value, now, 20_000)).toBe(expected);
  });
});

describe('pollLoopBackoffSeconds (docs/reference.md section 1.5)', () => {
  it('follows the official 10 s -> 90 s curve', () => {
    expect(Array.from({ length: 12 }, (_, i) => pollLoopBackoffSeconds(i + 1))).toEqual([10, 13, 17, 21, 27, 34, 44, 56, 71, 90, 90, 90]);
    expect(pollLoopBackoffSeconds(0)).toBe(0);
  });
});
