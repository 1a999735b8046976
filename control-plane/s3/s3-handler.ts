/**
 * The control plane's local S3-compatible endpoint: path-style requests (`/<bucket>/<key...>`),
 * enough of S3 for `aws s3 cp/ls/mb`, `aws s3api`, `aws deploy push`, @aws-sdk/client-s3 with
 * forcePathStyle, and the agent's S3 fetcher. Metadata lives in the control plane's SQLite file
 * (s3-store.ts), bytes in files under <dataDir>/s3 (blob-store.ts).
 *
 * Authentication: any SigV4 header, presigned query or no signature at all is accepted and nothing
 * is verified (a local development endpoint has no secrets to check); the access key id is logged
 * at debug level only. Errors are S3's XML documents with S3's codes and statuses.
 *
 * Routing follows S3's REST API: the method, whether a bucket and key are present, and the
 * subresource query parameters (?uploads, ?versioning, ...) pick the operation. Subresources this
 * endpoint does not implement (ACLs, policies, tagging, ...) answer 501 NotImplemented rather than
 * being mistaken for a plain GET or PUT.
 */
import type { IncomingMessage } from 'node:http';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { HttpHandler } from '../http/route.js';
import { clip } from '../log/clip.js';
import type { Db } from '../store/database.js';
import { createBlobStore } from './blob-store.js';
import * as bucketOps from './bucket-operations.js';
import * as listOps from './list-operations.js';
import * as multipartOps from './multipart-operations.js';
import * as objectOps from './object-operations.js';
import { notImplemented, S3Error } from './s3-error.js';
import { header, newRequestId, type S3Context, type S3Operation, type S3Request } from './s3-request.js';
import { createS3Store, type S3Store } from './s3-store.js';
import { escapeXml } from './s3-xml.js';

export interface S3HandlerOptions {
  db: Db;
  /** Blobs go under <dataDir>/s3. */
  dataDir: string;
  logger: Logger;
  /** Epoch milliseconds; default Date.now. */
  clock?: () => number;
}

export interface S3Handler {
  handler: HttpHandler;
  /** The metadata, for reads outside HTTP (CreateDeployment pins revisions with it: revisions/s3-object-lookup.ts). */
  store: S3Store;
  close(): Promise<void>;
}

const UNSUPPORTED_SUBRESOURCES = [
  'acl',
  'policy',
  'policyStatus',
  'cors',
  'lifecycle',
  'tagging',
  'website',
  'logging',
  'notification',
  'replication',
  'encryption',
  'object-lock',
  'requestPayment',
  'accelerate',
  'analytics',
  'inventory',
  'metrics',
  'intelligent-tiering',
  'ownershipControls',
  'publicAccessBlock',
  'retention',
  'legal-hold',
  'torrent',
  'attributes',
  'restore',
  'select',
];

function unsupportedSubresource(query: URLSearchParams): string | undefined {
  return UNSUPPORTED_SUBRESOURCES.find((name) => query.has(name));
}

