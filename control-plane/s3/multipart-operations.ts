/**
 * Multipart uploads, as the aws CLI (above 8 MB), `aws deploy push` and the SDK's lib-storage use
 * them: Create, UploadPart, Complete, Abort, ListParts and ListMultipartUploads. Parts are blobs of
 * their own; Complete checks the part list (ascending, each part present with its ETag, every part
 * but the last at least 5 MiB, as S3 requires), streams the parts into one new blob and records the
 * object with S3's multipart ETag: the MD5 of the parts' binary MD5s, then "-<part count>".
 */
import { createHash, randomBytes } from 'node:crypto';
import { checksumHeader, parseAlgorithm } from './checksums.js';
import { receiveBody, storedHeaders, validateKey } from './object-operations.js';
import { readSmallBody } from './request-body.js';
import { invalidArgument, noSuchUpload, notImplemented, S3Error } from './s3-error.js';
import {
  header,
  intParam,
  isoDate,
  OWNER_ID,
  OWNER_NAME,
  quoteEtag,
  requireBucket,
  sendEmpty,
  sendXml,
  unquoteEtag,
  type S3Context,
  type S3Request,
} from './s3-request.js';
import type { UploadRow } from './s3-store.js';
import { childText, children, el, parseXml, text, xmlDocument } from './s3-xml.js';

export const MIN_PART_BYTES = 5 * 1024 * 1024;
const MAX_PARTS = 10_000;

function requireUpload(ctx: S3Context, r: S3Request): UploadRow {
  const uploadId = r.query.get('uploadId') ?? '';
  const upload = ctx.store.upload(uploadId);
  if (!upload || upload.bucket !== r.bucket || upload.key !== r.key) throw noSuchUpload(uploadId);
  return upload;
}

function owner(name: string): string {
  return el(name, text('ID', OWNER_ID), text('DisplayName', OWNER_NAME));
}

export async function createMultipartUpload(ctx: S3Context, r: S3Request): Promise<void> {
  requireBucket(ctx, r.bucket);
  validateKey(r.key);
  const requested = header(r.req, 'x-amz-checksum-algorithm');
  const algorithm = requested ? parseAlgorithm(requested) : undefined;
  if (requested && !algorithm) throw invalidArgument('x-amz-checksum-algorithm', `unknown algorithm ${JSON.stringify(requested)}`);
  const uploadId = randomBytes(32).toString('base64url');
  ctx.store.createUpload({
    uploadId,
    bucket: r.bucket,
    key: r.key,
    createdAt: ctx.clock(),
    headers: storedHeaders(r.req),
    checksumAlgorithm: algorithm ?? null,
  });
  ctx.logger.debug({ bucket: r.bucket, key: r.key, uploadId }, 'CreateMultipartUpload');
  sendXml(r, 200, xmlDocument('InitiateMultipartUploadResult', text('Bucket', r.bucket), text('Key', r.key), text('UploadId', uploadId)), {
    ...(algorithm ? { 'x-amz-checksum-algorithm': algorithm } : {}),
  });
}

function partNumberParam(r: S3Request): number {
  const raw = r.query.get('partNumber') ?? '';
  const n = /^\d{1,5}$/.test(raw) ? Number(raw) : NaN;
  if (!(n >= 1 && n <= MAX_PARTS))
    throw invalidArgument(
      'partNumber',
      `Part number must be an integer between 1 and ${MAX_PARTS}, inclusive (got ${JSON.stringify(raw)})`,
    );
  return n;
}

