/**
 * Downloads a GitHub revision (docs/reference.md section 6.2) with @octokit/rest:
 * GET <apiUrl>/repos/<account>/<repository>/<tarball|zipball>/<CommitId>, which GitHub answers
 * with a 302 to its codeload host. The archive holds one top-level `<owner>-<repo>-<sha>/`
 * directory; the generic strip removes it later. A "tar" bundle is GitHub's tarball, which is
 * gzip-compressed: the tar unpacker must detect compression (as the official `tar -xf` does).
 *
 * Streaming: Octokit's fetch wrapper reads a successful body whole (`arrayBuffer()`) unless the
 * request sets `parseSuccessResponseBody: false`; with it, `response.data` is the fetch body
 * stream and nothing is buffered. The fetch is undici's, which follows the redirect itself (and
 * drops Authorization when the redirect leaves the API origin, so the token never reaches the
 * codeload host). The stream goes to a temp file (PartFile) that is renamed onto bundleFile when
 * complete.
 *
 * Authentication: `Authorization: token <GitHubAccessToken>` when the spec has one, anonymous
 * otherwise. The token is never logged, never put in an error message or cause.
 *
 * Proxy and CA: unlike the official agent (which ignores proxy_uri here, docs/reference.md section 11.2 item 26),
 * proxy_uri is honoured with an undici ProxyAgent as the fetch dispatcher; a CA bundle becomes the
 * dispatcher's TLS `ca` (for the proxy and the tunnelled connection).
 *
 * Resume: after a body breaks off, the next attempt sends `Range: bytes=<have>-` (through the same
 * redirect) with `If-Range: <ETag>` when the first answer had a strong ETag (else its
 * Last-Modified, else no If-Range). A 206 whose Content-Range continues the file is appended; a
 * 200 (Range ignored, or the archive changed) is written from byte 0; a 412/416 or a 206 for
 * other bytes starts over with a fresh request. A content-encoded answer is never resumed (its
 * offsets are not the file's). Progress is logged every 10 s or 10 % (download-progress.ts).
 *
 * Retries (download-file.ts policy, run by platform/retry.ts): network errors, a body that breaks
 * off, 408, 429 and 5xx are retried up to `maxRetries` times (default 3, as the official) after a full-jitter delay of
 * random() x min(30 s, 2 s x 2^(n-1)), or the answer's Retry-After (capped at 30 s). The official
 * waits a fixed 10, 30 and 90 s and retries every HTTP error; we end at once on any other 4xx
 * (404 unknown repository or commit, 401/403 bad token or rate limit), because waiting two minutes
 * cannot change those answers. Either way the error reads
 * `Could not download bundle at '<url>' after <n> retries. Server returned codes: <code 'msg'>; ...`.
 */
import { STATUS_CODES } from 'node:http';
import { Octokit } from '@octokit/rest';
import type { Logger } from 'pino';
import { Agent, fetch as undiciFetch, ProxyAgent, type Dispatcher, type RequestInit as UndiciRequestInit } from 'undici';
import { AgentError, ErrorCodes } from '../errors.js';
import { errnoCode, toError } from '../../common/errors.js';
import type { Revision } from '../spec/deployment-spec.js';
import { packageVersion } from '../../common/version.js';
import { isRetriableNetworkError, isRetriableStatus, judgeResumeAnswer, PartFile, releaseBody } from './download-file.js';
import { DownloadProgressReporter, type DownloadProgressListener } from './download-progress.js';
import { readCaBundle } from '../platform/ca-bundle.js';
import { retry } from '../platform/retry.js';
import { backoffDelay, parseRetryAfter } from '../platform/retry-policy.js';
import { sleep as defaultSleep, type Sleep } from '../platform/sleep.js';

export type GitHubRevision = Extract<Revision, { type: 'GitHub' }>;