/** Picks the operation for a request (S3's REST routing, path-style). */
export function route(r: S3Request): { name: string; op: S3Operation } {
  const q = r.query;
  const unsupported = unsupportedSubresource(q);
  if (unsupported) throw notImplemented(`the ?${unsupported} subresource`);
  const m = r.method;
  if (r.bucket === '' && r.key !== '') throw new S3Error('InvalidBucketName', 'The request path has an empty bucket name');
  if (r.bucket === '') {
    if (m === 'GET') return { name: 'ListBuckets', op: bucketOps.listBuckets };
  } else if (r.key === '') {
    if (m === 'GET') {
      if (q.has('location')) return { name: 'GetBucketLocation', op: bucketOps.getBucketLocation };
      if (q.has('versioning')) return { name: 'GetBucketVersioning', op: bucketOps.getBucketVersioning };
      if (q.has('versions')) return { name: 'ListObjectVersions', op: listOps.listObjectVersions };
      if (q.has('uploads')) return { name: 'ListMultipartUploads', op: multipartOps.listMultipartUploads };
      if (q.get('list-type') === '2') return { name: 'ListObjectsV2', op: listOps.listObjectsV2 };
      return { name: 'ListObjects', op: listOps.listObjectsV1 };
    }
    if (m === 'PUT')
      return q.has('versioning')
        ? { name: 'PutBucketVersioning', op: bucketOps.putBucketVersioning }
        : { name: 'CreateBucket', op: bucketOps.createBucket };
    if (m === 'HEAD') return { name: 'HeadBucket', op: bucketOps.headBucket };
    if (m === 'DELETE') return { name: 'DeleteBucket', op: bucketOps.deleteBucket };
    if (m === 'POST' && q.has('delete')) return { name: 'DeleteObjects', op: bucketOps.deleteObjects };
  } else {
    if (m === 'PUT') {
      if (q.has('partNumber') || q.has('uploadId')) return { name: 'UploadPart', op: multipartOps.uploadPart };
      if (header(r.req, 'x-amz-copy-source') !== undefined) return { name: 'CopyObject', op: objectOps.copyObject };
      return { name: 'PutObject', op: objectOps.putObject };
    }
    if (m === 'GET' && q.has('uploadId')) return { name: 'ListParts', op: multipartOps.listParts };
    if (m === 'GET') return { name: 'GetObject', op: objectOps.getObject };
    if (m === 'HEAD') return { name: 'HeadObject', op: objectOps.getObject };
    if (m === 'DELETE')
      return q.has('uploadId')
        ? { name: 'AbortMultipartUpload', op: multipartOps.abortMultipartUpload }
        : { name: 'DeleteObject', op: objectOps.deleteObject };
    if (m === 'POST' && q.has('uploads')) return { name: 'CreateMultipartUpload', op: multipartOps.createMultipartUpload };
    if (m === 'POST' && q.has('uploadId')) return { name: 'CompleteMultipartUpload', op: multipartOps.completeMultipartUpload };
  }
  throw new S3Error('MethodNotAllowed', `The specified method ${m} is not allowed against this resource`, 405);
}

/** Splits a request target into bucket, key (URL-decoded; any bytes) and query. */
export function parseTarget(rawUrl: string): { bucket: string; key: string; query: URLSearchParams } {
  let target = rawUrl;
  if (/^https?:\/\//i.test(target)) {
    const u = new URL(target);
    target = u.pathname + u.search;
  }
  const q = target.indexOf('?');
  const path = q === -1 ? target : target.slice(0, q);
  const query = new URLSearchParams(q === -1 ? '' : target.slice(q + 1));
  if (!path.startsWith('/')) throw new S3Error('InvalidURI', `Couldn't parse the specified URI: ${JSON.stringify(rawUrl.slice(0, 200))}`);
  const rest = path.slice(1);
  const slash = rest.indexOf('/');
  const decode = (s: string): string => {
    try {
      return decodeURIComponent(s);
    } catch {
      throw new S3Error('InvalidURI', `Couldn't parse the specified URI (bad percent-encoding): ${JSON.stringify(rawUrl.slice(0, 200))}`);
    }
  };
  return { bucket: decode(slash === -1 ? rest : rest.slice(0, slash)), key: slash === -1 ? '' : decode(rest.slice(slash + 1)), query };
}

/** The access key id of a SigV4 header, presigned URL or SigV2 header (for the debug log only). */
function accessKeyId(req: IncomingMessage, query: URLSearchParams): string | undefined {
  const auth = header(req, 'authorization') ?? '';
  const m = /Credential=([^/,\s]+)\//.exec(auth) ?? /^AWS ([^:\s]+):/.exec(auth);
  if (m) return m[1];
  return query.get('X-Amz-Credential')?.split('/')[0] ?? query.get('AWSAccessKeyId') ?? undefined;
}

