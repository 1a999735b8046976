import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readBoundedBody } from '../../../../control-plane/http/bounded-body.js';

let server: http.Server;
let port = 0;
/** Keep-alive requests, so a `connection: close` in the answer is the server's choice. */
const keepAlive = new http.Agent({ keepAlive: true });
const seen: (number | 'too large')[] = [];

beforeAll(async () => {
  server = http.createServer((req, res) => {
    void readBoundedBody(req, res, 1024).then((body) => {
      seen.push(body ? body.length : 'too large');
      res.writeHead(body ? 200 : 413).end(body ? `got ${body.length}` : 'too large');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  keepAlive.destroy();
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});

/** POSTs `chunks` (without Content-Length when `chunked`), resolving with the status, body and whether the socket was closed. */
function post(chunks: Buffer[], chunked: boolean): Promise<{ status: number; text: string; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const total = chunks.reduce((n, c) => n + c.length, 0);
    const req = http.request(
      { port, method: 'POST', path: '/', headers: chunked ? {} : { 'content-length': total }, agent: keepAlive },
      (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text, closed: res.headers.connection === 'close' }));
      },
    );
    req.on('error', reject);
    for (const c of chunks) req.write(c);
    req.end();
  });
}

describe('readBoundedBody', () => {
  it('reads a body up to the limit whole', async () => {
    expect(await post([Buffer.alloc(600), Buffer.alloc(424)], true)).toEqual({ status: 200, text: 'got 1024', closed: false });
  });

  it('refuses a declared Content-Length over the limit without reading it, and closes the connection after the answer', async () => {
    const r = await post([Buffer.alloc(4096)], false);
    expect(r).toEqual({ status: 413, text: 'too large', closed: true });
  });

  it('stops keeping a streamed body once it passes the limit (no Content-Length)', async () => {
    const r = await post(
      Array.from({ length: 64 }, () => Buffer.alloc(16 * 1024, 1)),
      true,
    ).catch((err: NodeJS.ErrnoException) => ({ status: -1, text: err.code ?? '', closed: true }));
    // The answer may race the upload; either way nothing past the limit was kept and the connection ends.
    expect(r.closed).toBe(true);
    expect(seen.at(-1)).toBe('too large');
  });
});
