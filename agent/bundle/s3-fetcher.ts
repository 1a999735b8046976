/**
 * Downloads an S3 revision (docs/reference.md section 6.1) with @aws-sdk/client-s3.
 *
 * Endpoint (resolveS3Endpoint): s3_endpoint_override (path-style addressing) > with use_fips_mode
 * https://s3-fips.<region>.amazonaws.com > for eusc-de-east-1 https://s3.eusc-de-east-1.amazonaws.eu >
 * the SDK default.
 *
 * Retries (download-file.ts): the SDK's standard retry strategy (network errors, 5xx, throttling;
 * exponential backoff with full jitter) covers each GetObject up to its response headers; then,
 * within `outageWindowMs`, GetObject is tried again through an outage (the policy's equal jitter).
 * A body that breaks mid-stream is tried again, up to `maxAttempts` attempts in all, after a
 * full-jitter delay. Access, missing-object and credential errors are final. Both loops are
 * platform/retry.ts.
 *
 * Resume: the next attempt asks only for the rest, GetObject with `Range: bytes=<have>-` and
 * `If-Match: <the first answer's ETag>` (and the revision's VersionId), so a replaced object is
 * never spliced onto the old one's first bytes. A 206 whose Content-Range continues the file is
 * appended; a 200 (Range ignored) is written from byte 0; a 412 (the object changed), a 416 or a
 * Content-Range for other bytes starts over from byte 0 with a fresh GetObject. Each restart is
 * logged (warn) with its reason. Progress is logged every 10 s or 10 % (download-progress.ts).
 *
 * The body goes to a temp file (PartFile) that is fsynced and renamed onto bundleFile only after
 * the ETag check (quotes stripped from both sides) passes; a partial or mismatched file is deleted.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import { GetObjectCommand, S3Client, type GetObjectCommandOutput } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import { HttpProxyAgent } from 'http-proxy-agent';
import { HttpsProxyAgent } from 'https-proxy-agent';
import type { Logger } from 'pino';
import { AgentError, ErrorCodes } from '../errors.js';
import { toError } from '../../common/errors.js';
import type { Revision } from '../spec/deployment-spec.js';
import { isRetriableNetworkError, judgeResumeAnswer, PartFile, releaseBody } from './download-file.js';
import { DownloadProgressReporter, type DownloadProgressListener } from './download-progress.js';
import { CredentialsUnavailableError, describeS3Error, isTransientS3Error } from './s3-errors.js';
import { readCaBundle } from '../platform/ca-bundle.js';
import { retry } from '../platform/retry.js';
import { backoffDelay, equalJitterDelay } from '../platform/retry-policy.js';
import { sleep as defaultSleep, type Sleep } from '../platform/sleep.js';

export type S3Revision = Extract<Revision, { type: 'S3' }>;

export interface S3FetcherOptions {
  region: string;
  credentials: AwsCredentialIdentityProvider;
  /** Says whose credentials these are in error messages, e.g. "the EC2 instance profile". */
  identityDescription?: string;
  /** s3_endpoint_override: a URL (https:// is assumed when it has no scheme). */
  endpointOverride?: string;
  useFipsMode: boolean;
  /** proxy_uri: http(s)://[user:pass@]host:port. Never logged. */
  proxyUri?: string;
  /** A PEM file of CA certificates trusted for S3 (replaces the default roots). */
  caBundlePath?: string;
  logger: Logger;
  /** Path-style addressing; default: true with an endpoint override, else false. */
  forcePathStyle?: boolean;
  /** Attempts per download, the first included (SDK request retries and body restarts); default 3. */
  maxAttempts?: number;
  /** Socket idle timeout in ms (http_read_timeout); default 80 s. */
  readTimeoutMs?: number;
  /** Backoff between body restarts: base and cap of the full-jitter delay (default 1 s, 20 s). */
  retryBaseDelayMs?: number;
  retryMaxDelayMs?: number;
  /**
   * How long GetObject is tried again while S3 (or the control plane's S3 endpoint) is unreachable
   * or answers 5xx/throttling, after the SDK's own retries; waits of 1 s doubling up to
   * retryMaxDelayMs, with jitter. Default 0: fail after the SDK's retries (codedeploy-local).
   */
  outageWindowMs?: number;
  sleep?: Sleep;
  random?: () => number;
}