function errorBody(r: S3Request, e: S3Error): string {
  const resource = r.bucket === '' ? '/' : `/${r.bucket}${r.key === '' ? '' : `/${r.key}`}`;
  const extra =
    e.code === 'NoSuchBucket'
      ? `<BucketName>${escapeXml(r.bucket)}</BucketName>`
      : e.code === 'NoSuchKey'
        ? `<Key>${escapeXml(r.key)}</Key>`
        : '';
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${escapeXml(e.code)}</Code><Message>${escapeXml(e.message)}</Message>` +
    `${extra}<Resource>${escapeXml(resource)}</Resource><RequestId>${r.requestId}</RequestId></Error>`
  );
}

export function createS3Handler(opts: S3HandlerOptions): S3Handler {
  const logger = opts.logger;
  const store = createS3Store(opts.db);
  const blobs = createBlobStore(join(opts.dataDir, 's3'));
  const { removed } = blobs.sweep(store.referencedBlobs());
  if (removed > 0) logger.info({ removed }, 'Removed S3 blob files no object or part refers to (left by an interrupted write)');
  const ctx: S3Context = { store, blobs, logger, clock: opts.clock ?? Date.now, completing: new Set() };
  let closed = false;

  function sendError(r: S3Request, err: unknown, operation: string | undefined): void {
    if (r.res.destroyed || r.req.socket.destroyed) {
      // The client went away (an upload broken off mid-body): nobody to answer.
      logger.debug({ err, method: r.method, bucket: clip(r.bucket), key: clip(r.key), operation }, 'S3 client disconnected');
      return;
    }
    const e = err instanceof S3Error ? err : new S3Error('InternalError', 'We encountered an internal error. Please try again.', 500);
    if (!(err instanceof S3Error))
      logger.error({ err, method: r.method, bucket: clip(r.bucket), key: clip(r.key), operation }, 'S3 request failed');
    if (r.res.headersSent) {
      r.res.destroy();
      return;
    }
    // The body was not (fully) read: drain it so the connection stays usable; one broken off
    // mid-stream cannot be resynchronised, so that connection closes after the answer.
    const unread = !r.req.complete;
    const brokenOff = unread && r.body?.started() === true;
    if (unread) r.req.resume();
    const body = Buffer.from(errorBody(r, e), 'utf8');
    r.res.writeHead(e.status, {
      'x-amz-request-id': r.requestId,
      'x-amz-id-2': Buffer.from(`local/${r.requestId}`).toString('base64'),
      server: 'CodeDeployLocalS3',
      'content-type': 'application/xml',
      'content-length': body.length,
      ...(brokenOff ? { connection: 'close' } : {}),
      ...e.headers,
    });
    r.res.end(r.method === 'HEAD' ? undefined : body);
  }

  const handler: HttpHandler = async (req, res) => {
    const started = Date.now();
    const method = (req.method ?? 'GET').toUpperCase();
    const r: S3Request = { req, res, method, bucket: '', key: '', query: new URLSearchParams(), requestId: newRequestId() };
    let operation: string | undefined;
    try {
      Object.assign(r, parseTarget(req.url ?? '/'));
      if (closed) throw new S3Error('ServiceUnavailable', 'The local S3 endpoint is shutting down', 503);
      const chosen = route(r);
      operation = chosen.name;
      await chosen.op(ctx, r);
    } catch (err) {
      sendError(r, err, operation);
    }
    // Drain anything an operation answered without reading (e.g. a body sent with a GET).
    if (!req.complete && !r.body) req.resume();
    logger.debug(
      {
        operation,
        method,
        bucket: clip(r.bucket),
        key: clip(r.key),
        status: res.statusCode,
        accessKeyId: accessKeyId(req, r.query),
        ms: Date.now() - started,
      },
      'S3 request',
    );
    return true;
  };

  return {
    handler,
    store,
    async close() {
      closed = true;
      await blobs.closeAll();
    },
  };
}
