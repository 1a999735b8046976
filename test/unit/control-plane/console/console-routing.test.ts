import { describe, expect, it } from 'vitest';
import { assetFor, isConsolePageRequest, isConsolePath } from '../../../../control-plane/console/console-routing.js';

const SIGV4 = 'AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=abc';

describe('isConsolePageRequest: the console or S3 ListBuckets at GET /', () => {
  it.each([
    ['a browser GET /', 'GET', '/', { accept: 'text/html' }, true],
    ['a browser HEAD /', 'HEAD', '/', {}, true],
    ['GET / with an unrelated query', 'GET', '/?utm=x', {}, true],
    ['SigV4-signed ListBuckets (Authorization)', 'GET', '/', { authorization: SIGV4 }, false],
    ['an X-Amz-* header without Authorization', 'GET', '/', { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' }, false],
    ['an X-Amz-Date header', 'GET', '/', { 'x-amz-date': '20260101T000000Z' }, false],
    ['a presigned ListBuckets (X-Amz-Signature query)', 'GET', '/?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=ab', {}, false],
    ['a lower-case x-amz-* query parameter', 'GET', '/?x-amz-credential=AKID', {}, false],
    ['a bucket listing', 'GET', '/bucket', {}, false],
    ['a console asset (not the page)', 'GET', '/_console/assets/console.js', {}, false],
    ['POST / (the JSON APIs)', 'POST', '/', {}, false],
    ['PUT /', 'PUT', '/', {}, false],
  ])('%s', (_what, method, url, headers, expected) => {
    expect(isConsolePageRequest({ method, url, headers })).toBe(expected);
  });
});

describe('isConsolePath and assetFor', () => {
  it.each([
    ['/_console/events', true],
    ['/_console/api/overview?x=1', true],
    ['/_console', true],
    ['/_consoleX/a', false],
    ['/bucket/_console/x', false],
    ['/', false],
  ])('isConsolePath(%s) is %s', (url, expected) => {
    expect(isConsolePath(url)).toBe(expected);
  });

  it('serves only the listed files, never a path that walks out of the folder', () => {
    expect(assetFor('/_console/assets/console.js')).toEqual({ file: 'console.js', contentType: 'text/javascript; charset=utf-8' });
    expect(assetFor('/_console/assets/console.css')?.contentType).toBe('text/css; charset=utf-8');
    for (const path of [
      '/_console/assets/../console-handler.ts',
      '/_console/assets/%2e%2e/console-handler.ts',
      '/_console/assets/',
      '/_console/assets/toString',
      '/_console/assets/__proto__',
      '/_console/console.js',
    ])
      expect(assetFor(path), path).toBeUndefined();
  });
});
