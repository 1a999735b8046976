/**
 * SNS delivery queues with an injected clock and HTTP client: the written retry schedule, retries
 * until a 2xx, giving up with a WARN naming the endpoint and why, order within a subscription,
 * independence between subscriptions, the queue bound (oldest waiting message dropped with a
 * WARN), removal of a subscription and close().
 */
import { describe, expect, it } from 'vitest';
import {
  createDeliveryQueues,
  DEFAULT_DELIVERY_POLICY,
  retryDelayMs,
  type DeliveryRequest,
  type DeliveryTimers,
} from '../../../../control-plane/sns/sns-delivery.js';
import { captureLogger } from '../../../helpers/temp.js';

/** Timers that only run when the test says so, recording each delay. */
function manualTimers() {
  const pending: { fn: () => void; ms: number; cancelled: boolean }[] = [];
  const timers: DeliveryTimers = {
    setTimeout(fn, ms) {
      const t = { fn, ms, cancelled: false };
      pending.push(t);
      return () => void (t.cancelled = true);
    },
  };
  const delays: number[] = [];
  return {
    timers,
    delays,
    /** Runs every timer due now; returns how many ran. */
    fire(): number {
      const due = pending.splice(0).filter((t) => !t.cancelled);
      for (const t of due) {
        delays.push(t.ms);
        t.fn();
      }
      return due.length;
    },
    waiting: () => pending.filter((t) => !t.cancelled).length,
  };
}

/** A scripted endpoint: answers from `script` per call (a status, or 'error'), 200 once it runs out. */
function scriptedPost(script: (number | 'error')[]) {
  const calls: DeliveryRequest[] = [];
  return {
    calls,
    post: (r: DeliveryRequest) => {
      calls.push(r);
      const next = script.shift() ?? 200;
      return next === 'error'
        ? Promise.reject(Object.assign(new Error('connect refused'), { code: 'ECONNREFUSED' }))
        : Promise.resolve({ status: next });
    },
  };
}

const flush = () => new Promise<void>((r) => setImmediate(r));
const delivery = (n: number, sub = 'sub-1') => ({
  subscriptionArn: sub,
  endpoint: `http://receiver/${sub}`,
  headers: {},
  body: `m${n}`,
  what: `Notification ${n}`,
});

describe('the retry schedule', () => {
  it('is 3 quick retries, then doubling from 1 s up to 20 s, and gives up after 12 attempts', () => {
    const schedule = Array.from({ length: 12 }, (_, i) => retryDelayMs(i + 1, DEFAULT_DELIVERY_POLICY));
    expect(schedule).toEqual([100, 100, 100, 1000, 2000, 4000, 8000, 16000, 20000, 20000, 20000, undefined]);
  });
});

