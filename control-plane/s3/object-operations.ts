/**
 * Object operations: PutObject, GetObject/HeadObject (versions, one byte range, conditional
 * headers, response-* overrides, stored checksum on x-amz-checksum-mode), DeleteObject (delete
 * markers, version removal) and CopyObject (a hard link of the source's immutable blob).
 * Bytes stream from the socket to a temp file and from the file to the socket; nothing holds a
 * whole object in memory.
 */
import type { IncomingMessage } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { checksumHeader, parseAlgorithm } from './checksums.js';
import { openRequestBody, storedContentEncoding, type BodyDigest } from './request-body.js';
import { invalidArgument, noSuchKey, noSuchVersion, S3Error } from './s3-error.js';
import {
  header,
  httpDate,
  isoDate,
  quoteEtag,
  requireBucket,
  sendEmpty,
  sendXml,
  startResponse,
  unquoteEtag,
  type S3Context,
  type S3Request,
} from './s3-request.js';
import type { BucketRow, NewObject, ObjectRow } from './s3-store.js';
import { text, xmlDocument } from './s3-xml.js';

const STORED_HEADERS = [
  'content-type',
  'content-disposition',
  'content-language',
  'cache-control',
  'expires',
  'x-amz-website-redirect-location',
];

/** The headers kept with an object and returned on GET/HEAD. */
export function storedHeaders(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of STORED_HEADERS) {
    const v = header(req, name);
    if (v !== undefined) out[name] = v;
  }
  const encoding = storedContentEncoding(req);
  if (encoding) out['content-encoding'] = encoding;
  for (const [name, value] of Object.entries(req.headers)) {
    if (name.startsWith('x-amz-meta-') && value !== undefined) out[name] = Array.isArray(value) ? value.join(',') : value;
  }
  out['content-type'] ??= 'binary/octet-stream';
  return out;
}

/** Keys are any UTF-8 up to 1024 bytes; they are only ever compared and stored, never used as paths. */
export function validateKey(key: string): void {
  if (key === '') throw new S3Error('InvalidArgument', 'The object key must not be empty');
  if (Buffer.byteLength(key, 'utf8') > 1024)
    throw new S3Error('KeyTooLongError', 'Your key is too long (the limit is 1024 bytes of UTF-8)');
}

function versionHeaders(row: ObjectRow): Record<string, string> {
  return { 'x-amz-version-id': row.versionId };
}

function checksumResponseHeaders(digest: BodyDigest): Record<string, string> {
  return digest.checksum?.fromClient ? { [checksumHeader(digest.checksum.algorithm)]: digest.checksum.value } : {};
}

/**
 * Streams the request body into a committed blob, verified on the way (MD5, checksums, length,
 * aws-chunked framing); a body that fails a check leaves no file behind.
 */
export async function receiveBody(ctx: S3Context, r: S3Request): Promise<{ blob: string; digest: BodyDigest }> {
  const body = openRequestBody(r.req);
  r.body = body;
  const staged = await ctx.blobs.stage(body.chunks);
  let digest: BodyDigest;
  try {
    digest = body.finish();
  } catch (err) {
    await ctx.blobs.discard(staged);
    throw err;
  }
  return { blob: await ctx.blobs.commit(staged), digest };
}

