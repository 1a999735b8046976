/**
 * The control plane's one port speaks plain HTTP or, with `--tls`, HTTPS (node:https over the
 * same request listener). Measured on Node 26, the deadlines of server.ts hold for TLS too:
 *   - the 'connection' event gives the raw TCP socket before the handshake, so
 *     guardSilentConnection still closes a connection that sends nothing at all;
 *   - a stalled handshake is cut by `handshakeTimeout`, set here to the headers deadline;
 *   - after the handshake, Node's headersTimeout applies from the start of the connection, and
 *     a request's socket is the TLSSocket, whose bytesRead counts decrypted bytes, which is what
 *     guardRequestBody's progress rule measures.
 * A plain-HTTP request to the HTTPS port fails the handshake and its connection is closed
 * ('tlsClientError', logged at debug level by the caller).
 */
import * as http from 'node:http';
import * as https from 'node:https';

export interface ServerTransportOptions {
  /** PEM key and certificate chain; plain HTTP without them. */
  tls?: { key: string; cert: string };
  /** The headers deadline, also the TLS handshake's. */
  headersTimeoutMs: number;
}

export function createServerTransport(o: ServerTransportOptions, listener: http.RequestListener): http.Server | https.Server {
  // Node checks header deadlines on this interval; the default (30 s) would let a slow-headers
  // client hold a connection for up to headersTimeout + 30 s.
  const common = { connectionsCheckingInterval: 2000 };
  if (!o.tls) return http.createServer(common, listener);
  return https.createServer({ ...common, key: o.tls.key, cert: o.tls.cert, handshakeTimeout: o.headersTimeoutMs }, listener);
}