export interface S3FetchCall {
  signal?: AbortSignal;
  /** A per-deployment child logger; the fetcher's logger otherwise. */
  logger?: Logger;
  /** Told how the download goes (download-progress.ts). */
  onProgress?: DownloadProgressListener;
}

export type S3Fetcher = (revision: S3Revision, bundleFile: string, call?: S3FetchCall) => Promise<void>;

export interface S3EndpointChoice {
  endpoint?: string;
  forcePathStyle: boolean;
}

/** The endpoint rules of docs/reference.md section 6.1 (pure). */
export function resolveS3Endpoint(
  opts: Pick<S3FetcherOptions, 'region' | 'endpointOverride' | 'useFipsMode' | 'forcePathStyle'>,
): S3EndpointChoice {
  const override = opts.endpointOverride?.trim();
  if (override) {
    const endpoint = /^[a-z][a-z0-9+.-]*:\/\//i.test(override) ? override : `https://${override}`;
    try {
      new URL(endpoint);
    } catch {
      throw new AgentError(ErrorCodes.CONFIG_INVALID, `s3_endpoint_override ${JSON.stringify(override)} is not a valid URL`);
    }
    return { endpoint, forcePathStyle: opts.forcePathStyle ?? true };
  }
  const forcePathStyle = opts.forcePathStyle ?? false;
  if (opts.useFipsMode) return { endpoint: `https://s3-fips.${opts.region}.amazonaws.com`, forcePathStyle };
  if (opts.region === 'eusc-de-east-1') return { endpoint: 'https://s3.eusc-de-east-1.amazonaws.eu', forcePathStyle };
  return { forcePathStyle };
}

/** A body that broke off in attempt `attempt` (1-based); the retry loop judges `cause`. */
class BrokenBody extends Error {
  constructor(
    override readonly cause: unknown,
    readonly attempt: number,
  ) {
    super(toError(cause).message);
  }
}

function buildRequestHandler(opts: S3FetcherOptions): NodeHttpHandler {
  const ca = readCaBundle(opts.caBundlePath);
  const base = { keepAlive: true, maxSockets: 16 };
  const tls = ca ? { ca } : {};
  // Node's Agent merges its own options into every request's, so `ca` reaches the TLS connection
  // to S3 inside the proxy's CONNECT tunnel as well as a direct one.
  const httpsAgent = opts.proxyUri ? new HttpsProxyAgent(opts.proxyUri, { ...base, ...tls }) : new https.Agent({ ...base, ...tls });
  const httpAgent = opts.proxyUri ? new HttpProxyAgent(opts.proxyUri, base) : new http.Agent(base);
  return new NodeHttpHandler({
    httpAgent,
    httpsAgent,
    connectionTimeout: 10_000,
    socketTimeout: opts.readTimeoutMs ?? 80_000,
  });
}

/** The S3 client the fetcher uses (exported for tests of its configuration). */
export function createS3Client(opts: S3FetcherOptions): S3Client {
  const { endpoint, forcePathStyle } = resolveS3Endpoint(opts);
  const provider = opts.credentials;
  const credentials: AwsCredentialIdentityProvider = async (props): Promise<AwsCredentialIdentity> => {
    try {
      return await provider(props);
    } catch (err) {
      throw new CredentialsUnavailableError(err);
    }
  };
  return new S3Client({
    region: opts.region,
    credentials,
    ...(endpoint ? { endpoint } : {}),
    forcePathStyle,
    // A bucket in another region answers 301; the SDK can follow that to the right region.
    followRegionRedirects: endpoint === undefined,
    maxAttempts: opts.maxAttempts ?? 3,
    retryMode: 'standard',
    requestHandler: buildRequestHandler(opts),
  });
}

