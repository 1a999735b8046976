/**
 * Reads an upload's body as it streams in: decodes aws-chunked framing when the client used it,
 * computes the MD5 (the ETag) and whichever checksum the client declared (or CRC32 by default, so
 * GetObject can later return one), counts the bytes, and then checks everything the request
 * promised: Content-MD5, a hex x-amz-content-sha256, x-amz-checksum-* headers or trailers and
 * x-amz-decoded-content-length. Nothing is buffered beyond the socket's own chunks.
 *
 * Usage: `const body = openRequestBody(req)`; consume `body.chunks` (into a temp file); then
 * `body.finish()` throws the S3Error for a mismatch or returns the digests.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { decodeAwsChunked, type ChunkedResult } from './aws-chunked.js';
import {
  algorithmOfHeader,
  checksumHeader,
  createChecksummer,
  parseAlgorithm,
  type ChecksumAlgorithm,
  type Checksummer,
} from './checksums.js';
import { S3Error } from './s3-error.js';

/** S3's single-PUT limit. */
export const MAX_OBJECT_BYTES = 5 * 1024 ** 3;

export interface BodyDigest {
  bytes: number;
  /** Hex MD5 of the decoded payload. */
  md5: string;
  /** The checksum to store and return: the client's when it sent one, else our CRC32. */
  checksum?: { algorithm: ChecksumAlgorithm; value: string; fromClient: boolean };
}

export interface RequestBody {
  chunks: AsyncIterable<Buffer>;
  /** Whether any of the body has been read (an unread body is drained before an error answer). */
  started(): boolean;
  finish(): BodyDigest;
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(',') : v;
}

/** Whether the request's body uses aws-chunked framing. */
export function isAwsChunked(req: IncomingMessage): boolean {
  const encoding = header(req, 'content-encoding') ?? '';
  const sha = header(req, 'x-amz-content-sha256') ?? '';
  return encoding.split(',').some((e) => e.trim().toLowerCase() === 'aws-chunked') || sha.startsWith('STREAMING-');
}

/** The Content-Encoding to store: the client's, minus the aws-chunked transfer framing. */
export function storedContentEncoding(req: IncomingMessage): string | undefined {
  const rest = (header(req, 'content-encoding') ?? '')
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e !== '' && e.toLowerCase() !== 'aws-chunked');
  return rest.length > 0 ? rest.join(', ') : undefined;
}

interface DeclaredChecksum {
  algorithm: ChecksumAlgorithm;
  /** Present when sent as a header; from the trailer otherwise. */
  value?: string;
  trailer: boolean;
}

function declaredChecksum(req: IncomingMessage): DeclaredChecksum | undefined {
  for (const [name, value] of Object.entries(req.headers)) {
    const algorithm = algorithmOfHeader(name);
    if (algorithm && typeof value === 'string') return { algorithm, value: value.trim(), trailer: false };
  }
  const trailer = header(req, 'x-amz-trailer');
  if (trailer) {
    for (const name of trailer.split(',')) {
      const algorithm = algorithmOfHeader(name);
      if (algorithm) return { algorithm, trailer: true };
    }
  }
  const sdk = header(req, 'x-amz-sdk-checksum-algorithm');
  const algorithm = sdk ? parseAlgorithm(sdk) : undefined;
  return algorithm ? { algorithm, trailer: true } : undefined;
}

