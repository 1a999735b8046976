/**
 * Downloads an S3 revision (reference section 6.1) with @aws-sdk/client-s3.
 *
 * Endpoint (resolveS3Endpoint): s3_endpoint_override (path-style addressing) > with use_fips_mode
 * https://s3-fips.<region>.amazonaws.com > for eusc-de-east-1 https://s3.eusc-de-east-1.amazonaws.eu >
 * the SDK default.
 *
 * Retries (download-file.ts): the SDK's standard retry strategy (network errors, 5xx, throttling;
 * exponential backoff with full jitter) covers each GetObject up to its response headers. A body
 * that breaks mid-stream is restarted from scratch, up to `maxAttempts` attempts in all, after a
 * full-jitter delay. Access, missing-object and credential errors are final.
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
import { errnoCode, toError } from '../../common/errors.js';
import type { Revision } from '../spec/deployment-spec.js';
import { outageDelayMs } from '../commands-client/outage-retry.js';
import {
  commitTempFile,
  defaultSleep,
  discardTempFile,
  isRetriableNetworkError,
  retryDelayMs,
  writeTempFile,
  type Sleep,
} from './download-file.js';
import { readCaBundle } from '../platform/ca-bundle.js';

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

/** The endpoint rules of reference 6.1 (pure). */
export function resolveS3Endpoint(opts: Pick<S3FetcherOptions, 'region' | 'endpointOverride' | 'useFipsMode' | 'forcePathStyle'>): S3EndpointChoice {
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

/** Marks a failure of the credentials provider, so it is not mistaken for an S3 answer. */
export class CredentialsUnavailableError extends Error {
  constructor(cause: unknown) {
    super(toError(cause).message, { cause });
    this.name = 'CredentialsUnavailableError';
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
  const backoff = { baseDelayMs: opts.retryBaseDelayMs ?? 1000, maxDelayMs: opts.retryMaxDelayMs ?? 20_000, random: opts.random ?? Math.random };
  const context = { region: opts.region, fips: opts.useFipsMode, endpoint: resolveS3Endpoint(opts).endpoint, identity: opts.identityDescription };

  return async (revision, bundleFile, call = {}) => {
    const logger = call.logger ?? opts.logger;
    const { bucket, key, version, etag } = revision;
    const { signal } = call;
    logger.info(
      { bucket, key, version, etag },
      `Downloading artifact bundle from bucket '${bucket}' and key '${key}', version '${version ?? ''}', etag '${etag ?? ''}'`,
    );
    const outageStarted = Date.now();
    let outageTries = 0;
    for (let attempt = 1; ; attempt++) {
      let response: GetObjectCommandOutput;
      try {
        response = await client.send(
          new GetObjectCommand({ Bucket: bucket, Key: key, ...(version ? { VersionId: version } : {}) }),
          signal ? { abortSignal: signal } : {},
        );
      } catch (err) {
        const delay = outageDelayMs(++outageTries, { maxDelayMs: backoff.maxDelayMs, random: backoff.random });
        if (!signal?.aborted && isTransientS3Error(err) && Date.now() - outageStarted + delay <= (opts.outageWindowMs ?? 0)) {
          if (outageTries === 1) logger.warn({ bucket, key, error: toError(err).message }, `S3 is unreachable or failing; trying again for up to ${Math.round((opts.outageWindowMs ?? 0) / 1000)} s`);
          await sleep(delay, signal);
          attempt -= 1; // an outage is not a broken body: it does not use up body restarts
          continue;
        }
        throw describeS3Error(err, revision, context);
      }
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
        if (!isRetriableNetworkError(err) || attempt >= maxAttempts) {
          const message = `Downloading s3://${bucket}/${key} failed after ${attempt} attempt(s): ${toError(err).message}`;
          throw new AgentError(ErrorCodes.BUNDLE_FETCH, message, { cause: err, details: { bucket, key, attempts: attempt } });
        }
        const delay = retryDelayMs(attempt, backoff);
        logger.warn({ bucket, key, attempt, delayMs: delay, error: toError(err).message }, 'The S3 download broke off; restarting it');
        await sleep(delay, signal);
        continue;
      }
      const actual = response.ETag;
      if (etag && stripQuotes(etag) !== stripQuotes(actual ?? '')) {
        await discardTempFile(written.tempPath);
        throw new AgentError(
          ErrorCodes.BUNDLE_FETCH,
          `Expected deployment artifact bundle etag ${etag} but was actually ${actual ?? ''}`,
          { details: { bucket, key, expected: etag, actual } },
        );
      }
      await commitTempFile(written.tempPath, bundleFile);
      logger.info({ bucket, key, bytes: written.bytes, attempts: attempt }, `Download complete from bucket ${bucket} and key ${key}`);
      return;
    }
  };
}

function stripQuotes(value: string): string {
  return value.replaceAll('"', '');
}

const CONNECT_ERROR_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'EHOSTDOWN', 'ENETDOWN']);
const CREDENTIAL_REJECTED_CODES = new Set(['InvalidAccessKeyId', 'SignatureDoesNotMatch', 'ExpiredToken', 'TokenRefreshRequired', 'InvalidToken']);
const WRONG_REGION_CODES = new Set(['AuthorizationHeaderMalformed', 'PermanentRedirect', 'IllegalLocationConstraintException']);