export function createS3Fetcher(opts: S3FetcherOptions): S3Fetcher {
  const client = createS3Client(opts);
  const maxAttempts = Math.max(1, opts.maxAttempts ?? 3);
  const sleep = opts.sleep ?? defaultSleep;
  const outageWindowMs = opts.outageWindowMs ?? 0;
  const backoff = { base: opts.retryBaseDelayMs ?? 1000, cap: opts.retryMaxDelayMs ?? 20_000, random: opts.random ?? Math.random };
  const outageBackoff = { ...backoff, base: 1000 };
  const context = {
    region: opts.region,
    fips: opts.useFipsMode,
    endpoint: resolveS3Endpoint(opts).endpoint,
    identity: opts.identityDescription,
  };

  return async (revision, bundleFile, call = {}) => {
    const logger = call.logger ?? opts.logger;
    const { bucket, key, version, etag } = revision;
    const { signal } = call;
    logger.info(
      { bucket, key, version, etag },
      `Downloading artifact bundle from bucket '${bucket}' and key '${key}', version '${version ?? ''}', etag '${etag ?? ''}'`,
    );
    // One outage budget per download: the window and the backoff run on across body restarts,
    // and an outage does not use up body restarts.
    const outage = { started: Date.now(), tries: 0 };
    const getObject = async (extra: { Range?: string; IfMatch?: string }): Promise<GetObjectCommandOutput> => {
      try {
        return await retry(
          () =>
            client.send(
              new GetObjectCommand({ Bucket: bucket, Key: key, ...(version ? { VersionId: version } : {}), ...extra }),
              signal ? { abortSignal: signal } : {},
            ),
          {
            policy: {
              maxAttempts: Infinity,
              deadlineMs: outageWindowMs,
              classify: (err) => ({ retriable: isTransientS3Error(err) }),
              backoffMs: () => equalJitterDelay(++outage.tries, outageBackoff),
            },
            startedAt: outage.started,
            sleep,
            signal,
            onRetry: (err) => {
              if (outage.tries === 1)
                logger.warn(
                  { bucket, key, error: toError(err).message },
                  `S3 is unreachable or failing; trying again for up to ${Math.round(outageWindowMs / 1000)} s`,
                );
            },
          },
        );
      } catch (err) {
        // Aborted: the abort goes up as it is (describeS3Error would keep an AbortError too).
        throw signal?.aborted ? err : describeS3Error(err, revision, context);
      }
    };
    const part = await PartFile.create(bundleFile);
    const progress = new DownloadProgressReporter({
      logger,
      source: `s3://${bucket}/${key}`,
      fields: { bucket, key },
      ...(call.onProgress ? { onProgress: call.onProgress } : {}),
    });
    // What the first answer said about the object: its ETag (the If-Match of a resume) and size.
    let objectEtag: string | undefined;
    let objectSize: number | undefined;
    let lastEtag: string | undefined;

    const startOver = async (reason: string, attempt: number): Promise<void> => {
      logger.warn(
        { bucket, key, attempt, discardedBytes: part.bytes, reason },
        `Downloading s3://${bucket}/${key} again from byte 0: ${reason}`,
      );
      await part.truncate();
      progress.restart();
      objectEtag = undefined;
      objectSize = undefined;
    };
    /** The answer whose body continues the file (a resume) or fills it from byte 0. */
    const request = async (attempt: number): Promise<GetObjectCommandOutput> => {
      const have = part.bytes;
      if (have > 0 && (objectEtag === undefined || objectSize === undefined))
        await startOver('the first answer had no ETag or size to resume against', attempt);
      if (part.bytes === 0) return getObject({});
      logger.info(
        { bucket, key, attempt, fromByte: have, totalBytes: objectSize },
        `Resuming the download of s3://${bucket}/${key} at byte ${have} of ${objectSize}`,
      );
      let response: GetObjectCommandOutput;
      try {
        response = await getObject({ Range: `bytes=${have}-`, IfMatch: objectEtag });
      } catch (err) {
        const status = s3Status(err);
        if (status !== 412 && status !== 416) throw err;
        await startOver(
          status === 412 ? 'the object changed since the download began (412 Precondition Failed)' : 'S3 refused the byte range (416)',
          attempt,
        );
        return getObject({});
      }
      const verdict = judgeResumeAnswer(have, response.$metadata.httpStatusCode ?? 200, response.ContentRange, objectSize);
      if (verdict.append) return response;
      if (response.$metadata.httpStatusCode === 200) {
        // The whole object is here: write it from byte 0.
        await startOver(verdict.reason, attempt);
        return response;
      }
      await releaseBody(response.Body);
      await startOver(verdict.reason, attempt);
      return getObject({});
    };
    const download = async (attempt: number): Promise<void> => {
      const response = await request(attempt);
      const body = response.Body as AsyncIterable<Uint8Array> | undefined;
      if (!body) throw new AgentError(ErrorCodes.BUNDLE_FETCH, `S3 returned no body for s3://${bucket}/${key}`);
      lastEtag = response.ETag;
      if (part.bytes === 0) {
        objectEtag = response.ETag || undefined;
        objectSize = response.ContentLength;
      }
      progress.begin(part.bytes, objectSize);
      try {
        await part.append(body, {
          ...(signal ? { signal } : {}),
          ...(response.ContentLength !== undefined ? { expectedBytes: response.ContentLength } : {}),
          onChunk: (n) => progress.advance(n),
        });
      } catch (err) {
        if (signal?.aborted || err instanceof AgentError) throw err;
        throw new BrokenBody(err, attempt);
      }
    };
    try {
      await retry(download, {
        policy: {
          maxAttempts,
          classify: (err) => ({ retriable: err instanceof BrokenBody && isRetriableNetworkError(err.cause) }),
          backoffMs: (n) => backoffDelay(n, backoff),
        },
        sleep,
        signal,
        onRetry: (err, attempt, delayMs) =>
          logger.warn(
            { bucket, key, attempt, delayMs, bytesSoFar: part.bytes, error: toError((err as BrokenBody).cause).message },
            part.bytes > 0 && objectEtag !== undefined
              ? `The S3 download broke off after ${part.bytes} bytes; resuming it from there`
              : 'The S3 download broke off; restarting it',
          ),
      });
      if (etag && stripQuotes(etag) !== stripQuotes(lastEtag ?? '')) {
        throw new AgentError(
          ErrorCodes.BUNDLE_FETCH,
          `Expected deployment artifact bundle etag ${etag} but was actually ${lastEtag ?? ''}`,
          {
            details: { bucket, key, expected: etag, actual: lastEtag },
          },
        );
      }
      await part.commit();
    } catch (err) {
      await part.discard();
      if (!(err instanceof BrokenBody)) throw err;
      const message = `Downloading s3://${bucket}/${key} failed after ${err.attempt} attempt(s): ${err.message}`;
      throw new AgentError(ErrorCodes.BUNDLE_FETCH, message, { cause: err.cause, details: { bucket, key, attempts: err.attempt } });
    }
    const done = progress.finish();
    logger.info(
      { bucket, key, bytes: done.bytes, seconds: done.seconds, bytesPerSecond: done.bytesPerSecond },
      `Download complete from bucket ${bucket} and key ${key}: ${done.text}`,
    );
  };
}

/** The HTTP status of an S3 error, when S3 answered. */
function s3Status(err: unknown): number | undefined {
  for (let e: unknown = err, depth = 0; e !== undefined && e !== null && depth < 5; depth++) {
    const status = (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    if (typeof status === 'number') return status;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

function stripQuotes(value: string): string {
  return value.replaceAll('"', '');
}