export async function putObject(ctx: S3Context, r: S3Request): Promise<void> {
  requireBucket(ctx, r.bucket);
  validateKey(r.key);
  if (header(r.req, 'if-none-match')?.trim() === '*') {
    const existing = ctx.store.object(r.bucket, r.key);
    if (existing && !existing.deleteMarker)
      throw new S3Error(
        'PreconditionFailed',
        'At least one of the pre-conditions you specified did not hold (If-None-Match: * and the key exists)',
        412,
      );
  }
  const { blob, digest } = await receiveBody(ctx, r);
  let row: ObjectRow;
  try {
    // The bucket is read again: it may have been deleted, or its versioning changed, meanwhile.
    const bucket = requireBucket(ctx, r.bucket);
    const result = ctx.store.putObject(bucket, {
      bucket: r.bucket,
      key: r.key,
      blob,
      size: digest.bytes,
      etag: digest.md5,
      lastModified: ctx.clock(),
      headers: storedHeaders(r.req),
      checksumAlgorithm: digest.checksum?.algorithm ?? null,
      checksumValue: digest.checksum?.value ?? null,
      partsCount: null,
    });
    row = result.row;
    await ctx.blobs.remove(result.orphans);
  } catch (err) {
    await ctx.blobs.remove([blob]);
    throw err;
  }
  ctx.logger.debug({ bucket: r.bucket, key: r.key, versionId: row.versionId, bytes: row.size }, 'PutObject');
  sendEmpty(r, 200, { etag: quoteEtag(row.etag), ...versionHeaders(row), ...checksumResponseHeaders(digest) });
}

/** Looks up the version a GET/HEAD/Copy names; delete markers and misses become S3's errors. */
export function readableVersion(ctx: S3Context, bucket: string, key: string, versionId: string | undefined): ObjectRow {
  const row = ctx.store.object(bucket, key, versionId);
  if (!row) throw versionId === undefined ? noSuchKey(key) : noSuchVersion(key, versionId);
  if (row.deleteMarker) {
    const headers = { 'x-amz-delete-marker': 'true', 'x-amz-version-id': row.versionId };
    if (versionId !== undefined)
      throw new S3Error(
        'MethodNotAllowed',
        'The specified method is not allowed against this resource (the version is a delete marker).',
        405,
        headers,
      );
    throw noSuchKey(key, headers);
  }
  return row;
}

function versionParam(r: S3Request): string | undefined {
  const v = r.query.get('versionId');
  if (v === null) return undefined;
  if (v === '') throw invalidArgument('versionId', 'must not be empty');
  return v;
}

/** One byte range, or undefined for the whole object (absent or unparseable Range headers are ignored, as HTTP allows). */
function parseRange(value: string | undefined, size: number): { start: number; end: number } | undefined {
  if (!value) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(value.trim());
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  let start: number;
  let end: number;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0) throw rangeError(size);
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
    if (m[2] !== '' && Number(m[2]) < start) return undefined;
  }
  if (start >= size) throw rangeError(size);
  return { start, end };
}

function rangeError(size: number): S3Error {
  return new S3Error('InvalidRange', 'The requested range is not satisfiable', 416, { 'content-range': `bytes */${size}` });
}

function etagMatches(list: string, etag: string): boolean {
  return list.split(',').some((e) => e.trim() === '*' || unquoteEtag(e) === etag);
}

/** S3's precedence: If-Match over If-Unmodified-Since (412), If-None-Match over If-Modified-Since (304). */
function checkConditions(req: IncomingMessage, row: ObjectRow, prefix = ''): 'ok' | 'not-modified' {
  const ifMatch = header(req, `${prefix}if-match`);
  const ifNoneMatch = header(req, `${prefix}if-none-match`);
  const ifModifiedSince = header(req, `${prefix}if-modified-since`);
  const ifUnmodifiedSince = header(req, `${prefix}if-unmodified-since`);
  const seconds = Math.floor(row.lastModified / 1000);
  const dateSeconds = (v: string): number | undefined => {
    const t = Date.parse(v);
    return Number.isNaN(t) ? undefined : Math.floor(t / 1000);
  };
  const failed = (): S3Error => new S3Error('PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', 412);
  if (ifMatch !== undefined) {
    if (!etagMatches(ifMatch, row.etag)) throw failed();
  } else if (ifUnmodifiedSince !== undefined) {
    const t = dateSeconds(ifUnmodifiedSince);
    if (t !== undefined && seconds > t) throw failed();
  }
  if (ifNoneMatch !== undefined) {
    if (etagMatches(ifNoneMatch, row.etag)) return 'not-modified';
  } else if (ifModifiedSince !== undefined) {
    const t = dateSeconds(ifModifiedSince);
    if (t !== undefined && seconds <= t) return 'not-modified';
  }
  return 'ok';
}

