/**
 * Request bodies that arrive too slowly are cut off (a "slowloris" holds a connection, and whatever
 * the handler keeps for it, by sending a byte every few seconds). Node's own `requestTimeout`
 * cannot be used: it is one total limit for every request, and the S3 endpoint legitimately
 * receives multi-GiB uploads. So each request gets a watchdog with two rules, checked on a timer
 * (no extra 'data' listener, which would change how handlers read the stream):
 *   - progress: at least `minBytes` must arrive on the socket in every `windowMs` until the body is
 *     complete (S3 uploads: any real client is far faster; a drip of bytes is not);
 *   - total: the whole body must have arrived within `totalMs` of the headers (small JSON bodies).
 * A request that breaks a rule gets a 408 when nothing was answered yet, and its connection is
 * closed; the handler sees the request abort. Slow headers are Node's headersTimeout; a connection
 * that sends nothing is guardSilentConnection's.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

export interface BodyTimeoutPolicy {
  /** The body must be complete this long after the headers; 0 for no total limit. */
  totalMs: number;
  /** Progress window. */
  windowMs: number;
  /** Bytes that must arrive in every window. */
  minBytes: number;
}

/** Why a body was cut off, for the caller's log line. */
export interface BodyTimeout {
  rule: 'total' | 'progress';
  ms: number;
  bytes: number;
}

export function guardRequestBody(
  req: IncomingMessage,
  res: ServerResponse,
  policy: BodyTimeoutPolicy,
  onTimeout: (why: BodyTimeout) => void,
): void {
  const socket = req.socket;
  const started = Date.now();
  const firstBytes = socket.bytesRead;
  let windowBytes = firstBytes;
  let windowStart = started;
  const tickMs = Math.max(10, Math.min(policy.windowMs, policy.totalMs > 0 ? policy.totalMs : Number.POSITIVE_INFINITY) / 4);

  const stop = () => {
    clearInterval(timer);
    req.off('end', stop);
    socket.off('close', stop);
  };
  const cut = (rule: BodyTimeout['rule'], now: number) => {
    stop();
    onTimeout({ rule, ms: now - started, bytes: socket.bytesRead - firstBytes });
    if (!res.headersSent && !res.destroyed) {
      res.writeHead(408, { connection: 'close', 'content-length': 0 });
      res.end(() => socket.destroy());
      // A client that does not read its answer does not keep the socket either.
      setTimeout(() => socket.destroy(), 1000).unref();
    } else {
      socket.destroy();
    }
  };
  const timer = setInterval(() => {
    if (req.complete || socket.destroyed) return stop();
    const now = Date.now();
    if (policy.totalMs > 0 && now - started >= policy.totalMs) return cut('total', now);
    if (now - windowStart >= policy.windowMs) {
      if (socket.bytesRead - windowBytes < policy.minBytes) return cut('progress', now);
      windowBytes = socket.bytesRead;
      windowStart = now;
    }
  }, tickMs);
  timer.unref();
  // Not stopped when the answer is sent: Node then drains the unread rest of the body, and a
  // drip-fed rest would hold the connection just the same.
  req.once('end', stop);
  socket.once('close', stop);
}

/**
 * A connection that sends nothing at all is closed after `ms`: Node's headersTimeout only starts
 * with the first byte, so without this an idle socket could be held open forever.
 */
export function guardSilentConnection(socket: Socket, ms: number): void {
  const timer = setTimeout(() => {
    if (socket.bytesRead === 0) socket.destroy();
  }, ms);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
}
