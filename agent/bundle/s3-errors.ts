/**
 * What an S3 GetObject failure means (s3-fetcher.ts): whether it may pass by itself (an outage:
 * no connection, a reset, 5xx, throttling) and, when final, a message that says what to fix
 * (permissions, a missing object, the region, the endpoint, the credentials).
 */
import { AgentError, ErrorCodes } from '../errors.js';
import { errnoCode, toError } from '../../common/errors.js';
import { isRetriableNetworkError } from './download-file.js';

/** Marks a failure of the credentials provider, so it is not mistaken for an S3 answer. */
export class CredentialsUnavailableError extends Error {
  constructor(cause: unknown) {
    super(toError(cause).message, { cause });
    this.name = 'CredentialsUnavailableError';
  }
}

const CONNECT_ERROR_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ETIMEDOUT',
  'EHOSTDOWN',
  'ENETDOWN',
]);
const CREDENTIAL_REJECTED_CODES = new Set([
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'ExpiredToken',
  'TokenRefreshRequired',
  'InvalidToken',
]);
const WRONG_REGION_CODES = new Set(['AuthorizationHeaderMalformed', 'PermanentRedirect', 'IllegalLocationConstraintException']);

/** The object a download asked for (an S3 revision). */
export interface S3Object {
  bucket: string;
  key: string;
  version?: string;
}

export interface ErrorContext {
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
export function describeS3Error(err: unknown, revision: S3Object, ctx: ErrorContext): Error {
  const error = toError(err);
  if (error.name === 'AbortError') return error;
  const { bucket, key, version } = revision;
  const where = `s3://${bucket}/${key}`;
  const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  const details = { bucket, key, ...(version ? { version } : {}), ...(status ? { statusCode: status } : {}), errorName: error.name };
  const fail = (message: string): AgentError => new AgentError(ErrorCodes.BUNDLE_FETCH, message, { cause: err, details });
  const identity = ctx.identity ?? "the agent's AWS identity (the EC2 instance profile, or the on-premises IAM user or session role)";

  const credentials = findCredentialsError(err);
  if (credentials) {
    return fail(`Could not get AWS credentials from ${identity} to download ${where}: ${credentials.message}`);
  }
  switch (error.name) {
    case 'AccessDenied': {
      const actions = version ? 's3:GetObject and s3:GetObjectVersion' : 's3:GetObject (and s3:GetObjectVersion for versioned revisions)';
      return fail(
        `Access denied reading ${where}: the instance profile or on-premises IAM identity needs ${actions} on arn:aws:s3:::${bucket}/${key}`,
      );
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
    const hint = ctx.fips
      ? `. Check that Fips exists in ${ctx.region}. Or, try using s3 endpoint override.`
      : '. Try using s3 endpoint override.';
    return fail(`Unable to connect to ${target} to download ${where}: ${error.message}${hint}`);
  }
  const code = status ? `HTTP ${status} ${error.name}` : error.name;
  return fail(`Could not download ${where} (${code}): ${error.message}`);
}
