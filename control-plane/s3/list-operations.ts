/**
 * Listings: ListObjectsV2 (what `aws s3 ls` and the SDK use), ListObjects v1 and
 * ListObjectVersions, with prefix, delimiter (common prefixes count toward max-keys, as in S3),
 * paging and `encoding-type=url` (botocore asks for it and decodes the answer).
 *
 * Paging walks the metadata in pages of 1000 rows in UTF-8 key order; the position is the last key
 * or common prefix returned. A continuation token is that position, base64url-encoded: opaque to
 * clients, but stateless here. Resuming after a common prefix skips every key under it.
 */
import { invalidArgument } from './s3-error.js';
import {
  intParam,
  isoDate,
  OWNER_ID,
  OWNER_NAME,
  quoteEtag,
  requireBucket,
  sendXml,
  type S3Context,
  type S3Request,
} from './s3-request.js';
import type { ObjectRow } from './s3-store.js';
import { el, text, xmlDocument } from './s3-xml.js';

const PAGE = 1000;

interface Entry {
  row?: ObjectRow;
  prefix?: string;
}

/** Groups a key under a common prefix when the delimiter occurs after the listing prefix. */
function commonPrefix(key: string, prefix: string, delimiter: string): string | undefined {
  if (delimiter === '') return undefined;
  const at = key.indexOf(delimiter, prefix.length);
  return at === -1 ? undefined : key.slice(0, at + delimiter.length);
}

/**
 * Collects up to maxKeys entries from rows fetched by `fetch(cursor)`; `after` is the resume
 * position. Returns the entries and whether more exist.
 */
function collect(
  fetch: (cursor: ObjectRow | undefined) => ObjectRow[],
  opts: { prefix: string; delimiter: string; after: string; maxKeys: number },
): { entries: Entry[]; truncated: boolean } {
  const entries: Entry[] = [];
  let lastPrefix: string | undefined = opts.after === '' ? undefined : opts.after;
  let cursor: ObjectRow | undefined;
  for (;;) {
    const rows = fetch(cursor);
    if (rows.length === 0) return { entries, truncated: false };
    for (const row of rows) {
      cursor = row;
      if (!row.key.startsWith(opts.prefix)) return { entries, truncated: false };
      const cp = commonPrefix(row.key, opts.prefix, opts.delimiter);
      if (cp !== undefined && cp === lastPrefix) continue;
      if (entries.length >= opts.maxKeys) return { entries, truncated: true };
      if (cp !== undefined) {
        entries.push({ prefix: cp });
        lastPrefix = cp;
      } else {
        entries.push({ row });
      }
    }
  }
}

function encoder(r: S3Request): (s: string) => string {
  const type = r.query.get('encoding-type');
  if (type === null || type === '') return (s) => s;
  if (type !== 'url') throw invalidArgument('encoding-type', 'Invalid Encoding Method specified in Request (only "url" is supported)');
  return (s) => encodeURIComponent(s).replaceAll('%2F', '/');
}

function owner(): string {
  return el('Owner', text('ID', OWNER_ID), text('DisplayName', OWNER_NAME));
}

function contents(rows: ObjectRow[], enc: (s: string) => string, withOwner: boolean): string[] {
  return rows.map((row) =>
    el(
      'Contents',
      text('Key', enc(row.key)),
      text('LastModified', isoDate(row.lastModified)),
      text('ETag', quoteEtag(row.etag)),
      row.checksumAlgorithm && row.partsCount === null ? text('ChecksumAlgorithm', row.checksumAlgorithm) : undefined,
      text('Size', row.size),
      withOwner ? owner() : undefined,
      text('StorageClass', 'STANDARD'),
    ),
  );
}

function listLatest(ctx: S3Context, bucket: string, prefix: string, delimiter: string, after: string, maxKeys: number) {
  return collect((cursor) => ctx.store.latestPage(bucket, cursor?.key ?? after, prefix, PAGE), { prefix, delimiter, after, maxKeys });
}

function decodeToken(token: string): string {
  const decoded = Buffer.from(token, 'base64url').toString('utf8');
  if (token === '' || Buffer.from(decoded, 'utf8').toString('base64url') !== token) {
    throw invalidArgument('continuation-token', 'The continuation token provided is incorrect');
  }
  return decoded;
}

/** The parameters every listing takes: encoding-type, prefix, delimiter, max-keys (1..1000). */
function listParams(r: S3Request): { enc: (v: string) => string; prefix: string; delimiter: string; maxKeys: number } {
  return {
    enc: encoder(r),
    prefix: r.query.get('prefix') ?? '',
    delimiter: r.query.get('delimiter') ?? '',
    maxKeys: intParam(r, 'max-keys', 1000, 1000),
  };
}