interface ErrorContext {
  region: string;
  fips: boolean;
  endpoint?: string;
  identity?: string;
}

/** A failure that may pass by itself: no connection, a reset, 5xx, throttling. */
export function isTransientS3Error(err: unknown): boolean {
  const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  if (status !== undefined) return status >= 500 || status === 429 || toError(err).name === 'SlowDown';
  if (isConnectError(err)) return true;
  for (let e: unknown = err, depth = 0; e !== undefined && e !== null && depth < 5; depth++) {
    if (isRetriableNetworkError(e)) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

/** True when the request never reached S3 (the official "unable to connect to" case). */
export function isConnectError(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e !== undefined && e !== null && depth < 5; depth++) {
    const code = errnoCode(e);
    if (code !== undefined && CONNECT_ERROR_CODES.has(code)) return true;
    if (/unable to connect|connect ETIMEDOUT|timed out.*connect|connection timeout/i.test(toError(e).message)) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

function findCredentialsError(err: unknown): CredentialsUnavailableError | undefined {
  for (let e: unknown = err, depth = 0; e !== undefined && e !== null && depth < 5; depth++) {
    if (e instanceof CredentialsUnavailableError) return e;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/** Turns a GetObject failure into an AgentError whose message says what to fix. */
export function describeS3Error(err: unknown, revision: S3Revision, ctx: ErrorContext): Error {
  const error = toError(err);
  if (error.name === 'AbortError') return error;
  const { bucket, key, version } = revision;
  const where = `s3://${bucket}/${key}`;
  const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  const details = { bucket, key, ...(version ? { version } : {}), ...(status ? { statusCode: status } : {}), errorName: error.name };
  const fail = (message: string): AgentError => new AgentError(ErrorCodes.BUNDLE_FETCH, message, { cause: err, details });
  const identity = ctx.identity ?? 'the agent\'s AWS identity (the EC2 instance profile, or the on-premises IAM user or session role)';

  const credentials = findCredentialsError(err);
  if (credentials) {
    return fail(`Could not get AWS credentials from ${identity} to download ${where}: ${credentials.message}`);
  }
  switch (error.name) {
    case 'AccessDenied': {
      const actions = version ? 's3:GetObject and s3:GetObjectVersion' : 's3:GetObject (and s3:GetObjectVersion for versioned revisions)';
      return fail(`Access denied reading ${where}: the instance profile or on-premises IAM identity needs ${actions} on arn:aws:s3:::${bucket}/${key}`);
    }
    case 'NoSuchKey':
      return fail(`The S3 object ${where} does not exist (NoSuchKey): check the revision's bucket and key`);
    case 'NoSuchBucket':
      return fail(`The S3 bucket '${bucket}' does not exist (NoSuchBucket) for object ${where}`);
    case 'NoSuchVersion':
      return fail(`Version '${version ?? ''}' of the S3 object ${where} does not exist (NoSuchVersion)`);
  }
  if (CREDENTIAL_REJECTED_CODES.has(error.name)) {
    return fail(`S3 rejected the credentials of ${identity} while reading ${where} (${error.name}): ${error.message}`);
  }
  if (WRONG_REGION_CODES.has(error.name) || status === 301) {
    return fail(`The bucket '${bucket}' is not reachable through region ${ctx.region} (${error.name}): ${error.message}`);
  }
  if (status === undefined && isConnectError(err)) {
    const target = ctx.endpoint ?? `S3 in ${ctx.region}`;
    const hint = ctx.fips ? `. Check that Fips exists in ${ctx.region}. Or, try using s3 endpoint override.` : '. Try using s3 endpoint override.';
    return fail(`Unable to connect to ${target} to download ${where}: ${error.message}${hint}`);
  }
  const code = status ? `HTTP ${status} ${error.name}` : error.name;
  return fail(`Could not download ${where} (${code}): ${error.message}`);
}