export async function uploadPart(ctx: S3Context, r: S3Request): Promise<void> {
  if (header(r.req, 'x-amz-copy-source') !== undefined) throw notImplemented('UploadPartCopy');
  requireBucket(ctx, r.bucket);
  const partNumber = partNumberParam(r);
  const upload = requireUpload(ctx, r);
  const { blob, digest } = await receiveBody(ctx, r);
  try {
    // Aborted or completed while the part streamed in.
    if (!ctx.store.upload(upload.uploadId) || ctx.completing.has(upload.uploadId)) throw noSuchUpload(upload.uploadId);
    const replaced = ctx.store.putPart({
      uploadId: upload.uploadId,
      partNumber,
      blob,
      size: digest.bytes,
      etag: digest.md5,
      lastModified: ctx.clock(),
      checksumAlgorithm: digest.checksum?.algorithm ?? null,
      checksumValue: digest.checksum?.value ?? null,
    });
    if (replaced) await ctx.blobs.remove([replaced]);
  } catch (err) {
    await ctx.blobs.remove([blob]);
    throw err;
  }
  sendEmpty(r, 200, {
    etag: quoteEtag(digest.md5),
    ...(digest.checksum?.fromClient ? { [checksumHeader(digest.checksum.algorithm)]: digest.checksum.value } : {}),
  });
}

export async function completeMultipartUpload(ctx: S3Context, r: S3Request): Promise<void> {
  requireBucket(ctx, r.bucket);
  const upload = requireUpload(ctx, r);
  const doc = parseXml((await readSmallBody(r.req)).toString('utf8'));
  if (doc.name !== 'CompleteMultipartUpload')
    throw new S3Error('MalformedXML', `Expected a CompleteMultipartUpload document, got <${doc.name}>`);
  const requested = children(doc, 'Part').map((p, i) => {
    const number = Number(childText(p, 'PartNumber'));
    const etag = childText(p, 'ETag');
    if (!Number.isInteger(number) || etag === undefined)
      throw new S3Error('MalformedXML', `Part ${i + 1} of the list needs a PartNumber and an ETag`);
    return { number, etag: unquoteEtag(etag) };
  });
  if (requested.length === 0) throw new S3Error('MalformedXML', 'You must specify at least one part');
  for (let i = 1; i < requested.length; i++) {
    if (requested[i]!.number <= requested[i - 1]!.number) {
      throw new S3Error(
        'InvalidPartOrder',
        `The list of parts was not in ascending order: part ${requested[i]!.number} follows part ${requested[i - 1]!.number}`,
      );
    }
  }
  if (ctx.completing.has(upload.uploadId))
    throw new S3Error('OperationAborted', 'A conflicting operation is in progress on this multipart upload', 409);
  const stored = new Map(ctx.store.parts(upload.uploadId).map((p) => [p.partNumber, p]));
  const parts = requested.map(({ number, etag }) => {
    const part = stored.get(number);
    if (!part || part.etag !== etag) {
      throw new S3Error('InvalidPart', `Part ${number} with ETag "${etag}" could not be found: it was not uploaded, or its ETag differs`);
    }
    return part;
  });
  parts.forEach((p, i) => {
    if (i < parts.length - 1 && p.size < MIN_PART_BYTES) {
      throw new S3Error(
        'EntityTooSmall',
        `Part ${p.partNumber} is ${p.size} bytes; every part but the last must be at least ${MIN_PART_BYTES} bytes`,
      );
    }
  });
  const md5s = createHash('md5');
  for (const p of parts) md5s.update(Buffer.from(p.etag, 'hex'));
  const etag = `${md5s.digest('hex')}-${parts.length}`;

  ctx.completing.add(upload.uploadId);
  let versionId: string;
  try {
    const staged = await ctx.blobs.stageConcat(parts.map((p) => p.blob));
    const blob = await ctx.blobs.commit(staged);
    try {
      const bucket = requireBucket(ctx, r.bucket);
      const { row, orphans } = ctx.store.completeUpload(bucket, upload.uploadId, {
        bucket: r.bucket,
        key: r.key,
        blob,
        size: staged.bytes,
        etag,
        lastModified: ctx.clock(),
        headers: upload.headers,
        // The object's checksum would be a composite of the parts' ones; none is kept.
        checksumAlgorithm: null,
        checksumValue: null,
        partsCount: parts.length,
      });
      versionId = row.versionId;
      await ctx.blobs.remove(orphans);
    } catch (err) {
      await ctx.blobs.remove([blob]);
      throw err;
    }
  } finally {
    ctx.completing.delete(upload.uploadId);
  }
  ctx.logger.debug({ bucket: r.bucket, key: r.key, uploadId: upload.uploadId, parts: parts.length, versionId }, 'CompleteMultipartUpload');
  const host = header(r.req, 'host') ?? 'localhost';
  const scheme = 'encrypted' in r.req.socket && r.req.socket.encrypted ? 'https' : 'http';
  const location = `${scheme}://${host}/${encodeURIComponent(r.bucket)}/${r.key.split('/').map(encodeURIComponent).join('/')}`;
  sendXml(
    r,
    200,
    xmlDocument(
      'CompleteMultipartUploadResult',
      text('Location', location),
      text('Bucket', r.bucket),
      text('Key', r.key),
      text('ETag', quoteEtag(etag)),
    ),
    { 'x-amz-version-id': versionId },
  );
}

