/**
 * The AWS JSON 1.1 front door shared by the commands API and the public CodeDeploy API:
 * `POST /` with `X-Amz-Target: <prefix>.<Operation>` and a JSON body. It finds the API by target
 * prefix and the handler by operation name, and writes answers the way AWS services do, so SDKs
 * and the aws CLI parse them natively: 200 with `application/x-amz-json-1.1`, or an error status
 * with the code in both `x-amzn-ErrorType` and the body's `__type`, plus `x-amzn-RequestId`.
 *
 * Signatures are not verified (any local credentials are accepted: there is no IAM here); the
 * access key id is read from the Authorization header for logs.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { HttpHandler } from '../http/route.js';
import { clip, LOGGED_TEXT_MAX } from '../log/clip.js';
import { ApiError } from './api-error.js';
import type { OperationTable, RequestContext } from './operations.js';

export interface JsonApi {
  /** For logs and messages, e.g. "CodeDeploy" or "CodeDeployCommand". */
  name: string;
  /** X-Amz-Target prefixes this API answers (before the dot). */
  targetPrefixes: readonly string[];
  operations: OperationTable;
  /** The code of an unexpected failure: ServerException (commands API) or InternalFailure. */
  internalErrorCode: string;
}

export interface JsonRouterOptions {
  apis: readonly JsonApi[];
  logger: Logger;
  /** Aborted when the server stops: pending long polls end. */
  shutdown: AbortSignal;
  /** Default 1 MiB: the largest real request (a 100-name batch, 8 KiB of diagnostics) is far smaller. */
  maxBodyBytes?: number;
}

const DEFAULT_MAX_BODY = 1024 * 1024;
/** Past the limit a body is drained (so the 413 reaches the client) only this far, then the connection is cut. */
const MAX_DRAINED_BYTES = 8 * 1024 * 1024;

export function createJsonRouter(opts: JsonRouterOptions): HttpHandler {
  const maxBody = opts.maxBodyBytes ?? DEFAULT_MAX_BODY;
  const byPrefix = new Map<string, JsonApi>();
  for (const api of opts.apis) for (const p of api.targetPrefixes) byPrefix.set(p, api);

  return async (req, res) => {
    const target = req.headers['x-amz-target'];
    if (req.method !== 'POST' || typeof target !== 'string') return false;
    const requestId = randomUUID();
    const started = Date.now();
    const dot = target.lastIndexOf('.');
    const prefix = dot < 0 ? '' : target.slice(0, dot);
    const operation = dot < 0 ? target : target.slice(dot + 1);
    const api = byPrefix.get(prefix);
    const log = opts.logger.child({ requestId, api: api?.name, operation: clip(operation, 100) });
    const respond = (status: number, body: unknown, errorCode?: string) => {
      if (res.headersSent || res.destroyed) return;
      const text = JSON.stringify(body);
      const headers: Record<string, string | number> = {
        'content-type': 'application/x-amz-json-1.1',
        'content-length': Buffer.byteLength(text),
        'x-amzn-requestid': requestId,
      };
      if (errorCode) headers['x-amzn-errortype'] = errorCode;
      res.writeHead(status, headers);
      res.end(text);
      log.debug({ status, errorCode, ms: Date.now() - started }, 'answered');
    };
    const fail = (err: ApiError) => respond(err.status, { __type: err.code, message: err.message }, err.code);

    if (!api) {
      fail(
        new ApiError(
          'UnknownOperationException',
          `Unknown X-Amz-Target "${clip(target)}": this local control plane answers ${[...byPrefix.keys()].map((p) => `${p}.*`).join(', ')}.`,
        ),
      );
      return true;
    }
    const handler = Object.hasOwn(api.operations, operation) ? api.operations[operation] : undefined;
    if (!handler) {
      const known = Object.keys(api.operations).sort().join(', ');
      fail(
        new ApiError(
          'UnknownOperationException',
          `The local control plane does not implement ${api.name} operation ${clip(operation, 100)}. Supported operations: ${known}.`,
        ),
      );
      return true;
    }

    let input: Record<string, unknown>;
    try {
      const text = await readBody(req, maxBody);
      const parsed: unknown = text.trim() === '' ? {} : JSON.parse(text);
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
        throw new ApiError('SerializationException', 'The request body must be a JSON object.');
      input = parsed as Record<string, unknown>;
    } catch (err) {
      if (err instanceof ApiError) fail(err);
      else if (err instanceof SyntaxError)
        fail(new ApiError('SerializationException', `The request body is not valid JSON: ${err.message}`));
      else log.debug({ err }, 'request body not read');
      return true;
    }

    const ctx: RequestContext = {
      signal: requestSignal(req, res, opts.shutdown),
      accessKeyId: accessKeyIdOf(req.headers.authorization),
      packageVersion: headerText(req.headers['x-amz-codedeploy-agent-version']),
      log,
    };
    try {
      const output = await handler(input, ctx);
      respond(200, output ?? {});
    } catch (err) {
      if (err instanceof ApiError) {
        // Messages quote what the caller sent; the log keeps a bounded prefix of it.
        log.info({ code: err.code, message: clip(err.message, 2 * LOGGED_TEXT_MAX) }, `${operation} refused`);
        fail(err);
      } else {
        log.error({ err }, `${operation} failed unexpectedly`);
        fail(
          new ApiError(
            api.internalErrorCode,
            `Internal error in the local control plane while running ${operation} (request ${requestId}); see its log.`,
            500,
          ),
        );
      }
    }
    return true;
  };
}

function headerText(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** `AWS4-HMAC-SHA256 Credential=AKID/date/region/service/aws4_request, ...` → AKID. */
export function accessKeyIdOf(authorization: string | undefined): string | undefined {
  const m = /Credential=([^/,\s]+)\//.exec(authorization ?? '');
  return m?.[1];
}

/** Aborts when the client disconnects before the answer, or when the server shuts down. */
function requestSignal(req: IncomingMessage, res: ServerResponse, shutdown: AbortSignal): AbortSignal {
  const controller = new AbortController();
  const onClose = () => {
    if (!res.writableFinished) controller.abort(new Error('client disconnected'));
  };
  res.once('close', onClose);
  req.once('aborted', onClose);
  return AbortSignal.any([controller.signal, shutdown]);
}

function readBody(req: IncomingMessage, max: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > max) {
        // Keep reading (and dropping) so the 413 answer reaches a client still sending, but
        // not forever: a body far over the limit is cut off.
        tooLarge = true;
        chunks.length = 0;
        if (size > max + MAX_DRAINED_BYTES) {
          req.destroy();
          reject(new Error(`request body over ${max + MAX_DRAINED_BYTES} bytes; connection closed`));
        }
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (tooLarge) reject(new ApiError('SerializationException', `The request body is larger than ${max} bytes.`, 413));
      else resolve(Buffer.concat(chunks).toString('utf8'));
    });
    req.on('error', reject);
  });
}
