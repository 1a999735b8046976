/**
 * The web console's HTTP surface on the control plane's one port (see console-routing.ts for how
 * `GET /` is told apart from S3's ListBuckets):
 *   GET /                              the page (assets/index.html)
 *   GET /_console/assets/<name>        its script and style sheet (a fixed list, read from disk
 *                                      next to this module: control-plane/console/assets in the
 *                                      source tree, dist/control-plane/console/assets once built)
 *   GET /_console/events               live engine events (console-events.ts)
 *   GET /_console/api/overview         applications, groups, recent deployments, hosts (console-data.ts)
 *   GET /_console/api/deployments/<id> one deployment and its per-host lifecycle events
 * Actions (Stop, Continue, Redeploy) are not here: the page calls the public CodeDeploy JSON API
 * (`POST /` with X-Amz-Target), as any client does.
 *
 * CSRF: the console's own endpoints only read. The JSON API needs a Content-Type of
 * application/x-amz-json-1.1 and an X-Amz-Target header, so a cross-site page can only send that
 * POST after a CORS preflight (OPTIONS), and this server never answers a preflight with
 * Access-Control-Allow-* headers; the browser therefore never sends it. Every console answer
 * carries a Content-Security-Policy of 'self' only (no inline script or style, no framing).
 */
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { OperationTable } from '../api/operations.js';
import type { DeploymentEngine } from '../engine/engine.js';
import { DEPLOYMENT_ID_PATTERN } from '../engine/identifiers.js';
import type { HttpHandler } from '../http/route.js';
import { createConsoleData } from './console-data.js';
import { createConsoleEvents, type ConsoleEventsOptions } from './console-events.js';
import { assetFor, CONSOLE_ASSETS, CONSOLE_PREFIX, isConsolePageRequest, isConsolePath, splitTarget } from './console-routing.js';

export interface ConsoleHandlerOptions {
  engine: Pick<DeploymentEngine, 'on' | 'hostSeen'>;
  /** The public CodeDeploy API's operations, for the read endpoint. */
  operations: OperationTable;
  /** Aborted when the control plane stops: event streams end. */
  shutdown: AbortSignal;
  logger: Logger;
  /** Default: the assets folder next to this module. */
  assetsDir?: string;
  /** Stream limits (tests lower them). */
  events?: Pick<ConsoleEventsOptions, 'maxStreams' | 'maxBacklogBytes' | 'heartbeatMs'>;
}

export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

const DEPLOYMENT_PATH = `${CONSOLE_PREFIX}api/deployments/`;

function send(req: IncomingMessage, res: ServerResponse, status: number, contentType: string, body: string | Buffer): void {
  res.writeHead(status, {
    ...SECURITY_HEADERS,
    'content-type': contentType,
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-cache',
  });
  res.end(req.method === 'HEAD' ? undefined : body);
}

function sendJson(req: IncomingMessage, res: ServerResponse, status: number, body: unknown): void {
  send(req, res, status, 'application/json; charset=utf-8', JSON.stringify(body));
}

export function createConsoleHandler(opts: ConsoleHandlerOptions): HttpHandler {
  const assetsDir = opts.assetsDir ?? join(import.meta.dirname, 'assets');
  const data = createConsoleData({ operations: opts.operations, hostSeen: (id) => opts.engine.hostSeen(id), logger: opts.logger });
  const events = createConsoleEvents({ source: opts.engine, shutdown: opts.shutdown, logger: opts.logger, ...opts.events });
  // The assets are small and fixed: read once, on first use.
  const cache = new Map<string, Promise<Buffer>>();
  const asset = (file: string): Promise<Buffer> => {
    let p = cache.get(file);
    if (!p) {
      p = readFile(join(assetsDir, file));
      cache.set(file, p);
      p.catch(() => cache.delete(file));
    }
    return p;
  };

  const serveAsset = async (req: IncomingMessage, res: ServerResponse, which: { file: string; contentType: string }) => {
    let body: Buffer;
    try {
      body = await asset(which.file);
    } catch (err) {
      opts.logger.error({ err, assetsDir }, 'console asset missing');
      const message =
        `The console file ${which.file} is missing from ${assetsDir}. ` +
        'A build copies control-plane/console/assets there (npm run build); rebuild or reinstall the control plane.\n';
      send(req, res, 500, 'text/plain; charset=utf-8', message);
      return;
    }
    send(req, res, 200, which.contentType, body);
  };

  return async (req, res) => {
    const url = req.url ?? '';
    const page = isConsolePageRequest(req);
    if (!page && !isConsolePath(url)) return false;
    // Nothing here reads a request body; draining it lets the server's body deadline end.
    req.resume();
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      send(req, res, 405, 'text/plain; charset=utf-8', 'The console only answers GET and HEAD.\n');
      return true;
    }
    if (page) {
      const index = CONSOLE_ASSETS['index.html'];
      if (index) await serveAsset(req, res, index);
      return true;
    }
    const { path } = splitTarget(url);
    const which = assetFor(path);
    if (which) {
      await serveAsset(req, res, which);
      return true;
    }
    if (path === `${CONSOLE_PREFIX}events`) {
      events.serve(req, res);
      return true;
    }
    const signal = AbortSignal.any([opts.shutdown, abortedWith(res)]);
    if (path === `${CONSOLE_PREFIX}api/overview`) {
      sendJson(req, res, 200, await data.overview(signal));
      return true;
    }
    if (path.startsWith(DEPLOYMENT_PATH)) {
      const id = path.slice(DEPLOYMENT_PATH.length);
      const view = DEPLOYMENT_ID_PATTERN.test(id) ? await data.deployment(id, signal) : undefined;
      if (view) sendJson(req, res, 200, view);
      else sendJson(req, res, 404, { message: 'No such deployment: check the id (d-XXXXXXXXX), or open the deployments list.' });
      return true;
    }
    send(req, res, 404, 'text/plain; charset=utf-8', 'Not a console page: open / for the console.\n');
    return true;
  };
}

/** A signal aborted when the client goes away before the answer is written. */
function abortedWith(res: ServerResponse): AbortSignal {
  const controller = new AbortController();
  res.once('close', () => {
    if (!res.writableFinished) controller.abort(new Error('client went away'));
  });
  return controller.signal;
}
