/**
 * Which requests belong to the web console (pure, no I/O). The console shares the control plane's
 * one port with path-style S3, whose ListBuckets is also `GET /`. The AWS CLI and SDKs always sign
 * S3 requests (SigV4 in the Authorization header, or a presigned URL's X-Amz-* query parameters)
 * and send X-Amz-* headers, while a browser opening the page sends none of those. So a `GET /` or
 * `HEAD /` with no Authorization header, no X-Amz-* header and no X-Amz-* query parameter is the
 * console; anything else at `/` goes on to S3 unchanged. Everything else of the console lives
 * under /_console/ (a bucket name cannot start with "_", so S3 never owns that prefix).
 */
import type { IncomingHttpHeaders } from 'node:http';

/** Where the console's assets, events and read endpoints live. */
export const CONSOLE_PREFIX = '/_console/';

export interface RequestLine {
  method?: string;
  url?: string;
  headers: IncomingHttpHeaders;
}

/** The request's path and query, without trusting either to be well formed. */
export function splitTarget(url: string): { path: string; query: URLSearchParams } {
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  let query: URLSearchParams;
  try {
    query = new URLSearchParams(q === -1 ? '' : url.slice(q + 1));
  } catch {
    query = new URLSearchParams();
  }
  return { path, query };
}

/** True when the request is a browser asking for the console page rather than an S3 ListBuckets. */
export function isConsolePageRequest(req: RequestLine): boolean {
  if (req.method !== 'GET' && req.method !== 'HEAD') return false;
  const { path, query } = splitTarget(req.url ?? '');
  if (path !== '/') return false;
  if (req.headers.authorization !== undefined) return false;
  if (Object.keys(req.headers).some((name) => name.toLowerCase().startsWith('x-amz-'))) return false;
  for (const name of query.keys()) if (name.toLowerCase().startsWith('x-amz-')) return false;
  return true;
}

/** True when the path is under /_console/ (the console's own surface, never S3's). */
export function isConsolePath(url: string): boolean {
  const { path } = splitTarget(url);
  return path === '/_console' || path.startsWith(CONSOLE_PREFIX);
}

/** The files the console serves, by URL name: a fixed list, so no request path ever reaches the file system. */
export const CONSOLE_ASSETS: Readonly<Record<string, { file: string; contentType: string }>> = {
  'index.html': { file: 'index.html', contentType: 'text/html; charset=utf-8' },
  'console.js': { file: 'console.js', contentType: 'text/javascript; charset=utf-8' },
  'console.css': { file: 'console.css', contentType: 'text/css; charset=utf-8' },
  'favicon.svg': { file: 'favicon.svg', contentType: 'image/svg+xml' },
};

/** The asset a /_console/assets/<name> path names, or undefined. */
export function assetFor(path: string): { file: string; contentType: string } | undefined {
  const prefix = `${CONSOLE_PREFIX}assets/`;
  if (!path.startsWith(prefix)) return undefined;
  const name = path.slice(prefix.length);
  return Object.hasOwn(CONSOLE_ASSETS, name) ? CONSOLE_ASSETS[name] : undefined;
}