export function openRequestBody(req: IncomingMessage, opts: { maxBytes?: number } = {}): RequestBody {
  const maxBytes = opts.maxBytes ?? MAX_OBJECT_BYTES;
  const chunked = isAwsChunked(req);
  const chunkedResult: ChunkedResult = { trailers: new Map() };
  const declared = declaredChecksum(req);
  const contentSha = header(req, 'x-amz-content-sha256');
  const wantSha256Hex = !chunked && contentSha !== undefined && /^[0-9a-f]{64}$/i.test(contentSha);
  const contentMd5 = header(req, 'content-md5');

  const md5 = createHash('md5');
  const sha256 = wantSha256Hex ? createHash('sha256') : undefined;
  const algorithm: ChecksumAlgorithm = declared?.algorithm ?? 'CRC32';
  const summer: Checksummer | undefined = createChecksummer(algorithm);
  let bytes = 0;
  let started = false;
  let ended = false;

  async function* chunks(): AsyncGenerator<Buffer> {
    started = true;
    // Not destroyed on an early exit, so an error answer can still reach the client.
    const raw = req.iterator({ destroyOnReturn: false }) as AsyncIterableIterator<Buffer>;
    const source: AsyncIterable<Buffer> = chunked ? decodeAwsChunked(raw, chunkedResult) : raw;
    // A request whose connection closes before the body is complete (a client gone, or one the
    // body watchdog cut off) must end the read with an error even if the stream iterator never
    // settles: the caller holds an open temp file until then, and a file handle left to the
    // garbage collector is an uncaught error on Node 26, which would take the control plane down.
    let onClose = (): void => undefined;
    const closed = new Promise<never>((_resolve, reject) => {
      onClose = () => {
        if (!req.complete) reject(new S3Error('IncompleteBody', 'The connection closed before the request body was complete'));
      };
    });
    closed.catch(() => undefined);
    if (req.destroyed) onClose();
    else req.once('close', onClose);
    const it = source[Symbol.asyncIterator]();
    try {
      for (;;) {
        const next = await Promise.race([it.next(), closed]);
        if (next.done) break;
        const chunk = next.value;
        bytes += chunk.length;
        if (bytes > maxBytes)
          throw new S3Error('EntityTooLarge', `Your proposed upload exceeds the maximum allowed size of ${maxBytes} bytes`);
        md5.update(chunk);
        sha256?.update(chunk);
        summer?.update(chunk);
        yield chunk;
      }
    } catch (err) {
      // Not awaited: a source stuck in next() would never answer return().
      void Promise.resolve(it.return?.()).catch(() => undefined);
      throw err;
    } finally {
      req.off('close', onClose);
    }
    ended = true;
  }

  return {
    chunks: chunks(),
    started: () => started,
    finish(): BodyDigest {
      if (!ended) throw new Error('request body not fully read');
      const decodedLength = header(req, 'x-amz-decoded-content-length');
      if (chunked && decodedLength !== undefined && Number(decodedLength) !== bytes) {
        throw new S3Error(
          'IncompleteBody',
          `x-amz-decoded-content-length says ${decodedLength} bytes but the aws-chunked body decoded to ${bytes}`,
        );
      }
      const md5Raw = md5.digest();
      if (contentMd5 !== undefined) {
        const given = Buffer.from(contentMd5.trim(), 'base64');
        if (given.length !== 16) throw new S3Error('InvalidDigest', 'The Content-MD5 you specified is not a base64-encoded 128-bit MD5');
        if (!given.equals(md5Raw)) throw new S3Error('BadDigest', 'The Content-MD5 you specified did not match what we received.');
      }
      if (sha256 && contentSha !== undefined) {
        const actual = sha256.digest('hex');
        if (actual !== contentSha.toLowerCase()) {
          throw new S3Error(
            'XAmzContentSHA256Mismatch',
            `The provided 'x-amz-content-sha256' header does not match what was computed (${actual}).`,
          );
        }
      }
      let checksum: BodyDigest['checksum'];
      if (declared) {
        const name = checksumHeader(declared.algorithm);
        const given = declared.trailer ? chunkedResult.trailers.get(name) : declared.value;
        if (given !== undefined && given !== '') {
          const actual = summer?.digest();
          if (actual !== undefined && actual !== given) {
            throw new S3Error(
              'BadDigest',
              `The ${declared.algorithm} you specified (${given}) did not match the calculated checksum (${actual}).`,
            );
          }
          checksum = { algorithm: declared.algorithm, value: given, fromClient: true };
        } else if (summer) {
          // The client named an algorithm but sent no value (x-amz-sdk-checksum-algorithm alone).
          checksum = { algorithm: declared.algorithm, value: summer.digest(), fromClient: false };
        }
      } else if (summer) {
        checksum = { algorithm, value: summer.digest(), fromClient: false };
      }
      return { bytes, md5: md5Raw.toString('hex'), ...(checksum ? { checksum } : {}) };
    },
  };
}

/** Reads a small body (request XML) whole, through the same decoding and checks. */
export async function readSmallBody(req: IncomingMessage, limit = 4 * 1024 * 1024): Promise<Buffer> {
  const body = openRequestBody(req, { maxBytes: limit });
  const parts: Buffer[] = [];
  try {
    for await (const chunk of body.chunks) parts.push(chunk);
  } catch (err) {
    if (err instanceof S3Error && err.code === 'EntityTooLarge')
      throw new S3Error('MaxMessageLengthExceeded', `Your request body was too large (limit ${limit} bytes).`);
    throw err;
  }
  body.finish();
  return Buffer.concat(parts);
}