export interface GitHubFetcherOptions {
  /** The API base URL: https://api.github.com, a GitHub Enterprise /api/v3 URL, or a test server. */
  apiUrl: string;
  /** proxy_uri: http(s)://[user:pass@]host:port. Never logged. */
  proxyUri?: string;
  /** A PEM file of CA certificates trusted for GitHub (replaces the default roots). */
  caBundlePath?: string;
  logger: Logger;
  sleep?: Sleep;
  random?: () => number;
  /** Retries after the first attempt; default 3. */
  maxRetries?: number;
  /** Full-jitter backoff base and cap in ms; default 2 s and 30 s. */
  retryBaseDelayMs?: number;
  retryMaxDelayMs?: number;
}

export interface GitHubFetchCall {
  /** GitHubAccessToken from the deployment spec. A secret: never logged. */
  token?: string;
  signal?: AbortSignal;
  /** A per-deployment child logger; the fetcher's logger otherwise. */
  logger?: Logger;
  /** Told how the download goes (download-progress.ts). */
  onProgress?: DownloadProgressListener;
}

export type GitHubFetcher = (revision: GitHubRevision, bundleFile: string, call?: GitHubFetchCall) => Promise<void>;

/** The archive URL of a revision, as the official agent builds it (and as error messages show it). */
export function gitHubArchiveUrl(apiUrl: string, revision: GitHubRevision): string {
  const kind = revision.bundleType === 'zip' ? 'zipball' : 'tarball';
  const base = apiUrl.replace(/\/+$/, '');
  const enc = encodeURIComponent;
  return `${base}/repos/${enc(revision.account)}/${enc(revision.repository)}/${kind}/${enc(revision.commitId)}`;
}

function buildDispatcher(opts: GitHubFetcherOptions): Dispatcher | undefined {
  const ca = readCaBundle(opts.caBundlePath);
  const tls = ca ? { ca } : {};
  if (opts.proxyUri) return new ProxyAgent({ uri: opts.proxyUri, requestTls: tls, proxyTls: tls });
  if (ca) return new Agent({ connect: tls });
  return undefined;
}

/** One failed attempt, as the final message lists it: `<code 'msg'>`. */
class AttemptFailure extends Error {
  constructor(
    /** The attempt that failed, 1-based. */
    readonly attempt: number,
    readonly text: string,
    readonly retriable: boolean,
    readonly retryAfterMs?: number,
  ) {
    super(text);
  }
}

interface OctokitLikeError {
  status?: number;
  response?: { headers?: Record<string, string | undefined>; data?: unknown };
}

/** Attempt `attempt` (1-based) failed with `err`: what the final message and the retry loop see. */
function describeFailure(err: unknown, attempt: number, maxDelayMs: number): AttemptFailure {
  const e = err as OctokitLikeError;
  const status = typeof e.status === 'number' ? e.status : undefined;
  // Octokit reports a failed fetch (no answer at all) as status 500 without a response.
  if (status !== undefined && e.response !== undefined) {
    const reason = STATUS_CODES[status] ?? 'Unknown';
    const data = e.response.data;
    const detail =
      typeof data === 'object' && data !== null && 'message' in data && typeof data.message === 'string' ? data.message : undefined;
    const text = `${status} '${reason}${detail && detail !== reason ? `: ${detail}` : ''}'`;
    const retryAfterMs = parseRetryAfter(e.response.headers?.['retry-after'], Date.now(), maxDelayMs);
    return new AttemptFailure(attempt, text, isRetriableStatus(status), retryAfterMs);
  }
  return new AttemptFailure(attempt, `network error '${rootMessage(err)}'`, isRetriableNetworkError(err));
}

/** The message of the innermost cause ("fetch failed" says nothing; "connect ECONNREFUSED ..." does). */
function rootMessage(err: unknown): string {
  let message = toError(err).message;
  for (let e: unknown = (err as { cause?: unknown }).cause, depth = 0; e !== undefined && e !== null && depth < 5; depth++) {
    const text = toError(e).message || errnoCode(e);
    if (text) message = text;
    e = (e as { cause?: unknown }).cause;
  }
  return message;
}

