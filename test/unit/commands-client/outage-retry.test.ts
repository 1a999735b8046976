import { describe, expect, it } from 'vitest';
import { CommandsApiError } from '../../../agent/commands-client/commands-api-error.js';
import { isDefinitiveRefusal, retryThroughOutage } from '../../../agent/commands-client/outage-retry.js';

const apiError = (kind: 'server' | 'client' | 'aborted' | 'network', retriable: boolean): CommandsApiError =>
  new CommandsApiError({ operation: 'PutHostCommandComplete', kind, retriable, attempts: 3 }, kind);

/** Fails with `failures` in turn, then answers 'done'. */
function scripted(failures: Error[]): { call: () => Promise<string>; calls: () => number } {
  let n = 0;
  return {
    call: () => {
      const failure = failures[n++];
      return failure ? Promise.reject(failure) : Promise.resolve('done');
    },
    calls: () => n,
  };
}

describe('retryThroughOutage', () => {
  it('tries again through network errors and 5xx with equal-jitter waits until an answer', async () => {
    const { call, calls } = scripted([
      apiError('network', true),
      apiError('server', true),
      apiError('server', false),
      new Error('malformed'),
    ]);
    const delays: number[] = [];
    const result = await retryThroughOutage(call, {
      maxDelayMs: 3000,
      sleep: (ms) => (delays.push(ms), Promise.resolve()),
      random: () => 0,
    });
    expect(result).toBe('done');
    expect(calls()).toBe(5);
    expect(delays).toEqual([500, 1000, 1500, 1500]);
  });

  it('stops at a definitive refusal (a 4xx the policy does not retry) and at an aborted call', async () => {
    const refusal = apiError('client', false);
    expect(isDefinitiveRefusal(refusal)).toBe(true);
    await expect(retryThroughOutage(scripted([refusal]).call, { maxDelayMs: 1000, sleep: () => Promise.resolve() })).rejects.toBe(refusal);
    const aborted = apiError('aborted', false);
    await expect(retryThroughOutage(scripted([aborted]).call, { maxDelayMs: 1000, sleep: () => Promise.resolve() })).rejects.toBe(aborted);
  });

  it('gives up at its deadline with the last error', async () => {
    const failures = Array.from({ length: 10 }, () => apiError('server', true));
    let clock = 0;
    const sleep = (ms: number): Promise<void> => ((clock += ms), Promise.resolve());
    const run = retryThroughOutage(scripted(failures).call, {
      maxDelayMs: 60_000,
      deadlineMs: 3000,
      sleep,
      now: () => clock,
      random: () => 0,
    });
    // Waits of 500 and 1000 fit in 3 s; the third (2000) would end at 3500.
    await expect(run).rejects.toBe(failures[2]);
    expect(clock).toBe(1500);
  });

  it('throws the last error when shutdown cuts a wait short', async () => {
    const controller = new AbortController();
    const failure = apiError('server', true);
    const sleep = (_ms: number, signal?: AbortSignal): Promise<void> => {
      controller.abort(new Error('stopping'));
      return Promise.reject(signal?.reason as Error);
    };
    await expect(retryThroughOutage(scripted([failure]).call, { maxDelayMs: 1000, sleep, signal: controller.signal })).rejects.toBe(
      failure,
    );
  });
});
