/**
 * A small client for the EC2 instance metadata service (IMDS), docs/reference.md section 2.7.
 *
 * IMDSv2 first: PUT /latest/api/token (TTL 21600 s), the token sent as X-aws-ec2-metadata-token,
 * cached and refreshed at 80% of its TTL, and dropped and re-fetched once on a 401. When the token
 * PUT fails the client falls back to IMDSv1 with the official WARN, unless disableV1, which raises
 * the official "HTTP error from metadata service to get imdsv2 token." instead.
 *
 * Differences from the official agent, on purpose:
 * - Timeout 2 s per request, not 10 s: on an on-premises host without IMDS the official pays
 *   10 s x 3 attempts (+1 s +2 s sleeps) for v2 and again for v1 on every client build (11.1).
 *   IMDS answers in milliseconds on EC2, so 2 s only matters when it is not there.
 * - available() is a single short probe (1 s), cached, so an absent IMDS is paid for once.
 * - A 401 drops the token at once and retries once with a new one (the official first retries
 *   the 401 three times with the stale token).
 * - After the token PUT was refused by a reachable IMDS (403/404/405...), v1 is used for five
 *   minutes without asking for a token again (the official re-tries the PUT on every call).
 *
 * Retry policy (one place, run by platform/retry.ts): network errors, timeouts, 408, 429 and 5xx
 * are retried up to `attempts` times in all with a doubling backoff without jitter (250 ms, 500 ms
 * by default: one host, one link-local service, nobody to fall in step with); any other status is
 * final at once (a 404 means the path does not exist, 403 that IMDS refuses us).
 *
 * IMDS is plain HTTP on a link-local address: requests use node:http with no agent
 * (agent: false), so no proxy setting or keep-alive pool ever applies.
 */
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import type { Logger } from 'pino';
import { AgentError, ErrorCodes } from '../errors.js';
import { toError } from '../../common/errors.js';
import { retry } from '../platform/retry.js';
import { sleep as defaultSleep, type Sleep } from '../platform/sleep.js';

export const TOKEN_PATH = '/latest/api/token';
export const TOKEN_TTL_HEADER = 'x-aws-ec2-metadata-token-ttl-seconds';
export const TOKEN_HEADER = 'x-aws-ec2-metadata-token';
export const DEFAULT_TOKEN_TTL_SECONDS = 21600;
export const V2_FALLBACK_WARNING = 'IMDSv2 http request failed, falling back to IMDSv1.';
export const V2_TOKEN_ERROR = 'HTTP error from metadata service to get imdsv2 token.';

export type ImdsMode = 'v2' | 'v1' | 'unknown';

export interface ImdsClient {
  /** GET a metadata path (e.g. /latest/meta-data/instance-id); the value whitespace-trimmed. */
  get(path: string): Promise<string>;
  /** Whether IMDS answers at all (one short probe, cached). Never throws. */
  available(): Promise<boolean>;
  /** The protocol of the last successful request: 'v2', 'v1', or 'unknown' before any. */
  mode(): ImdsMode;
  /** The endpoint, for messages. */
  readonly endpoint: string;
}

export interface ImdsClientOptions {
  /** e.g. http://169.254.169.254 (AgentConfig.imdsEndpoint). */
  endpoint: string;
  /** :disable_imds_v1: */
  disableV1: boolean;
  logger: Logger;
  /** Per request, connect to last byte. Default 2000 (official: 10 s, too slow off EC2). */
  timeoutMs?: number;
  /** Tries per request, the first included. Default 3 (as the official). */
  attempts?: number;
  /** First retry delay; doubles per retry. Default 250. */
  retryDelayMs?: number;
  /** Timeout of the available() probe. Default 1000. */
  probeTimeoutMs?: number;
  /** How long a negative available() answer is kept. Default 60 000. */
  unavailableCacheMs?: number;
  /** How long to stay on v1 after a reachable IMDS refused the token PUT. Default 300 000. */
  v1FallbackMs?: number;
  tokenTtlSeconds?: number;
  sleep?: Sleep;
  now?: () => number;
}

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

const MAX_BODY_BYTES = 64 * 1024;