describe('delivery queues', () => {
  it('retry a failing endpoint with the schedule until it answers 2xx, then send the next message', async () => {
    const t = manualTimers();
    const endpoint = scriptedPost([500, 'error', 503, 500, 200]);
    const q = createDeliveryQueues({ logger: captureLogger().logger, post: endpoint.post, timers: t.timers });
    q.enqueue(delivery(1));
    q.enqueue(delivery(2));
    for (let i = 0; i < 10; i++) {
      await flush();
      t.fire();
    }
    await flush();
    expect(endpoint.calls.map((c) => c.body)).toEqual(['m1', 'm1', 'm1', 'm1', 'm1', 'm2']);
    expect(t.delays).toEqual([100, 100, 100, 1000]);
    expect(endpoint.calls[0]?.timeoutMs).toBe(DEFAULT_DELIVERY_POLICY.requestTimeoutMs);
    expect(q.pending()).toBe(0);
  });

  it('give up after maxAttempts with a WARN naming the endpoint and the failure, and go on', async () => {
    const t = manualTimers();
    const log = captureLogger();
    const endpoint = scriptedPost([500, 500, 500]);
    const q = createDeliveryQueues({ logger: log.logger, post: endpoint.post, timers: t.timers, policy: { maxAttempts: 3 } });
    q.enqueue(delivery(1));
    q.enqueue(delivery(2));
    for (let i = 0; i < 5; i++) {
      await flush();
      t.fire();
    }
    await flush();
    expect(endpoint.calls.map((c) => c.body)).toEqual(['m1', 'm1', 'm1', 'm2']);
    const warn = log.lines().find((l) => l['level'] === 40);
    expect(String(warn?.['msg'])).toContain('SNS delivery to http://receiver/… given up after 3 attempts: the endpoint answered HTTP 500');
  });

  it('keep subscriptions apart: one failing does not hold up another', async () => {
    const t = manualTimers();
    const calls: string[] = [];
    const q = createDeliveryQueues({
      logger: captureLogger().logger,
      timers: t.timers,
      post: (r) => {
        calls.push(r.url);
        return Promise.resolve({ status: r.url.endsWith('bad') ? 500 : 204 });
      },
    });
    q.enqueue(delivery(1, 'bad'));
    q.enqueue(delivery(1, 'good'));
    q.enqueue(delivery(2, 'good'));
    await flush();
    await flush();
    expect(calls.filter((u) => u.endsWith('good'))).toHaveLength(2);
    expect(q.pending('bad')).toBe(1);
    expect(q.pending('good')).toBe(0);
    q.drop('bad');
    expect(t.fire()).toBe(0);
    expect(q.pending()).toBe(0);
  });

  it('hold at most maxQueue messages, dropping the oldest waiting one with a WARN', async () => {
    const t = manualTimers();
    const log = captureLogger();
    let release: (v: { status: number }) => void = () => undefined;
    const bodies: string[] = [];
    const q = createDeliveryQueues({
      logger: log.logger,
      timers: t.timers,
      policy: { maxQueue: 3 },
      post: (r) => {
        bodies.push(r.body);
        return new Promise((resolve) => (release = resolve));
      },
    });
    for (let i = 1; i <= 5; i++) q.enqueue(delivery(i));
    expect(q.pending()).toBe(3);
    expect(log.lines().filter((l) => l['level'] === 40)).toHaveLength(2);
    for (let i = 0; i < 3; i++) {
      release({ status: 200 });
      await flush();
    }
    // m1 was in flight and kept; m2 and m3 were the oldest waiting ones.
    expect(bodies).toEqual(['m1', 'm4', 'm5']);
  });

  it('hold at most maxQueuedBytes across all subscriptions, dropping new messages with a WARN, and free the budget as they go', async () => {
    const t = manualTimers();
    const log = captureLogger();
    const releases: ((v: { status: number }) => void)[] = [];
    const q = createDeliveryQueues({
      logger: log.logger,
      timers: t.timers,
      policy: { maxQueuedBytes: 6 }, // three 2-byte bodies
      post: () => new Promise((resolve) => releases.push(resolve)),
    });
    q.enqueue(delivery(1, 'a'));
    q.enqueue(delivery(2, 'b'));
    q.enqueue(delivery(3, 'c'));
    q.enqueue(delivery(4, 'd'));
    expect(q.pending()).toBe(3);
    expect(
      log
        .lines()
        .filter((l) => l['level'] === 40)
        .map((l) => l['msg']),
    ).toEqual([expect.stringContaining('Notification 4 for http://receiver/… is dropped')]);
    releases[0]?.({ status: 200 });
    await flush();
    q.enqueue(delivery(5, 'd'));
    expect(q.pending()).toBe(3);
    q.drop('b');
    q.enqueue(delivery(6, 'e'));
    expect(q.pending()).toBe(3);
  });

  it('stop on close: timers cancelled, requests aborted, nothing sent after', async () => {
    const t = manualTimers();
    let signal: AbortSignal | undefined;
    const q = createDeliveryQueues({
      logger: captureLogger().logger,
      timers: t.timers,
      post: (r) => {
        signal = r.signal;
        return new Promise(() => undefined);
      },
    });
    q.enqueue(delivery(1));
    q.close();
    expect(signal?.aborted).toBe(true);
    q.enqueue(delivery(2));
    expect(q.pending()).toBe(0);
    expect(t.waiting()).toBe(0);
  });
});
