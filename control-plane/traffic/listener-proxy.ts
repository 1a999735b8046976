/**
 * A listener: a real node:http server on the control plane's host and the listener's port that
 * forwards every request to a target its `route` picks (target-pool.ts), streaming the body both
 * ways, with X-Forwarded-For/-Proto/-Port added and the Host header kept, as an Application Load
 * Balancer does. Answers of its own: 503 when the target group has no registered target, 502 when
 * the connection to the target fails or the target's address is unknown, 504 when the target
 * sends no response for IDLE_TIMEOUT_MS (the ALB's default idle timeout).
 *
 * Every request picks its target afresh, so a client's keep-alive connection to the listener is
 * never pinned to one target (a draining target gets no new request from it). Upstream, each
 * target has its own http.Agent (the pool's), so in-flight counts and draining are per target.
 *
 * Why node:http and no proxy library: http-proxy is unmaintained, and the load balancer needs
 * per-target in-flight counts, a choice of target per request and a way to cut a request off when
 * the deregistration delay passes, which is a few lines over node:http and awkward through a library.
 *
 * Memory is bounded: at most MAX_CONNECTIONS client connections per listener, one upstream
 * request per client request, no queue (the agents have no socket limit, so nothing waits in them).
 * WebSocket upgrades are not forwarded (Node closes such connections).
 */
import * as http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Logger } from 'pino';
import type { Lease } from './target-pool.js';

export type Route = { kind: 'target'; lease: Lease } | { kind: 'none' } | { kind: 'no-address'; message: string } | { kind: 'gone' };

export interface ListenerOptions {
  host: string;
  port: number;
  logger: Logger;
  /** Where the next request goes ('gone': the listener's target group no longer exists). */
  route(): Route;
}

export interface ListenerServer {
  port: number;
  close(): Promise<void>;
}

export const IDLE_TIMEOUT_MS = 60_000;
const MAX_CONNECTIONS = 4096;

/** Hop-by-hop headers (RFC 9110 7.6.1) are not forwarded, nor any header the Connection header names. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

function endToEnd(headers: http.IncomingHttpHeaders): http.OutgoingHttpHeaders {
  const named = new Set(
    String(headers.connection ?? '')
      .split(',')
      .map((h) => h.trim().toLowerCase())
      .filter(Boolean),
  );
  const out: http.OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || named.has(name)) continue;
    out[name] = value;
  }
  return out;
}

/** The request headers for the target: end-to-end ones plus X-Forwarded-*; a chunked body stays chunked. */
export function forwardedHeaders(req: http.IncomingMessage, listenerPort: number): http.OutgoingHttpHeaders {
  const headers = endToEnd(req.headers);
  const client = (req.socket.remoteAddress ?? '').replace(/^::ffff:/, '');
  const prior = req.headers['x-forwarded-for'];
  headers['x-forwarded-for'] = prior ? `${String(prior)}, ${client}` : client;
  headers['x-forwarded-proto'] = 'http';
  headers['x-forwarded-port'] = String(listenerPort);
  if (/\bchunked\b/i.test(String(req.headers['transfer-encoding'] ?? ''))) headers['transfer-encoding'] = 'chunked';
  return headers;
}

function hasBody(req: http.IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

function answer(res: http.ServerResponse, status: number, title: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = `<html>\r\n<head><title>${status} ${title}</title></head>\r\n<body>\r\n<center><h1>${status} ${title}</h1></center>\r\n</body>\r\n</html>\r\n`;
  res.writeHead(status, { server: 'awselb/2.0', 'content-type': 'text/html', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function proxy(req: http.IncomingMessage, res: http.ServerResponse, o: ListenerOptions, listenerPort: number): void {
  let route: Route;
  try {
    route = o.route();
  } catch (err) {
    o.logger.error({ err }, 'listener could not route a request');
    answer(res, 500, 'Internal Server Error');
    return;
  }
  switch (route.kind) {
    case 'none':
    case 'gone':
      req.resume();
      answer(res, 503, 'Service Temporarily Unavailable');
      return;
    case 'no-address':
      o.logger.warn({ reason: route.message }, 'listener: no target address');
      req.resume();
      answer(res, 502, 'Bad Gateway');
      return;
    case 'target':
      break;
  }
  const lease = route.lease;
  const headers = forwardedHeaders(req, listenerPort);
  const withBody = hasBody(req);
  let upstream: http.ClientRequest | undefined;
  res.on('close', () => {
    if (!res.writableFinished) upstream?.destroy();
    lease.release();
  });
  lease.onCut(() => {
    upstream?.destroy();
    if (res.headersSent) res.destroy();
    else answer(res, 502, 'Bad Gateway');
  });
  req.on('error', () => upstream?.destroy());

  const attempt = (retry: boolean): void => {
    const up = http.request({
      host: lease.host,
      port: lease.port,
      method: req.method,
      path: req.url,
      headers,
      agent: lease.agent,
      setHost: false,
    });
    upstream = up;
    let responded = false;
    up.setTimeout(IDLE_TIMEOUT_MS, () => up.destroy(Object.assign(new Error('target idle'), { code: 'ETIMEDOUT' })));
    up.on('response', (ur) => {
      responded = true;
      res.writeHead(ur.statusCode ?? 502, ur.statusMessage, endToEnd(ur.headers));
      ur.on('error', () => res.destroy());
      ur.on('aborted', () => res.destroy());
      ur.pipe(res);
    });
    up.on('error', (err: NodeJS.ErrnoException) => {
      if (res.destroyed || res.writableFinished) return;
      // A kept-alive connection the target closed just as it was reused: a request without a
      // body is sent again once, on a new connection (nothing of it reached the target).
      if (retry && !responded && up.reusedSocket && err.code === 'ECONNRESET' && !withBody) {
        attempt(false);
        return;
      }
      if (responded) {
        res.destroy();
        return;
      }
      o.logger.debug({ err, target: `${lease.host}:${lease.port}` }, 'listener: target request failed');
      if (err.code === 'ETIMEDOUT') answer(res, 504, 'Gateway Time-out');
      else answer(res, 502, 'Bad Gateway');
    });
    if (withBody) req.pipe(up);
    else up.end();
  };
  attempt(true);
}

export async function openListener(o: ListenerOptions): Promise<ListenerServer> {
  const sockets = new Set<Socket>();
  let port = o.port;
  const server = http.createServer({ keepAliveTimeout: IDLE_TIMEOUT_MS, requestTimeout: 0 }, (req, res) => proxy(req, res, o, port));
  server.maxConnections = MAX_CONNECTIONS;
  server.headersTimeout = 20_000;
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    const failed = (err: Error): void => reject(err);
    server.once('error', failed);
    server.listen(o.port, o.host, () => {
      server.off('error', failed);
      resolve();
    });
  });
  server.on('error', (err) => o.logger.error({ err, port }, 'listener error'));
  port = (server.address() as AddressInfo).port;
  let closed: Promise<void> | undefined;
  return {
    port,
    close() {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
      return closed;
    },
  };
}