export function createGitHubFetcher(opts: GitHubFetcherOptions): GitHubFetcher {
  const dispatcher = buildDispatcher(opts);
  const sleep = opts.sleep ?? defaultSleep;
  const maxRetries = Math.max(0, opts.maxRetries ?? 3);
  const backoff = { base: opts.retryBaseDelayMs ?? 2000, cap: opts.retryMaxDelayMs ?? 30_000, random: opts.random ?? Math.random };
  const fetchThrough = (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = input instanceof Request ? input.url : input;
    const response = undiciFetch(url, { ...(init as UndiciRequestInit), ...(dispatcher ? { dispatcher } : {}) });
    // undici's Response is the class behind Node's global fetch; only the type declarations differ.
    return response as unknown as Promise<Response>;
  };

  return async (revision, bundleFile, call = {}) => {
    const logger = call.logger ?? opts.logger;
    const { signal, token } = call;
    const url = gitHubArchiveUrl(opts.apiUrl, revision);
    const octokitLog = {
      debug: (msg: string) => logger.debug({ octokit: msg }),
      info: (msg: string) => logger.debug({ octokit: msg }),
      warn: (msg: string) => logger.warn({ octokit: msg }),
      error: (msg: string) => logger.debug({ octokit: msg }),
    };
    const octokit = new Octokit({
      baseUrl: opts.apiUrl.replace(/\/+$/, ''),
      userAgent: `codedeploy-agent-ts/${packageVersion()}`,
      log: octokitLog,
      request: { fetch: fetchThrough },
    });
    const params = {
      owner: revision.account,
      repo: revision.repository,
      ref: revision.commitId,
      headers: token ? { authorization: `token ${token}` } : {},
      request: { parseSuccessResponseBody: false, ...(signal ? { signal } : {}) },
    };
    logger.info(
      {
        account: revision.account,
        repository: revision.repository,
        commitId: revision.commitId,
        bundleType: revision.bundleType,
        authenticated: Boolean(token),
      },
      `Downloading artifact bundle from ${url}`,
    );

    const failures: string[] = [];
    const part = await PartFile.create(bundleFile);
    const progress = new DownloadProgressReporter({
      logger,
      source: url,
      fields: { url },
      ...(call.onProgress ? { onProgress: call.onProgress } : {}),
    });
    // From the answer that began the file: its size, and the validator a resume sends as If-Range.
    let totalBytes: number | undefined;
    let ifRange: string | undefined;
    let resumable = false;

    type Archive = Awaited<ReturnType<typeof octokit.rest.repos.downloadTarballArchive>>;
    const fetchArchive = (extraHeaders: Record<string, string>): Promise<Archive> => {
      const p = { ...params, headers: { ...params.headers, ...extraHeaders } };
      return revision.bundleType === 'zip' ? octokit.rest.repos.downloadZipballArchive(p) : octokit.rest.repos.downloadTarballArchive(p);
    };
    const startOver = async (reason: string, attempt: number): Promise<void> => {
      logger.warn({ url, attempt, discardedBytes: part.bytes, reason }, `Downloading ${url} again from byte 0: ${reason}`);
      await part.truncate();
      progress.restart();
    };
    /** The answer whose body continues the file (a resume) or fills it from byte 0. */
    const request = async (attempt: number): Promise<Archive> => {
      const have = part.bytes;
      if (have > 0 && !resumable) await startOver('the archive was sent content-encoded, so its bytes cannot be resumed', attempt);
      if (part.bytes === 0) return fetchArchive({});
      logger.info(
        { url, attempt, fromByte: have, totalBytes: totalBytes ?? null, ifRange: ifRange !== undefined },
        `Resuming the download of ${url} at byte ${have}`,
      );
      let response: Archive;
      try {
        response = await fetchArchive({ range: `bytes=${have}-`, ...(ifRange ? { 'if-range': ifRange } : {}) });
      } catch (err) {
        const status = (err as OctokitLikeError).status;
        if (status !== 412 && status !== 416) throw err;
        await startOver(`the server refused the byte range (HTTP ${status})`, attempt);
        return fetchArchive({});
      }
      const status = response.status as number;
      const contentRange = response.headers['content-range'];
      const verdict = judgeResumeAnswer(have, status, contentRange === undefined ? undefined : String(contentRange), totalBytes);
      if (verdict.append) {
        totalBytes = verdict.totalBytes;
        return response;
      }
      if (status !== 206) {
        // The whole archive is here (the Range was ignored, or If-Range said it changed).
        await startOver(verdict.reason, attempt);
        return response;
      }
      await releaseBody(response.data);
      await startOver(verdict.reason, attempt);
      return fetchArchive({});
    };
    const download = async (n: number): Promise<void> => {
      try {
        const response = await request(n);
        const encoded = response.headers['content-encoding'] !== undefined;
        const length = Number(response.headers['content-length']);
        const bodyLength = Number.isInteger(length) && length >= 0 && !encoded ? length : undefined;
        if (part.bytes === 0) {
          // A fresh answer: remember how to resume it. An encoded body's offsets are not the file's.
          resumable = !encoded;
          totalBytes = bodyLength;
          const etag = response.headers.etag;
          const lastModified = response.headers['last-modified'];
          // If-Range needs a strong validator: a weak ETag never matches it.
          ifRange = etag && !etag.startsWith('W/') ? etag : lastModified;
        }
        progress.begin(part.bytes, totalBytes);
        await part.append(toChunks(response.data as unknown), {
          ...(signal ? { signal } : {}),
          ...(bodyLength !== undefined ? { expectedBytes: bodyLength } : {}),
          onChunk: (bytes) => progress.advance(bytes),
        });
      } catch (err) {
        if (signal?.aborted || err instanceof AgentError) throw err;
        const failure = describeFailure(err, n, backoff.cap);
        failures.push(failure.text);
        throw failure;
      }
    };
    try {
      await retry(download, {
        policy: {
          maxAttempts: maxRetries + 1,
          classify: (err) =>
            err instanceof AttemptFailure ? { retriable: err.retriable, delayMs: err.retryAfterMs } : { retriable: false },
          backoffMs: (n) => backoffDelay(n, backoff),
        },
        sleep,
        signal,
        onRetry: (err, n, delayMs) =>
          logger.warn(
            { url, attempt: n, delayMs, bytesSoFar: part.bytes, failure: (err as AttemptFailure).text },
            part.bytes > 0 && resumable
              ? `GitHub download failed after ${part.bytes} bytes; resuming it from there`
              : 'GitHub download failed; retrying',
          ),
      });
      await part.commit();
    } catch (err) {
      await part.discard();
      if (!(err instanceof AttemptFailure)) throw err;
      const retries = err.attempt - 1;
      throw new AgentError(
        ErrorCodes.BUNDLE_FETCH,
        `Could not download bundle at '${url}' after ${retries} retries. Server returned codes: ${failures.join('; ')}`,
        { details: { url, retries, codes: [...failures] } },
      );
    }
    const done = progress.finish();
    logger.info(
      { bytes: done.bytes, seconds: done.seconds, bytesPerSecond: done.bytesPerSecond, retries: failures.length },
      `Download complete from ${url}: ${done.text}`,
    );
  };
}

/** The success body as chunks: a fetch body stream, or a buffer if Octokit parsed it anyway. */
function toChunks(data: unknown): AsyncIterable<Uint8Array> | Iterable<Uint8Array> {
  if (data instanceof ArrayBuffer) return [new Uint8Array(data)];
  if (typeof data === 'string') return [Buffer.from(data)];
  if (data !== null && typeof data === 'object' && Symbol.asyncIterator in data) return data as AsyncIterable<Uint8Array>;
  throw new AgentError(ErrorCodes.BUNDLE_FETCH, 'GitHub returned an archive body of an unexpected type');
}
