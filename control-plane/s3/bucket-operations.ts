/**
 * Service- and bucket-level operations: ListBuckets, CreateBucket (optional
 * CreateBucketConfiguration; buckets start with versioning Enabled so every revision uploaded for a
 * deployment has a VersionId), HeadBucket, DeleteBucket, GetBucketLocation, Get/PutBucketVersioning
 * and DeleteObjects.
 */
import { removeObject, validateKey } from './object-operations.js';
import { readSmallBody } from './request-body.js';
import { S3Error } from './s3-error.js';
import { isoDate, OWNER_ID, OWNER_NAME, requireBucket, sendEmpty, sendXml, type S3Context, type S3Request } from './s3-request.js';
import { child, childText, children, el, escapeXml, parseXml, S3_NAMESPACE, text, xmlDocument, type XmlElement } from './s3-xml.js';

/** S3's bucket naming rules (the subset that matters for path-style access). */
export function bucketNameProblem(name: string): string | undefined {
  if (name.length < 3 || name.length > 63) return 'must be between 3 and 63 characters long';
  if (!/^[a-z0-9.-]+$/.test(name)) return 'may contain only lower-case letters, digits, dots and hyphens';
  if (!/^[a-z0-9]/.test(name) || !/[a-z0-9]$/.test(name)) return 'must begin and end with a letter or digit';
  if (name.includes('..')) return 'must not contain two adjacent dots';
  if (/^\d+\.\d+\.\d+\.\d+$/.test(name)) return 'must not be formatted as an IP address';
  return undefined;
}

async function readXmlBody(r: S3Request, expectedRoot: string): Promise<XmlElement | undefined> {
  const body = (await readSmallBody(r.req)).toString('utf8');
  if (body.trim() === '') return undefined;
  const doc = parseXml(body);
  if (doc.name !== expectedRoot) throw new S3Error('MalformedXML', `Expected a ${expectedRoot} document, got <${doc.name}>`);
  return doc;
}

export async function listBuckets(ctx: S3Context, r: S3Request): Promise<void> {
  const buckets = ctx.store.buckets();
  sendXml(
    r,
    200,
    xmlDocument(
      'ListAllMyBucketsResult',
      el('Owner', text('ID', OWNER_ID), text('DisplayName', OWNER_NAME)),
      el(
        'Buckets',
        buckets.map((b) =>
          el('Bucket', text('Name', b.name), text('CreationDate', isoDate(b.createdAt)), text('BucketRegion', b.location ?? 'us-east-1')),
        ),
      ),
    ),
  );
}

export async function createBucket(ctx: S3Context, r: S3Request): Promise<void> {
  const problem = bucketNameProblem(r.bucket);
  if (problem) throw new S3Error('InvalidBucketName', `The specified bucket is not valid: ${JSON.stringify(r.bucket)} ${problem}`);
  const config = await readXmlBody(r, 'CreateBucketConfiguration');
  const location = config ? childText(config, 'LocationConstraint') || null : null;
  ctx.store.createBucket(r.bucket, location, ctx.clock());
  ctx.logger.debug({ bucket: r.bucket, location }, 'CreateBucket');
  sendEmpty(r, 200, { location: `/${r.bucket}` });
}

export async function headBucket(ctx: S3Context, r: S3Request): Promise<void> {
  const bucket = requireBucket(ctx, r.bucket);
  sendEmpty(r, 200, { 'x-amz-bucket-region': bucket.location ?? 'us-east-1' });
}

export async function deleteBucket(ctx: S3Context, r: S3Request): Promise<void> {
  requireBucket(ctx, r.bucket);
  ctx.store.deleteBucket(r.bucket);
  sendEmpty(r, 204);
}

export async function getBucketLocation(ctx: S3Context, r: S3Request): Promise<void> {
  const bucket = requireBucket(ctx, r.bucket);
  // us-east-1 is the empty constraint, as in S3.
  sendXml(
    r,
    200,
    `<?xml version="1.0" encoding="UTF-8"?>\n<LocationConstraint xmlns="${S3_NAMESPACE}">${escapeXml(bucket.location ?? '')}</LocationConstraint>`,
  );
}

export async function getBucketVersioning(ctx: S3Context, r: S3Request): Promise<void> {
  const bucket = requireBucket(ctx, r.bucket);
  sendXml(r, 200, xmlDocument('VersioningConfiguration', text('Status', bucket.versioning)));
}

export async function putBucketVersioning(ctx: S3Context, r: S3Request): Promise<void> {
  requireBucket(ctx, r.bucket);
  const doc = await readXmlBody(r, 'VersioningConfiguration');
  const status = doc ? childText(doc, 'Status') : undefined;
  if (status !== 'Enabled' && status !== 'Suspended') {
    throw new S3Error(
      'IllegalVersioningConfigurationException',
      `The versioning configuration's Status must be Enabled or Suspended, got ${JSON.stringify(status ?? '')}`,
    );
  }
  ctx.store.setVersioning(r.bucket, status);
  sendEmpty(r, 200);
}

export async function deleteObjects(ctx: S3Context, r: S3Request): Promise<void> {
  const bucket = requireBucket(ctx, r.bucket);
  const doc = await readXmlBody(r, 'Delete');
  if (!doc) throw new S3Error('MalformedXML', 'The Delete request needs a body listing the objects');
  const quiet = childText(doc, 'Quiet') === 'true';
  const objects = children(doc, 'Object');
  if (objects.length === 0 || objects.length > 1000)
    throw new S3Error('MalformedXML', `A Delete request lists 1 to 1000 objects, got ${objects.length}`);
  const results: string[] = [];
  for (const o of objects) {
    // Keys are taken verbatim: leading or trailing spaces are part of the key.
    const key = child(o, 'Key')?.text ?? '';
    const versionId = childText(o, 'VersionId') || undefined;
    try {
      validateKey(key);
      const result = removeObject(ctx, bucket, key, versionId);
      await ctx.blobs.remove(result.orphans);
      if (quiet) continue;
      results.push(
        el(
          'Deleted',
          text('Key', key),
          versionId ? text('VersionId', versionId) : undefined,
          result.deleteMarker ? text('DeleteMarker', true) : undefined,
          result.deleteMarker ? text('DeleteMarkerVersionId', result.versionId) : undefined,
        ),
      );
    } catch (err) {
      const e = err instanceof S3Error ? err : new S3Error('InternalError', 'We encountered an internal error. Please try again.', 500);
      if (!(err instanceof S3Error)) ctx.logger.error({ err, bucket: r.bucket, key }, 'DeleteObjects entry failed');
      results.push(
        el(
          'Error',
          text('Key', key),
          versionId ? text('VersionId', versionId) : undefined,
          text('Code', e.code),
          text('Message', e.message),
        ),
      );
    }
  }
  sendXml(r, 200, xmlDocument('DeleteResult', results));
}
