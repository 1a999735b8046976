/**
 * One HTTP exchange over node:http / node:https.
 *
 * Why not fetch (undici): the proxy agents (`https-proxy-agent` for CONNECT tunnels to https
 * endpoints, `http-proxy-agent` for absolute-URI forwarding to http ones) plug into node's Agent
 * API; a *read* timeout (socket idle, so an 80 s long poll is not cut by a whole-request deadline)
 * is `request.setTimeout`; and a CA bundle is the `ca` TLS option of the agent and request. All
 * three are awkward or need extra dispatchers with fetch.
 *
 * Connections are kept alive and reused (one agent per transport). Errors are TransportErrors with
 * a `code`: an errno code (ECONNRESET, ...), READ_TIMEOUT, ABORTED or RESPONSE_TOO_LARGE.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import { HttpProxyAgent } from 'http-proxy-agent';
import { HttpsProxyAgent } from 'https-proxy-agent';
import { errnoCode, toError } from '../../common/errors.js';

export interface TransportRequest {
  url: URL;
  headers: Record<string, string>;
  body: string;
  /** Socket idle limit: no byte for this long (connecting, waiting or reading) fails the call. */
  readTimeoutMs: number;
  signal?: AbortSignal;
}

export interface TransportResponse {
  statusCode: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface HttpTransport {
  /** POST the body; resolves with any HTTP answer (the caller maps statuses). */
  post(req: TransportRequest): Promise<TransportResponse>;
  /** Drop idle kept-alive connections. */
  close(): void;
}

export interface HttpTransportOptions {
  /** http(s)://[user:pass@]host:port of an HTTP proxy. Never logged: it may hold credentials. */
  proxyUri?: string;
  /** PEM CA certificates that replace Node's default trust, when given. */
  ca?: string;
  /** Answers larger than this fail with RESPONSE_TOO_LARGE (default 16 MiB). */
  maxResponseBytes?: number;
}

export class TransportError extends Error {
  constructor(
    message: string,
    readonly code: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'TransportError';
  }
}

const DEFAULT_MAX_RESPONSE_BYTES = 16 * 1024 * 1024;

export function createHttpTransport(options: HttpTransportOptions = {}): HttpTransport {
  const maxBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  const agents = new Map<'http:' | 'https:', http.Agent>();

  const agentFor = (protocol: 'http:' | 'https:'): http.Agent => {
    let agent = agents.get(protocol);
    if (agent) return agent;
    const base = { keepAlive: true, maxSockets: 16 };
    if (options.proxyUri) {
      agent =
        protocol === 'https:'
          ? new HttpsProxyAgent(options.proxyUri, { ...base, ...(options.ca ? { ca: options.ca } : {}) })
          : new HttpProxyAgent(options.proxyUri, base);
    } else {
      agent = protocol === 'https:' ? new https.Agent({ ...base, ...(options.ca ? { ca: options.ca } : {}) }) : new http.Agent(base);
    }
    agents.set(protocol, agent);
    return agent;
  };

  const post = (req: TransportRequest): Promise<TransportResponse> =>
    new Promise<TransportResponse>((resolve, reject) => {
      const { url, signal } = req;
      if (url.protocol !== 'http:' && url.protocol !== 'https:') {
        reject(new TransportError(`unsupported protocol ${url.protocol}`, 'EPROTO'));
        return;
      }
      if (signal?.aborted) {
        reject(new TransportError('the call was aborted', 'ABORTED', { cause: signal.reason }));
        return;
      }
      let settled = false;
      const finish = (fn: () => void): void => {
        if (settled) return;
        settled = true;
        signal?.removeEventListener('abort', onAbort);
        fn();
      };
      const fail = (err: TransportError): void => {
        finish(() => reject(err));
        request.destroy();
      };

      const hostname = url.hostname.replace(/^\[|\]$/g, '');
      const requestOptions: https.RequestOptions = {
        method: 'POST',
        protocol: url.protocol,
        hostname,
        port: url.port || undefined,
        path: `${url.pathname}${url.search}`,
        headers: { ...req.headers, 'content-length': String(Buffer.byteLength(req.body)) },
        agent: agentFor(url.protocol),
        // The proxy agent makes the tunnel's TLS connection from the request options.
        ...(options.ca && url.protocol === 'https:' ? { ca: options.ca } : {}),
        // Check the certificate against the endpoint's host name: https-proxy-agent drops `host`
        // from the TLS options and sets no servername for an IP address, so node would check
        // "localhost" instead.
        ...(url.protocol === 'https:'
          ? { checkServerIdentity: (_host: string, cert: PeerCertificate) => checkServerIdentity(hostname, cert) }
          : {}),
      };
      const send = url.protocol === 'https:' ? https.request : http.request;
      const request = send(requestOptions, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxBytes) {
            fail(new TransportError(`the answer is larger than ${maxBytes} bytes`, 'RESPONSE_TOO_LARGE'));
            return;
          }
          chunks.push(chunk);
        });
        res.on('end', () => {
          finish(() => resolve({ statusCode: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
        });
        res.on('error', (err) => fail(networkError(err)));
        res.on('aborted', () => fail(new TransportError('the connection closed before the answer was complete', 'ECONNRESET')));
      });
      const onAbort = (): void => fail(new TransportError('the call was aborted', 'ABORTED', { cause: signal?.reason }));
      signal?.addEventListener('abort', onAbort, { once: true });
      request.setTimeout(req.readTimeoutMs, () => {
        fail(new TransportError(`read timeout: no data from ${url.host} for ${req.readTimeoutMs} ms`, 'READ_TIMEOUT'));
      });
      request.on('error', (err) => fail(networkError(err)));
      request.end(req.body);
    });

  return {
    post,
    close: () => {
      for (const agent of agents.values()) agent.destroy();
      agents.clear();
    },
  };
}

function networkError(value: unknown): TransportError {
  if (value instanceof TransportError) return value;
  const err = toError(value);
  const code = errnoCode(err) ?? (/socket hang up/i.test(err.message) ? 'ECONNRESET' : 'ENETWORK');
  return new TransportError(err.message, code, { cause: err });
}