const RESPONSE_OVERRIDES: Record<string, string> = {
  'response-content-type': 'content-type',
  'response-content-language': 'content-language',
  'response-expires': 'expires',
  'response-cache-control': 'cache-control',
  'response-content-disposition': 'content-disposition',
  'response-content-encoding': 'content-encoding',
};

export async function getObject(ctx: S3Context, r: S3Request): Promise<void> {
  requireBucket(ctx, r.bucket);
  const row = readableVersion(ctx, r.bucket, r.key, versionParam(r));
  const headers: Record<string, string | number> = {
    ...row.headers,
    etag: quoteEtag(row.etag),
    'last-modified': httpDate(row.lastModified),
    'accept-ranges': 'bytes',
    ...versionHeaders(row),
    ...(row.partsCount ? { 'x-amz-mp-parts-count': row.partsCount } : {}),
  };
  if (checkConditions(r.req, row) === 'not-modified') {
    sendEmpty(r, 304, { etag: headers.etag!, 'last-modified': headers['last-modified']!, ...versionHeaders(row) });
    return;
  }
  for (const [param, name] of Object.entries(RESPONSE_OVERRIDES)) {
    const v = r.query.get(param);
    if (v === null) continue;
    // Header values are Latin-1 without control characters; anything else could not be sent.
    if (/[^\t\x20-\x7e\x80-\xff]/.test(v))
      throw invalidArgument(param, 'must be a valid HTTP header value (Latin-1, no control characters)');
    headers[name] = v;
  }
  const range = parseRange(header(r.req, 'range'), row.size);
  const status = range ? 206 : 200;
  const start = range?.start ?? 0;
  const end = range?.end ?? row.size - 1;
  headers['content-length'] = row.size === 0 ? 0 : end - start + 1;
  if (range) headers['content-range'] = `bytes ${start}-${end}/${row.size}`;
  // The stored checksum covers the whole object, so it only goes with whole-object answers.
  const algorithm = row.checksumAlgorithm ? parseAlgorithm(row.checksumAlgorithm) : undefined;
  if (!range && algorithm && row.checksumValue && header(r.req, 'x-amz-checksum-mode')?.toUpperCase() === 'ENABLED') {
    headers[checksumHeader(algorithm)] = row.checksumValue;
    headers['x-amz-checksum-type'] = 'FULL_OBJECT';
  }
  if (r.method === 'HEAD' || row.size === 0) {
    startResponse(r, status, headers);
    r.res.end();
    return;
  }
  let handle;
  try {
    handle = await ctx.blobs.open(row.blob!);
  } catch (err) {
    // Deleted between the lookup and the open.
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw noSuchKey(r.key);
    throw err;
  }
  try {
    startResponse(r, status, headers);
  } catch (err) {
    await handle.close();
    throw err;
  }
  try {
    await pipeline(handle.createReadStream({ start, end, highWaterMark: 256 * 1024 }), r.res);
  } catch (err) {
    // The client went away mid-body; nothing more to tell it.
    ctx.logger.debug({ err, bucket: r.bucket, key: r.key }, 'GetObject body interrupted');
  }
}

export async function deleteObject(ctx: S3Context, r: S3Request): Promise<void> {
  const bucket = requireBucket(ctx, r.bucket);
  const versionId = versionParam(r);
  const result = removeObject(ctx, bucket, r.key, versionId);
  await ctx.blobs.remove(result.orphans);
  sendEmpty(r, 204, {
    ...(result.versionId ? { 'x-amz-version-id': result.versionId } : {}),
    ...(result.deleteMarker ? { 'x-amz-delete-marker': 'true' } : {}),
  });
}

