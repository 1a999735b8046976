/**
 * The download rules shared by the S3 and GitHub fetchers (STYLE.md "Processes and downloads"):
 *
 * - bytes go to a fresh temp file beside the target, `<target>.part-<random>`, opened with `wx`;
 * - the temp file is fsynced and renamed onto the target only when the download is complete and
 *   verified, so the target is either absent, the previous file, or the whole new bundle;
 * - on any failure (network, abort, verification) the temp file is deleted.
 *
 * Retries follow the agent's one written-down policy (platform/retry-policy.ts), run by
 * platform/retry.ts: network errno codes from RETRIABLE_NETWORK_CODES (plus a body that ends early:
 * "aborted", "premature close", "terminated", or fewer bytes than Content-Length), and HTTP
 * 408/429/5xx; every other 4xx is final. The delay before retry n is the policy's full jitter,
 * random() x min(cap, base x 2^(n-1)) (backoffDelay).
 */
import { randomBytes } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { RETRIABLE_NETWORK_CODES, RETRIABLE_STATUS_CODES } from '../platform/retry-policy.js';
import { AgentError, ErrorCodes } from '../errors.js';
import { errnoCode, toError } from '../../common/errors.js';

/** The signal's reason when it is an Error, else an AbortError. */
function abortReason(signal: AbortSignal | undefined): Error {
  const reason: unknown = signal?.reason;
  if (reason instanceof Error) return reason;
  const err = new Error('The download was aborted');
  err.name = 'AbortError';
  return err;
}

/** The path of a new, unique temp file beside `target`. */
export function tempPathFor(target: string): string {
  return `${target}.part-${randomBytes(6).toString('hex')}`;
}

/** A body that ended before it was complete; retriable. */
export class TruncatedBodyError extends Error {
  readonly code = 'TRUNCATED_BODY';
  constructor(
    readonly received: number,
    readonly expected: number,
  ) {
    super(`the download ended after ${received} of ${expected} bytes`);
    this.name = 'TruncatedBodyError';
  }
}

export interface WriteResult {
  tempPath: string;
  bytes: number;
}

/** The bundle file could not be written (disk full, permissions); not retriable. */
export class BundleWriteError extends AgentError {
  constructor(path: string, cause: unknown) {
    super(ErrorCodes.BUNDLE_FETCH, `Cannot write the bundle file ${path}: ${toError(cause).message}`, { cause, details: { path } });
  }
}

async function onDisk<T>(path: string, op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (err) {
    throw new BundleWriteError(path, err);
  }
}

/**
 * Streams `body` into a fresh temp file beside `target` and fsyncs it. The caller verifies the
 * result, then calls commitTempFile or discardTempFile. On failure the temp file is already gone.
 * `expectedBytes` (a Content-Length) turns a short body into a TruncatedBodyError. File-system
 * failures become a BundleWriteError; errors of the body stream pass through unchanged.
 */
export async function writeTempFile(
  target: string,
  body: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  opts: { signal?: AbortSignal; expectedBytes?: number } = {},
): Promise<WriteResult> {
  const tempPath = tempPathFor(target);
  const handle = await onDisk(tempPath, () => open(tempPath, 'wx'));
  let bytes = 0;
  try {
    try {
      for await (const chunk of body) {
        if (opts.signal?.aborted) throw abortReason(opts.signal);
        let offset = 0;
        while (offset < chunk.byteLength) {
          const { bytesWritten } = await onDisk(tempPath, () => handle.write(chunk, offset, chunk.byteLength - offset));
          offset += bytesWritten;
        }
        bytes += chunk.byteLength;
      }
      if (opts.signal?.aborted) throw abortReason(opts.signal);
      if (opts.expectedBytes !== undefined && bytes !== opts.expectedBytes) throw new TruncatedBodyError(bytes, opts.expectedBytes);
      await onDisk(tempPath, () => handle.sync());
    } finally {
      await handle.close();
    }
  } catch (err) {
    await discardTempFile(tempPath);
    throw err;
  }
  return { tempPath, bytes };
}

/** Renames the temp file onto `target` (replacing it), then fsyncs the directory (best effort). */
export async function commitTempFile(tempPath: string, target: string): Promise<void> {
  try {
    await rename(tempPath, target);
  } catch (err) {
    await discardTempFile(tempPath);
    throw new BundleWriteError(target, err);
  }
  try {
    const dir = await open(dirname(target), 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  } catch {
    // Some file systems refuse fsync on a directory; the rename itself has happened.
  }
}

export async function discardTempFile(tempPath: string): Promise<void> {
  await rm(tempPath, { force: true });
}

/** True for an error that a new attempt may cure: a network failure or a body that ended early. */
export function isRetriableNetworkError(err: unknown): boolean {
  if (err instanceof TruncatedBodyError) return true;
  for (let e: unknown = err, depth = 0; e !== undefined && e !== null && depth < 5; depth++) {
    const code = errnoCode(e);
    if (code !== undefined && (RETRIABLE_NETWORK_CODES.has(code) || code === 'ERR_STREAM_PREMATURE_CLOSE' || code === 'UND_ERR_SOCKET'))
      return true;
    const error = toError(e);
    if (error.name === 'AbortError') return false;
    if (error.name === 'TimeoutError') return true;
    if (/socket hang up|^aborted$|premature close|^terminated$|other side closed/i.test(error.message)) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

/** HTTP statuses worth another attempt: 408, 429 and 5xx. */
export function isRetriableStatus(status: number): boolean {
  return RETRIABLE_STATUS_CODES.has(status) || status >= 500;
}
