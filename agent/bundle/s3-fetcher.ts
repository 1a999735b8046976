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
 * A body that breaks mid-stream is restarted from scratch, up to `maxAttempts` attempts in all,
 * after a full-jitter delay. Access, missing-object and credential errors are final. Both loops
 * are platform/retry.ts.
 *
 * The body goes to a temp file that is fsynced and renamed onto bundleFile only after the ETag
 * check (quotes stripped from both sides) passes; a partial or mismatched file is deleted.
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
import { commitTempFile, discardTempFile, isRetriableNetworkError, writeTempFile } from './download-file.js';
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
    const getObject = async (): Promise<GetObjectCommandOutput> => {
      try {
        return await retry(
          () =>
            client.send(
              new GetObjectCommand({ Bucket: bucket, Key: key, ...(version ? { VersionId: version } : {}) }),
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
    const download = async (attempt: number): Promise<void> => {
      const response = await getObject();
      const body = response.Body as AsyncIterable<Uint8Array> | undefined;
      if (!body) throw new AgentError(ErrorCodes.BUNDLE_FETCH, `S3 returned no body for s3://${bucket}/${key}`);
      let written;
      try {
        written = await writeTempFile(bundleFile, body, {
          ...(signal ? { signal } : {}),
          ...(response.ContentLength !== undefined ? { expectedBytes: response.ContentLength } : {}),
        });
      } catch (err) {
        if (signal?.aborted || err instanceof AgentError) throw err;
        throw new BrokenBody(err, attempt);
      }
      const actual = response.ETag;
      if (etag && stripQuotes(etag) !== stripQuotes(actual ?? '')) {
        await discardTempFile(written.tempPath);
        throw new AgentError(ErrorCodes.BUNDLE_FETCH, `Expected deployment artifact bundle etag ${etag} but was actually ${actual ?? ''}`, {
          details: { bucket, key, expected: etag, actual },
        });
      }
      await commitTempFile(written.tempPath, bundleFile);
      logger.info({ bucket, key, bytes: written.bytes, attempts: attempt }, `Download complete from bucket ${bucket} and key ${key}`);
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
            { bucket, key, attempt, delayMs, error: toError((err as BrokenBody).cause).message },
            'The S3 download broke off; restarting it',
          ),
      });
    } catch (err) {
      if (!(err instanceof BrokenBody)) throw err;
      const message = `Downloading s3://${bucket}/${key} failed after ${err.attempt} attempt(s): ${err.message}`;
      throw new AgentError(ErrorCodes.BUNDLE_FETCH, message, { cause: err.cause, details: { bucket, key, attempts: err.attempt } });
    }
  };
}

function stripQuotes(value: string): string {
  return value.replaceAll('"', '');
}
