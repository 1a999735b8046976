/**
 * What every local-S3 operation gets: the parsed request (bucket, key, query, request id) and the
 * shared parts (metadata store, blob store, logger, clock), plus the response helpers that put
 * S3's common headers on every answer.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { BlobStore } from './blob-store.js';
import type { RequestBody } from './request-body.js';
import { noSuchBucket, S3Error } from './s3-error.js';
import type { BucketRow, S3Store } from './s3-store.js';

export interface S3Context {
  store: S3Store;
  blobs: BlobStore;
  logger: Logger;
  /** Epoch milliseconds. */
  clock: () => number;
  /** Upload ids whose completion is in progress (a second Complete or Abort waits its turn). */
  completing: Set<string>;
}

export interface S3Request {
  req: IncomingMessage;
  res: ServerResponse;
  method: string;
  /** '' for service-level requests. */
  bucket: string;
  /** '' for service- and bucket-level requests. */
  key: string;
  query: URLSearchParams;
  requestId: string;
  /** Set by operations that read an upload body, so an error answer knows whether to drain it. */
  body?: RequestBody;
}

export type S3Operation = (ctx: S3Context, r: S3Request) => Promise<void>;

export function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(',') : v;
}

export function newRequestId(): string {
  return randomBytes(8).toString('hex').toUpperCase();
}

function commonHeaders(r: S3Request): Record<string, string> {
  return {
    'x-amz-request-id': r.requestId,
    'x-amz-id-2': Buffer.from(`local/${r.requestId}`).toString('base64'),
    server: 'CodeDeployLocalS3',
  };
}

export function sendXml(r: S3Request, status: number, xml: string, headers: Record<string, string | number> = {}): void {
  const body = Buffer.from(xml, 'utf8');
  r.res.writeHead(status, { ...commonHeaders(r), 'content-type': 'application/xml', 'content-length': body.length, ...headers });
  r.res.end(r.method === 'HEAD' ? undefined : body);
}

export function sendEmpty(r: S3Request, status: number, headers: Record<string, string | number> = {}): void {
  r.res.writeHead(status, { ...commonHeaders(r), ...(status === 204 || status === 304 ? {} : { 'content-length': 0 }), ...headers });
  r.res.end();
}

/** Starts a response whose body the caller streams. */
export function startResponse(r: S3Request, status: number, headers: Record<string, string | number>): void {
  r.res.writeHead(status, { ...commonHeaders(r), ...headers });
}

export function quoteEtag(etag: string): string {
  return `"${etag}"`;
}

export function unquoteEtag(etag: string): string {
  return etag.trim().replace(/^W\//, '').replaceAll('"', '');
}

/** S3's timestamp format in XML bodies: 2009-10-12T17:50:30.000Z. */
export function isoDate(ms: number): string {
  return new Date(ms).toISOString();
}

/** RFC 7231 date for Last-Modified. */
export function httpDate(ms: number): string {
  return new Date(ms).toUTCString();
}

export function requireBucket(ctx: S3Context, name: string): BucketRow {
  const bucket = ctx.store.bucket(name);
  if (!bucket) throw noSuchBucket(name);
  return bucket;
}

/** A non-negative integer query parameter, or the default. */
export function intParam(r: S3Request, name: string, fallback: number, max = Number.MAX_SAFE_INTEGER): number {
  const raw = r.query.get(name);
  if (raw === null || raw === '') return fallback;
  if (!/^\d+$/.test(raw)) throw new S3Error('InvalidArgument', `${name} must be a non-negative integer, got ${JSON.stringify(raw)}`);
  return Math.min(Number(raw), max);
}

/** The one owner of everything on the local endpoint. */
export const OWNER_ID = 'c0dede910ca15300c0dede910ca15300c0dede910ca15300c0dede910ca15300';
export const OWNER_NAME = 'local';