/** An answer worth asking again for (408, 429, 5xx); the last one is returned when the tries run out. */
class RetriableReply extends Error {
  constructor(readonly reply: Reply) {
    super(`HTTP ${reply.status}`);
  }
}

const isRetriableStatus = (status: number): boolean => status === 408 || status === 429 || status >= 500;

/** The HTTP status carried by an IMDS error from this client, if any. */
export function imdsStatus(err: unknown): number | undefined {
  if (err instanceof AgentError && typeof err.details.statusCode === 'number') return err.details.statusCode;
  return undefined;
}

export function createImdsClient(opts: ImdsClientOptions): ImdsClient {
  const base = opts.endpoint.replace(/\/+$/, '');
  const timeoutMs = opts.timeoutMs ?? 2000;
  const attempts = Math.max(1, opts.attempts ?? 3);
  const retryDelayMs = opts.retryDelayMs ?? 250;
  const probeTimeoutMs = opts.probeTimeoutMs ?? 1000;
  const unavailableCacheMs = opts.unavailableCacheMs ?? 60_000;
  const v1FallbackMs = opts.v1FallbackMs ?? 300_000;
  const ttlSeconds = opts.tokenTtlSeconds ?? DEFAULT_TOKEN_TTL_SECONDS;
  const sleep = opts.sleep ?? defaultSleep;
  const now = opts.now ?? Date.now;
  const { logger } = opts;

  let token: { value: string; refreshAt: number } | undefined;
  let v1Until = 0;
  let tokenInFlight: Promise<string | undefined> | undefined;
  let lastMode: ImdsMode = 'unknown';
  let availability: { value: boolean; until: number } | undefined;
  let probeInFlight: Promise<boolean> | undefined;

  function send(method: 'GET' | 'PUT', path: string, headers: Record<string, string>, limitMs: number): Promise<Reply> {
    return new Promise<Reply>((resolvePromise, reject) => {
      let url: URL;
      try {
        url = new URL(base + path);
      } catch (err) {
        reject(toError(err));
        return;
      }
      // The callbacks below run only after this function returns, when `timer` is set.
      const req = httpRequest(url, { method, headers, agent: false }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_BODY_BYTES) {
            req.destroy(new Error(`metadata response for ${path} exceeds ${MAX_BODY_BYTES} bytes`));
            return;
          }
          chunks.push(chunk);
        });
        res.on('end', () => {
          clearTimeout(timer);
          resolvePromise({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') });
        });
        res.on('error', (err) => {
          clearTimeout(timer);
          reject(err);
        });
      });
      const timer = setTimeout(() => req.destroy(new Error(`timed out after ${limitMs} ms`)), limitMs);
      req.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      req.end();
    });
  }

  /** Try up to `attempts` times. Returns the last reply (any status) or throws the last network error. */
  async function withRetries(label: string, fn: () => Promise<Reply>): Promise<Reply> {
    const once = async (attempt: number): Promise<Reply> => {
      let reply: Reply;
      try {
        reply = await fn();
      } catch (err) {
        logger.debug({ attempt, err: toError(err).message }, `IMDS ${label}: ${toError(err).message}`);
        throw err;
      }
      if (!isRetriableStatus(reply.status)) return reply;
      logger.debug({ attempt, status: reply.status }, `IMDS ${label}: HTTP ${reply.status}`);
      throw new RetriableReply(reply);
    };
    try {
      return await retry(once, {
        policy: { maxAttempts: attempts, classify: () => ({ retriable: true }), backoffMs: (n) => retryDelayMs * 2 ** (n - 1) },
        sleep,
      });
    } catch (err) {
      if (err instanceof RetriableReply) return err.reply;
      const lastErr = toError(err);
      throw new AgentError(ErrorCodes.IDENTITY, `Could not reach the instance metadata service at ${base} (${label}): ${lastErr.message}`, {
        cause: lastErr,
        details: { endpoint: base },
      });
    }
  }

  function rememberToken(reply: Reply): string {
    const value = reply.body.trim();
    const answeredTtl = Number(reply.headers[TOKEN_TTL_HEADER]);
    const ttl = Number.isFinite(answeredTtl) && answeredTtl > 0 ? Math.min(answeredTtl, ttlSeconds) : ttlSeconds;
    token = { value, refreshAt: now() + ttl * 800 };
    v1Until = 0;
    return value;
  }

  async function fetchToken(): Promise<string | undefined> {
    let reply: Reply | undefined;
    let failure: unknown;
    try {
      reply = await withRetries(`PUT ${TOKEN_PATH}`, () => send('PUT', TOKEN_PATH, { [TOKEN_TTL_HEADER]: String(ttlSeconds) }, timeoutMs));
      if (reply.status >= 200 && reply.status < 300 && reply.body.trim() !== '') return rememberToken(reply);
    } catch (err) {
      failure = err;
    }
    if (opts.disableV1) {
      throw new AgentError(ErrorCodes.IDENTITY, V2_TOKEN_ERROR, { cause: failure, details: { endpoint: base, statusCode: reply?.status } });
    }
    logger.warn({ endpoint: base, statusCode: reply?.status }, V2_FALLBACK_WARNING);
    // Only a reachable IMDS that refused the token is remembered; a network failure is not.
    if (reply) v1Until = now() + v1FallbackMs;
    return undefined;
  }

  /** The token to send, or undefined for IMDSv1. */
  function currentToken(): Promise<string | undefined> {
    if (token && now() < token.refreshAt) return Promise.resolve(token.value);
    token = undefined;
    if (!opts.disableV1 && now() < v1Until) return Promise.resolve(undefined);
    tokenInFlight ??= fetchToken().finally(() => {
      tokenInFlight = undefined;
    });
    return tokenInFlight;
  }

  async function getOnce(path: string, value: string | undefined): Promise<Reply> {
    const headers: Record<string, string> = value === undefined ? {} : { [TOKEN_HEADER]: value };
    return withRetries(`GET ${path}`, () => send('GET', path, headers, timeoutMs));
  }

  async function get(path: string): Promise<string> {
    const normalized = path.startsWith('/') ? path : `/${path}`;
    let sent = await currentToken();
    let reply = await getOnce(normalized, sent);
    if (reply.status === 401) {
      // A stale or revoked token, or IMDS now requires v2: one fresh token, one retry.
      logger.debug({ path: normalized }, 'IMDS answered 401: fetching a new token');
      token = undefined;
      v1Until = 0;
      sent = await currentToken();
      reply = await getOnce(normalized, sent);
    }
    if (reply.status >= 200 && reply.status < 300) {
      lastMode = sent === undefined ? 'v1' : 'v2';
      return reply.body.trim();
    }
    throw new AgentError(ErrorCodes.IDENTITY, `HTTP error from metadata service: ${reply.status} for ${normalized}`, {
      details: { endpoint: base, path: normalized, statusCode: reply.status },
    });
  }

  async function probe(): Promise<boolean> {
    try {
      const reply = await send('PUT', TOKEN_PATH, { [TOKEN_TTL_HEADER]: String(ttlSeconds) }, probeTimeoutMs);
      if (reply.status >= 200 && reply.status < 300 && reply.body.trim() !== '') {
        rememberToken(reply);
        return true;
      }
    } catch (err) {
      // Nothing answers at that address: a v1 probe of the same host would fail the same way.
      logger.debug({ endpoint: base, err: toError(err).message }, 'instance metadata service not reachable');
      return false;
    }
    if (opts.disableV1) return false;
    try {
      const reply = await send('GET', '/latest/meta-data/', {}, probeTimeoutMs);
      return reply.status >= 200 && reply.status < 300;
    } catch {
      return false;
    }
  }

  function available(): Promise<boolean> {
    if (availability && (availability.value || now() < availability.until)) return Promise.resolve(availability.value);
    probeInFlight ??= probe()
      .then((value) => {
        availability = { value, until: now() + unavailableCacheMs };
        return value;
      })
      .finally(() => {
        probeInFlight = undefined;
      });
    return probeInFlight;
  }

  return { get, available, mode: () => lastMode, endpoint: base };
}