export async function abortMultipartUpload(ctx: S3Context, r: S3Request): Promise<void> {
  requireBucket(ctx, r.bucket);
  const upload = requireUpload(ctx, r);
  if (ctx.completing.has(upload.uploadId))
    throw new S3Error('OperationAborted', 'A conflicting operation is in progress on this multipart upload', 409);
  await ctx.blobs.remove(ctx.store.deleteUpload(upload.uploadId));
  sendEmpty(r, 204);
}

export async function listParts(ctx: S3Context, r: S3Request): Promise<void> {
  requireBucket(ctx, r.bucket);
  const upload = requireUpload(ctx, r);
  const maxParts = intParam(r, 'max-parts', 1000, 1000);
  const marker = intParam(r, 'part-number-marker', 0);
  const all = ctx.store.parts(upload.uploadId).filter((p) => p.partNumber > marker);
  const page = all.slice(0, maxParts);
  const truncated = all.length > page.length;
  sendXml(
    r,
    200,
    xmlDocument(
      'ListPartsResult',
      text('Bucket', r.bucket),
      text('Key', r.key),
      text('UploadId', upload.uploadId),
      text('PartNumberMarker', marker),
      text('NextPartNumberMarker', page.length > 0 ? page[page.length - 1]!.partNumber : marker),
      text('MaxParts', maxParts),
      text('IsTruncated', truncated),
      owner('Initiator'),
      owner('Owner'),
      text('StorageClass', 'STANDARD'),
      text('ChecksumAlgorithm', upload.checksumAlgorithm ?? undefined),
      page.map((p) =>
        el(
          'Part',
          text('PartNumber', p.partNumber),
          text('LastModified', isoDate(p.lastModified)),
          text('ETag', quoteEtag(p.etag)),
          text('Size', p.size),
          p.checksumAlgorithm && p.checksumValue ? text(`Checksum${p.checksumAlgorithm}`, p.checksumValue) : undefined,
        ),
      ),
    ),
  );
}

export async function listMultipartUploads(ctx: S3Context, r: S3Request): Promise<void> {
  requireBucket(ctx, r.bucket);
  const prefix = r.query.get('prefix') ?? '';
  const maxUploads = intParam(r, 'max-uploads', 1000, 1000);
  const all = ctx.store.uploads(r.bucket).filter((u) => u.key.startsWith(prefix));
  const page = all.slice(0, maxUploads);
  sendXml(
    r,
    200,
    xmlDocument(
      'ListMultipartUploadsResult',
      text('Bucket', r.bucket),
      text('KeyMarker', ''),
      text('UploadIdMarker', ''),
      text('Prefix', prefix),
      text('MaxUploads', maxUploads),
      text('IsTruncated', all.length > page.length),
      page.map((u) =>
        el(
          'Upload',
          text('Key', u.key),
          text('UploadId', u.uploadId),
          owner('Initiator'),
          owner('Owner'),
          text('StorageClass', 'STANDARD'),
          text('Initiated', isoDate(u.createdAt)),
        ),
      ),
    ),
  );
}