export async function listObjectsV2(ctx: S3Context, r: S3Request): Promise<void> {
  requireBucket(ctx, r.bucket);
  const { enc, prefix, delimiter, maxKeys } = listParams(r);
  const token = r.query.get('continuation-token');
  const startAfter = r.query.get('start-after') ?? '';
  const after = token !== null ? decodeToken(token) : startAfter;
  const { entries, truncated } = listLatest(ctx, r.bucket, prefix, delimiter, after, maxKeys);
  const last = entries[entries.length - 1];
  const next = truncated && last ? Buffer.from(last.prefix ?? last.row!.key, 'utf8').toString('base64url') : undefined;
  const rows = entries.flatMap((e) => (e.row ? [e.row] : []));
  const prefixes = entries.flatMap((e) => (e.prefix !== undefined ? [e.prefix] : []));
  sendXml(
    r,
    200,
    xmlDocument(
      'ListBucketResult',
      text('Name', r.bucket),
      text('Prefix', enc(prefix)),
      delimiter ? text('Delimiter', enc(delimiter)) : undefined,
      text('MaxKeys', maxKeys),
      text('KeyCount', entries.length),
      text('IsTruncated', truncated),
      token !== null ? text('ContinuationToken', token) : undefined,
      next ? text('NextContinuationToken', next) : undefined,
      startAfter ? text('StartAfter', enc(startAfter)) : undefined,
      r.query.get('encoding-type') ? text('EncodingType', 'url') : undefined,
      contents(rows, enc, r.query.get('fetch-owner') === 'true'),
      prefixes.map((p) => el('CommonPrefixes', text('Prefix', enc(p)))),
    ),
  );
}

export async function listObjectsV1(ctx: S3Context, r: S3Request): Promise<void> {
  requireBucket(ctx, r.bucket);
  const { enc, prefix, delimiter, maxKeys } = listParams(r);
  const marker = r.query.get('marker') ?? '';
  const { entries, truncated } = listLatest(ctx, r.bucket, prefix, delimiter, marker, maxKeys);
  const last = entries[entries.length - 1];
  const rows = entries.flatMap((e) => (e.row ? [e.row] : []));
  const prefixes = entries.flatMap((e) => (e.prefix !== undefined ? [e.prefix] : []));
  sendXml(
    r,
    200,
    xmlDocument(
      'ListBucketResult',
      text('Name', r.bucket),
      text('Prefix', enc(prefix)),
      text('Marker', enc(marker)),
      // S3 gives NextMarker only with a delimiter; without one clients resume from the last key.
      truncated && delimiter && last ? text('NextMarker', enc(last.prefix ?? last.row!.key)) : undefined,
      delimiter ? text('Delimiter', enc(delimiter)) : undefined,
      text('MaxKeys', maxKeys),
      text('IsTruncated', truncated),
      r.query.get('encoding-type') ? text('EncodingType', 'url') : undefined,
      contents(rows, enc, true),
      prefixes.map((p) => el('CommonPrefixes', text('Prefix', enc(p)))),
    ),
  );
}

export async function listObjectVersions(ctx: S3Context, r: S3Request): Promise<void> {
  requireBucket(ctx, r.bucket);
  const { enc, prefix, delimiter, maxKeys } = listParams(r);
  const keyMarker = r.query.get('key-marker') ?? '';
  const versionIdMarker = r.query.get('version-id-marker') ?? '';
  let beforeId = 0;
  if (keyMarker && versionIdMarker) {
    const at = ctx.store.object(r.bucket, keyMarker, versionIdMarker);
    if (!at) throw invalidArgument('version-id-marker', `version ${versionIdMarker} of key ${keyMarker} does not exist`);
    beforeId = at.id;
  }
  const { entries, truncated } = collect(
    (cursor) =>
      cursor
        ? ctx.store.versionsPage(r.bucket, prefix, cursor.key, cursor.id, PAGE)
        : ctx.store.versionsPage(r.bucket, prefix, keyMarker, beforeId, PAGE),
    // A version-id marker resumes inside its key; only a bare key marker can be a common prefix.
    { prefix, delimiter, after: versionIdMarker ? '' : keyMarker, maxKeys },
  );
  const last = entries[entries.length - 1];
  const body = entries.map((e) => {
    if (e.prefix !== undefined) return el('CommonPrefixes', text('Prefix', enc(e.prefix)));
    const row = e.row!;
    const common = [
      text('Key', enc(row.key)),
      text('VersionId', row.versionId),
      text('IsLatest', row.isLatest),
      text('LastModified', isoDate(row.lastModified)),
    ];
    if (row.deleteMarker) return el('DeleteMarker', common, owner());
    return el('Version', common, text('ETag', quoteEtag(row.etag)), text('Size', row.size), text('StorageClass', 'STANDARD'), owner());
  });
  sendXml(
    r,
    200,
    xmlDocument(
      'ListVersionsResult',
      text('Name', r.bucket),
      text('Prefix', enc(prefix)),
      text('KeyMarker', enc(keyMarker)),
      text('VersionIdMarker', versionIdMarker),
      truncated && last ? text('NextKeyMarker', enc(last.prefix ?? last.row!.key)) : undefined,
      truncated && last?.row ? text('NextVersionIdMarker', last.row.versionId) : undefined,
      delimiter ? text('Delimiter', enc(delimiter)) : undefined,
      text('MaxKeys', maxKeys),
      text('IsTruncated', truncated),
      r.query.get('encoding-type') ? text('EncodingType', 'url') : undefined,
      body,
    ),
  );
}
