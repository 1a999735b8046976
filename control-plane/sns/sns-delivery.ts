/**
 * Delivery of SNS messages to HTTP(S) subscribers: one queue per subscription, in memory (a
 * restart loses what was still queued or being retried, as a local tool may; topics and
 * subscriptions themselves are in SQLite). A queue sends one message at a time, in order, so a
 * subscriber sees a deployment's events in the order they happened.
 *
 * Retry policy (retryDelayMs): a delivery fails on a non-2xx answer, a connection error or no
 * answer within `requestTimeoutMs`. The first `immediateRetries` retries follow after
 * `immediateDelayMs`, then the delay doubles from `baseBackoffMs` up to `maxBackoffMs`; after
 * `maxAttempts` attempts the message is dropped with a WARN naming the endpoint and the last
 * failure. A queue holds at most `maxQueue` messages: past that the oldest not yet in flight is
 * dropped with a WARN. All queues together hold at most `maxQueuedBytes` of message bodies (a
 * caller of Publish controls their size and number): past that a new message is dropped with a
 * WARN, so memory stays bounded however many subscribers are down. Nothing here is awaited by a publisher, so a slow or dead subscriber never
 * holds up a deployment. `close()` cancels timers and aborts requests in flight.
 *
 * Time is injected (`timers`) and so is the HTTP client (`post`), so the schedule is unit-tested
 * without waiting.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import type { Logger } from 'pino';
import { shownUrl } from '../log/clip.js';

export interface DeliveryPolicy {
  immediateRetries: number;
  immediateDelayMs: number;
  baseBackoffMs: number;
  maxBackoffMs: number;
  /** Attempts in all (the first one included) before a message is dropped. */
  maxAttempts: number;
  requestTimeoutMs: number;
  /** Messages a subscription's queue holds (the one in flight included). */
  maxQueue: number;
  /** Bytes of message bodies all queues hold together. */
  maxQueuedBytes: number;
}

export const DEFAULT_DELIVERY_POLICY: DeliveryPolicy = {
  immediateRetries: 3,
  immediateDelayMs: 100,
  baseBackoffMs: 1000,
  maxBackoffMs: 20_000,
  maxAttempts: 12,
  requestTimeoutMs: 15_000,
  maxQueue: 1000,
  maxQueuedBytes: 64 * 1024 * 1024,
};

/** The wait before the next attempt after `failedAttempts` failures, or undefined: give up. */
export function retryDelayMs(failedAttempts: number, p: DeliveryPolicy): number | undefined {
  if (failedAttempts >= p.maxAttempts) return undefined;
  if (failedAttempts <= p.immediateRetries) return p.immediateDelayMs;
  return Math.min(p.maxBackoffMs, p.baseBackoffMs * 2 ** (failedAttempts - p.immediateRetries - 1));
}

export interface DeliveryRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
  timeoutMs: number;
  signal: AbortSignal;
}

/** Sends one request; resolves with the status, rejects on a connection error, timeout or abort. */
export type DeliveryPost = (request: DeliveryRequest) => Promise<{ status: number }>;

export interface DeliveryTimers {
  /** Runs `fn` after `ms`; returns a cancel function. */
  setTimeout(fn: () => void, ms: number): () => void;
}

export interface Delivery {
  subscriptionArn: string;
  endpoint: string;
  headers: Record<string, string>;
  body: string;
  /** For logs: "Notification 1234-…". */
  what: string;
}

export interface DeliveryQueues {
  enqueue(delivery: Delivery): void;
  /** The subscription is gone: its queue is dropped (a request in flight finishes unobserved). */
  drop(subscriptionArn: string): void;
  /** Messages queued (in flight included), for one subscription or all. */
  pending(subscriptionArn?: string): number;
  close(): void;
}

interface Queue {
  items: Delivery[];
  failures: number;
  busy: boolean;
  cancelTimer?: () => void;
  abort?: AbortController;
}