/** DeleteObject's effect (shared with DeleteObjects): remove a version, or add a delete marker. */
export function removeObject(
  ctx: S3Context,
  bucket: BucketRow,
  key: string,
  versionId: string | undefined,
): { versionId?: string; deleteMarker: boolean; orphans: string[] } {
  if (versionId !== undefined) {
    const row = ctx.store.object(bucket.name, key, versionId);
    if (!row) return { versionId, deleteMarker: false, orphans: [] };
    ctx.store.deleteVersion(row);
    return { versionId, deleteMarker: row.deleteMarker, orphans: row.blob ? [row.blob] : [] };
  }
  const { row, orphans } = ctx.store.putDeleteMarker(bucket, key, ctx.clock());
  return { versionId: row.versionId, deleteMarker: true, orphans };
}

/** x-amz-copy-source: [/]bucket/key[?versionId=v], the key URL-encoded. */
function parseCopySource(value: string): { bucket: string; key: string; versionId?: string } {
  const q = value.indexOf('?');
  const path = q === -1 ? value : value.slice(0, q);
  const params = new URLSearchParams(q === -1 ? '' : value.slice(q + 1));
  let decoded: string;
  try {
    decoded = decodeURIComponent(path).replace(/^\//, '');
  } catch {
    throw invalidArgument('x-amz-copy-source', 'is not a valid URL-encoded bucket/key');
  }
  const slash = decoded.indexOf('/');
  if (slash <= 0 || slash === decoded.length - 1) throw invalidArgument('x-amz-copy-source', 'must be bucket/key');
  const versionId = params.get('versionId');
  return { bucket: decoded.slice(0, slash), key: decoded.slice(slash + 1), ...(versionId ? { versionId } : {}) };
}

export async function copyObject(ctx: S3Context, r: S3Request): Promise<void> {
  requireBucket(ctx, r.bucket);
  validateKey(r.key);
  const source = parseCopySource(header(r.req, 'x-amz-copy-source')!);
  requireBucket(ctx, source.bucket);
  const src = readableVersion(ctx, source.bucket, source.key, source.versionId);
  if (checkConditions(r.req, src, 'x-amz-copy-source-') === 'not-modified') {
    throw new S3Error('PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', 412);
  }
  const directive = (header(r.req, 'x-amz-metadata-directive') ?? 'COPY').toUpperCase();
  if (directive !== 'COPY' && directive !== 'REPLACE') throw invalidArgument('x-amz-metadata-directive', 'must be COPY or REPLACE');
  if (source.bucket === r.bucket && source.key === r.key && source.versionId === undefined && directive === 'COPY') {
    throw new S3Error(
      'InvalidRequest',
      "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata.",
    );
  }
  const blob = await ctx.blobs.duplicate(src.blob!);
  let row: ObjectRow;
  try {
    const obj: NewObject = {
      bucket: r.bucket,
      key: r.key,
      blob,
      size: src.size,
      etag: src.etag,
      lastModified: ctx.clock(),
      headers: directive === 'REPLACE' ? storedHeaders(r.req) : src.headers,
      checksumAlgorithm: src.checksumAlgorithm,
      checksumValue: src.checksumValue,
      partsCount: src.partsCount,
    };
    const result = ctx.store.putObject(requireBucket(ctx, r.bucket), obj);
    row = result.row;
    await ctx.blobs.remove(result.orphans);
  } catch (err) {
    await ctx.blobs.remove([blob]);
    throw err;
  }
  const algorithm = row.checksumAlgorithm ? parseAlgorithm(row.checksumAlgorithm) : undefined;
  sendXml(
    r,
    200,
    xmlDocument(
      'CopyObjectResult',
      text('ETag', quoteEtag(row.etag)),
      text('LastModified', isoDate(row.lastModified)),
      algorithm && row.checksumValue ? text(`Checksum${algorithm}`, row.checksumValue) : undefined,
    ),
    { ...versionHeaders(row), 'x-amz-copy-source-version-id': src.versionId },
  );
}
