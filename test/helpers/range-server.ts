/**
 * A real HTTP server on 127.0.0.1, port 0, that serves one object (an incompressible body) and
 * honours `Range: bytes=N-`, `If-Match` and `If-Range` like S3 and GitHub's codeload do, with
 * scripted misbehaviour per request: break the connection after N body bytes, ignore the Range
 * (200), lie in Content-Range, answer a status, or replace the object first. Every request is
 * recorded (path, Range, If-Match, If-Range, status answered).
 *
 *   const srv = await startRangeServer({ body, etag: '"e1"', plan: [{ breakAfter: 3 * MiB }] });
 *   // first GET: 200, cut after 3 MiB; the next ones follow the headers
 *
 * Any path works (S3 path-style GetObject, a codeload path). With `redirect`, a path matching it
 * answers 302 to `/codeload<path>` first (GitHub's API -> codeload hop).
 */
import { createHash, randomBytes } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RangeStep {
  /** Send this many body bytes, then destroy the socket. */
  breakAfter?: number;
  /** Answer 200 with the whole body whatever the Range says. */
  ignoreRange?: boolean;
  /** Answer 206 but with a Content-Range starting this many bytes later than asked (and the bytes from there). */
  shiftRange?: number;
  /** Answer this status with an error body and nothing else. */
  status?: number;
  /** Replace the object (body and ETag) before answering. */
  replace?: { body: Buffer; etag?: string };
  /** Send the body in pieces of this size with `trickleMs` between them (a slow download). */
  trickle?: { bytes: number; everyMs: number };
  /** Omit Content-Length on a 200 (Transfer-Encoding: chunked, as codeload does). */
  chunked?: boolean;
}

export interface RangeRequest {
  path: string;
  range?: string;
  ifMatch?: string;
  ifRange?: string;
  status: number;
}

export interface RangeServer {
  url: string;
  requests: RangeRequest[];
  /** The current object. */
  body(): Buffer;
  /** Lets a trickling answer send the rest at once. */
  release(): void;
  close(): Promise<void>;
}

export interface RangeServerOptions {
  body: Buffer;
  /** Quoted ETag (`"abc"`); absent: no ETag header. */
  etag?: string;
  lastModified?: string;
  /** One step per GET, in order; requests after the plan are answered plainly. */
  plan?: RangeStep[];
  /** Paths that answer 302 to `/codeload<path>` (not counted as plan steps). */
  redirect?: RegExp;
  contentType?: string;
}

export function incompressible(bytes: number): Buffer {
  return randomBytes(bytes);
}

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

const errorXml = (code: string, message: string): string =>
  `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${message}</Message><RequestId>R1</RequestId></Error>`;

export async function startRangeServer(o: RangeServerOptions): Promise<RangeServer> {
  let body = o.body;
  let etag = o.etag;
  const plan = [...(o.plan ?? [])];
  const requests: RangeRequest[] = [];
  let released = false;
  const waiting = new Set<() => void>();

  const server = http.createServer((req, res) => {
    const path = req.url ?? '';
    if (o.redirect && o.redirect.test(path.split('?')[0] ?? '')) {
      requests.push({ path, status: 302, ...headersOf(req) });
      res.writeHead(302, { location: `/codeload${path}`, 'content-length': 0 });
      res.end();
      return;
    }
    const step = plan.shift() ?? {};
    const record: RangeRequest = { path, status: 0, ...headersOf(req) };
    requests.push(record);
    if (step.replace) {
      body = step.replace.body;
      etag = step.replace.etag;
    }
    const send = (status: number, headers: Record<string, string | number>, text = ''): void => {
      record.status = status;
      res.writeHead(status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(text), ...headers });
      res.end(text);
    };
    if (step.status !== undefined) {
      send(step.status, {}, errorXml('InternalError', 'scripted failure'));
      return;
    }
    if (record.ifMatch !== undefined && record.ifMatch !== etag) {
      send(412, {}, errorXml('PreconditionFailed', 'At least one of the pre-conditions you specified did not hold'));
      return;
    }
    const validators = { ...(etag ? { etag } : {}), ...(o.lastModified ? { 'last-modified': o.lastModified } : {}) };
    const m = /^bytes=(\d+)-$/.exec(record.range ?? '');
    const ifRangeOk = record.ifRange === undefined || record.ifRange === etag || record.ifRange === o.lastModified;
    let start = 0;
    let status = 200;
    if (m && ifRangeOk && !step.ignoreRange) {
      start = Number(m[1]);
      if (start >= body.length) {
        send(416, { 'content-range': `bytes */${body.length}` }, errorXml('InvalidRange', 'The requested range is not satisfiable'));
        return;
      }
      start += step.shiftRange ?? 0;
      status = 206;
    }
    const slice = body.subarray(start);
    const headers: Record<string, string | number> = {
      'content-type': o.contentType ?? 'application/octet-stream',
      'accept-ranges': 'bytes',
      ...validators,
    };
    if (status === 206) headers['content-range'] = `bytes ${start}-${body.length - 1}/${body.length}`;
    if (!(step.chunked && status === 200)) headers['content-length'] = slice.length;
    record.status = status;
    res.writeHead(status, headers);
    const limit = step.breakAfter !== undefined ? Math.min(step.breakAfter, slice.length) : slice.length;
    void (async () => {
      const piece = step.trickle?.bytes ?? 256 * 1024;
      for (let at = 0; at < limit; at += piece) {
        const chunk = slice.subarray(at, Math.min(limit, at + piece));
        const drained = res.write(chunk);
        if (!drained) await new Promise((r) => res.once('drain', r));
        if (step.trickle && !released) {
          await new Promise<void>((r) => {
            const done = (): void => {
              waiting.delete(done);
              clearTimeout(timer);
              r();
            };
            const timer = setTimeout(done, step.trickle?.everyMs ?? 0);
            waiting.add(done);
          });
        }
        if (res.destroyed) return;
      }
      if (step.breakAfter !== undefined) {
        // Let the bytes go out, then drop the connection mid-body.
        res.write(Buffer.alloc(0), () => setTimeout(() => req.socket.destroy(), 20));
        return;
      }
      res.end();
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    body: () => body,
    release: () => {
      released = true;
      for (const done of [...waiting]) done();
    },
    close: () =>
      new Promise<void>((resolve) => {
        released = true;
        for (const done of [...waiting]) done();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function headersOf(req: http.IncomingMessage): Omit<RangeRequest, 'path' | 'status'> {
  const h = req.headers;
  return {
    ...(h.range !== undefined ? { range: h.range } : {}),
    ...(typeof h['if-match'] === 'string' ? { ifMatch: h['if-match'] } : {}),
    ...(typeof h['if-range'] === 'string' ? { ifRange: h['if-range'] } : {}),
  };
}
