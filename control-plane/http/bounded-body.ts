/**
 * A small request body read whole, up to a limit: the Query APIs (ELBv2, SNS, STS) and GitHub's
 * push webhook take a form or JSON of a few KiB, and what a remote caller sends must not grow
 * memory. Past the limit (or a Content-Length over it) the rest is left unread and the answer
 * closes the connection once sent: destroying the request at once would lose the caller's error.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

/** The body, or undefined when it is larger than `maxBytes` (answer it, e.g. 413; the connection then closes). */
export function readBoundedBody(req: IncomingMessage, res: ServerResponse, maxBytes: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const tooLarge = () => {
      req.off('data', onData);
      req.pause();
      chunks.length = 0;
      res.shouldKeepAlive = false;
      res.once('finish', () => req.socket.destroy());
      resolve(undefined);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) tooLarge();
      else chunks.push(chunk);
    };
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > maxBytes) return tooLarge();
    req.on('data', onData);
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}
