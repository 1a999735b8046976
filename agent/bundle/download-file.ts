/**
 * The download rules shared by the S3 and GitHub fetchers (STYLE.md "Processes and downloads"):
 *
 * - bytes go to a fresh temp file beside the target, `<target>.part-<random>`, opened with `wx`
 *   (PartFile); it lives across the attempts of one download, so a body that breaks off can be
 *   resumed with a `Range: bytes=<have>-` request (judgeResumeAnswer says whether the answer
 *   continues the file) or truncated and started over;
 * - the temp file is fsynced and renamed onto the target only when the download is complete and
 *   verified, so the target is either absent, the previous file, or the whole new bundle;
 * - when the download fails for good (network, abort, verification) the temp file is deleted.
 *
 * Retries follow the agent's one written-down policy (platform/retry-policy.ts), run by
 * platform/retry.ts: network errno codes from RETRIABLE_NETWORK_CODES (plus a body that ends early:
 * "aborted", "premature close", "terminated", or fewer bytes than Content-Length), and HTTP
 * 408/429/5xx; every other 4xx is final. The delay before retry n is the policy's full jitter,
 * random() x min(cap, base x 2^(n-1)) (backoffDelay).
 */
import { randomBytes } from 'node:crypto';
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
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

/** How far a write got: a file error is final (BundleWriteError), a body error may be resumed. */
export interface AppendOptions {
  signal?: AbortSignal;
  /** The body's Content-Length: fewer bytes make a TruncatedBodyError. */
  expectedBytes?: number;
  /** Told after each chunk is written, with its length. */
  onChunk?: (bytes: number) => void;
}

/**
 * A bundle being downloaded: a temp file beside the target, `<target>.part-<random>`, that grows
 * across attempts. A body that breaks off keeps what was written, so the next attempt can ask for
 * the rest (Range) or truncate() and start over; only commit() gives the file the target's name,
 * so a partial download is never taken for the bundle. discard() removes it.
 */
export class PartFile {
  private constructor(
    readonly path: string,
    private readonly target: string,
    private handle: FileHandle | undefined,
  ) {}

  /** Bytes in the file. */
  bytes = 0;

  static async create(target: string): Promise<PartFile> {
    const path = tempPathFor(target);
    const handle = await onDisk(path, () => open(path, 'wx'));
    return new PartFile(path, target, handle);
  }

  /**
   * Appends `body` at the end of the file. Errors of the body stream pass through unchanged (what
   * arrived before stays, counted in `bytes`); file-system failures become a BundleWriteError.
   */
  async append(body: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, opts: AppendOptions = {}): Promise<number> {
    const handle = this.open();
    let got = 0;
    for await (const chunk of body) {
      if (opts.signal?.aborted) throw abortReason(opts.signal);
      let offset = 0;
      while (offset < chunk.byteLength) {
        const position = this.bytes;
        const { bytesWritten } = await onDisk(this.path, () => handle.write(chunk, offset, chunk.byteLength - offset, position));
        offset += bytesWritten;
        this.bytes += bytesWritten;
      }
      got += chunk.byteLength;
      opts.onChunk?.(chunk.byteLength);
    }
    if (opts.signal?.aborted) throw abortReason(opts.signal);
    if (opts.expectedBytes !== undefined && got !== opts.expectedBytes) throw new TruncatedBodyError(got, opts.expectedBytes);
    return got;
  }

  /** Empties the file: the next body starts at byte 0. */
  async truncate(): Promise<void> {
    const handle = this.open();
    await onDisk(this.path, () => handle.truncate(0));
    this.bytes = 0;
  }

  /** fsyncs the file, renames it onto the target (replacing it), then fsyncs the directory. */
  async commit(): Promise<void> {
    const handle = this.open();
    try {
      await onDisk(this.path, () => handle.sync());
    } catch (err) {
      await this.discard();
      throw err;
    }
    this.handle = undefined;
    await handle.close();
    await commitTempFile(this.path, this.target);
  }

  /** Closes and removes the file (after a failure); safe to call twice. */
  async discard(): Promise<void> {
    const handle = this.handle;
    this.handle = undefined;
    await handle?.close().catch(() => undefined);
    await discardTempFile(this.path);
  }

  private open(): FileHandle {
    if (!this.handle) throw new Error(`${this.path} is already closed`);
    return this.handle;
  }
}

/** What to do with the answer to a `Range: bytes=<have>-` request. */
export type ResumeVerdict = { append: true; totalBytes: number | undefined } | { append: false; reason: string };

const CONTENT_RANGE = /^bytes\s+(\d+)-(\d+)\/(\d+|\*)$/i;

/**
 * Judges the answer to a resume request for the bytes from `have` on, of a bundle whose size is
 * `knownTotal` when known: a 206 whose Content-Range starts at `have` and runs to the known end
 * is appended; anything else (a 200: the server ignored the Range; a 206 for other bytes or
 * another size) means starting over from byte 0, for the reason given.
 */
export function judgeResumeAnswer(
  have: number,
  status: number,
  contentRange: string | undefined,
  knownTotal: number | undefined,
): ResumeVerdict {
  if (status !== 206) return { append: false, reason: `the server ignored the Range request and sent the whole file (HTTP ${status})` };
  const m = CONTENT_RANGE.exec((contentRange ?? '').trim());
  if (!m) return { append: false, reason: `the server answered 206 with an unusable Content-Range ${JSON.stringify(contentRange ?? '')}` };
  const start = Number(m[1]);
  const end = Number(m[2]);
  const total = m[3] === '*' ? undefined : Number(m[3]);
  const mismatch = (why: string): ResumeVerdict => ({
    append: false,
    reason: `the server answered 206 with Content-Range ${JSON.stringify(contentRange)}, which ${why}`,
  });
  if (start !== have) return mismatch(`does not start at byte ${have}`);
  if (end < start) return mismatch('is empty');
  if (knownTotal !== undefined && total !== undefined && total !== knownTotal) return mismatch(`is not of the ${knownTotal}-byte file`);
  const size = total ?? knownTotal;
  if (size !== undefined && end !== size - 1) return mismatch(`does not run to the end of the ${size}-byte file`);
  return { append: true, totalBytes: size };
}

/** A stream whose body will not be read: released so its connection closes. */
export async function releaseBody(body: unknown): Promise<void> {
  try {
    const b = body as { destroy?: () => void; cancel?: () => Promise<void> } | null | undefined;
    if (typeof b?.cancel === 'function') await b.cancel();
    else if (typeof b?.destroy === 'function') b.destroy();
  } catch {
    // Already closed.
  }
}

/** Renames the temp file onto `target` (replacing it), then fsyncs the directory (best effort). */
async function commitTempFile(tempPath: string, target: string): Promise<void> {
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

async function discardTempFile(tempPath: string): Promise<void> {
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