export function createDeliveryQueues(opts: {
  logger: Logger;
  policy?: Partial<DeliveryPolicy>;
  post?: DeliveryPost;
  timers?: DeliveryTimers;
}): DeliveryQueues {
  const policy: DeliveryPolicy = { ...DEFAULT_DELIVERY_POLICY, ...opts.policy };
  const post = opts.post ?? httpPost;
  const timers = opts.timers ?? realTimers;
  const log = opts.logger;
  const queues = new Map<string, Queue>();
  let closed = false;
  let queuedBytes = 0;
  const sizeOf = (d: Delivery | undefined) => (d === undefined ? 0 : Buffer.byteLength(d.body));
  /** Removes the queue's first message (delivered or given up). */
  const shift = (q: Queue) => {
    queuedBytes -= sizeOf(q.items.shift());
  };

  const settle = (arn: string, q: Queue, problem: string | undefined): void => {
    q.busy = false;
    q.abort = undefined;
    if (closed || queues.get(arn) !== q) return;
    const d = q.items[0];
    if (!d) return;
    if (problem === undefined) {
      shift(q);
      q.failures = 0;
      log.debug({ subscriptionArn: arn, endpoint: shownUrl(d.endpoint), message: d.what }, 'SNS delivery succeeded');
      return pump(arn);
    }
    q.failures++;
    const delay = retryDelayMs(q.failures, policy);
    if (delay === undefined) {
      log.warn(
        { subscriptionArn: arn, endpoint: shownUrl(d.endpoint), message: d.what, attempts: q.failures, error: problem },
        `SNS delivery to ${shownUrl(d.endpoint)} given up after ${q.failures} attempts: ${problem}; the message is dropped (check that the endpoint is up and answers 2xx)`,
      );
      shift(q);
      q.failures = 0;
      return pump(arn);
    }
    log.debug(
      { subscriptionArn: arn, endpoint: shownUrl(d.endpoint), message: d.what, attempt: q.failures, error: problem, retryInMs: delay },
      'SNS delivery failed; retrying',
    );
    q.cancelTimer = timers.setTimeout(() => {
      q.cancelTimer = undefined;
      pump(arn);
    }, delay);
  };

  const pump = (arn: string): void => {
    const q = queues.get(arn);
    if (closed || !q || q.busy || q.cancelTimer) return;
    const d = q.items[0];
    if (!d) {
      queues.delete(arn);
      return;
    }
    q.busy = true;
    const abort = new AbortController();
    q.abort = abort;
    let sent: Promise<{ status: number }>;
    try {
      sent = post({ url: d.endpoint, headers: d.headers, body: d.body, timeoutMs: policy.requestTimeoutMs, signal: abort.signal });
    } catch (err) {
      sent = Promise.reject(err);
    }
    sent.then(
      (r) => settle(arn, q, r.status >= 200 && r.status < 300 ? undefined : `the endpoint answered HTTP ${r.status}`),
      (err: unknown) => settle(arn, q, describe(err)),
    );
  };

  return {
    enqueue(d) {
      if (closed) return;
      const size = sizeOf(d);
      if (queuedBytes + size > policy.maxQueuedBytes) {
        log.warn(
          {
            subscriptionArn: d.subscriptionArn,
            endpoint: shownUrl(d.endpoint),
            message: d.what,
            queuedBytes,
            maxQueuedBytes: policy.maxQueuedBytes,
          },
          `SNS delivery queues are full (${policy.maxQueuedBytes} bytes waiting for subscribers that do not answer); ${d.what} for ${shownUrl(d.endpoint)} is dropped`,
        );
        return;
      }
      let q = queues.get(d.subscriptionArn);
      if (!q) {
        q = { items: [], failures: 0, busy: false };
        queues.set(d.subscriptionArn, q);
      }
      if (q.items.length >= policy.maxQueue) {
        const index = q.busy ? 1 : 0;
        const [dropped] = q.items.splice(index, 1);
        queuedBytes -= sizeOf(dropped);
        if (index === 0) q.failures = 0;
        log.warn(
          { subscriptionArn: d.subscriptionArn, endpoint: shownUrl(d.endpoint), message: dropped?.what, maxQueue: policy.maxQueue },
          `SNS delivery queue for ${shownUrl(d.endpoint)} is full (${policy.maxQueue} messages); the oldest waiting message is dropped`,
        );
      }
      q.items.push(d);
      queuedBytes += size;
      pump(d.subscriptionArn);
    },
    drop(arn) {
      const q = queues.get(arn);
      if (!q) return;
      q.cancelTimer?.();
      q.abort?.abort(new Error('the subscription was removed'));
      for (const item of q.items) queuedBytes -= sizeOf(item);
      queues.delete(arn);
    },
    pending(arn) {
      if (arn !== undefined) return queues.get(arn)?.items.length ?? 0;
      let n = 0;
      for (const q of queues.values()) n += q.items.length;
      return n;
    },
    close() {
      if (closed) return;
      closed = true;
      let dropped = 0;
      for (const q of queues.values()) {
        dropped += q.items.length;
        q.cancelTimer?.();
        q.abort?.abort(new Error('the control plane is stopping'));
      }
      queues.clear();
      if (dropped > 0) log.info({ dropped }, `SNS delivery stopped with ${dropped} message(s) not delivered`);
    },
  };
}

function describe(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    return code ? `${code}: ${err.message}` : err.message;
  }
  return String(err);
}

const realTimers: DeliveryTimers = {
  setTimeout(fn, ms) {
    const t = setTimeout(fn, ms);
    t.unref();
    return () => clearTimeout(t);
  },
};

/** POST with node:http(s); the answer's body is read and discarded (it is not SNS's business). */
export const httpPost: DeliveryPost = (r) =>
  new Promise((resolve, reject) => {
    const url = new URL(r.url);
    const client = url.protocol === 'https:' ? https : http;
    const timeout = AbortSignal.timeout(r.timeoutMs);
    const signal = AbortSignal.any([r.signal, timeout]);
    const req = client.request(url, { method: 'POST', headers: r.headers, signal }, (res) => {
      res.resume();
      res.on('error', () => undefined);
      resolve({ status: res.statusCode ?? 0 });
    });
    req.on('error', (err) => {
      if (timeout.aborted) reject(new Error(`no answer within ${r.timeoutMs} ms`));
      else reject(err);
    });
    req.end(r.body);
  });
