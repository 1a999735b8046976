/**
 * A scripted commands API server for tests: a real HTTP(S) server on 127.0.0.1, port 0.
 *
 * Every request is checked the way the service would: POST, application/x-amz-json-1.1, an
 * X-Amz-Target of "<targetPrefix>.<known operation>", and a SigV4 signature recomputed with
 * @smithy/signature-v4 from the known test credentials (403 InvalidSignatureException otherwise).
 * Every request is recorded, accepted or not. Answers come from a per-operation script:
 *
 *   server.script('PollHostCommand', { json: { HostCommand: {...} } });        // next call only
 *   server.script('PollHostCommand', [{ error: { status: 503, type: 'ServerException' } }, { json: {} }]);
 *   server.script('PutHostCommandAcknowledgement', (call) => ({ json: { CommandStatus: 'Failed' } })); // every call
 *
 * Queued replies are used first, in order; then the operation's handler (a function), if any;
 * then the default reply (Poll {}, Ack/Update {CommandStatus:'InProgress'}, Complete {}, Spec
 * error 400 ClientException since a spec needs a real envelope).
 */
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import { Sha256 } from '@aws-crypto/sha256-js';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { waitFor } from './wait-for.js';

export const TEST_CREDENTIALS = Object.freeze({
  accessKeyId: 'AKIDTESTAGENT0000001',
  secretAccessKey: 'test/Secret+Key/0123456789abcdefghijklmn',
});

export const OPERATIONS = [
  'PollHostCommand',
  'GetDeploymentSpecification',
  'PutHostCommandAcknowledgement',
  'PutHostCommandComplete',
  'PostHostCommandUpdate',
] as const;
export type OperationName = (typeof OPERATIONS)[number];

export interface ErrorReply {
  status: number;
  /** The error code, e.g. "ThrottlingException"; sent as __type "<namespace>#<type>" unless typeIn says otherwise. */
  type?: string;
  message?: string;
  headers?: Record<string, string>;
  /** Where the code goes: the body's __type (default), the x-amzn-ErrorType header, or both. */
  typeIn?: 'body' | 'header' | 'both';
}

export type ScriptedReply =
  | { json: unknown; status?: number; headers?: Record<string, string>; delayMs?: number }
  | { error: ErrorReply; delayMs?: number }
  /** A literal body (e.g. invalid JSON). */
  | { raw: string; status?: number; headers?: Record<string, string>; delayMs?: number }
  /** Never answer; the socket stays open until the client gives up or the server closes. */
  | { hang: true }
  /** Drop the connection without an answer (a network error for the client). */
  | { destroy: true; delayMs?: number };

export interface RecordedCall {
  operation: string;
  /** The X-Amz-Target header as sent. */
  target: string;
  /** The parsed JSON body (undefined if it was not JSON). */
  body: unknown;
  rawBody: string;
  headers: http.IncomingHttpHeaders;
  /** Date.now() when the request was fully received. */
  time: number;
  signatureValid: boolean;
  /** Why the server refused the call before scripting, if it did. */
  rejected?: string;
}

export type ReplyHandler = (call: RecordedCall) => ScriptedReply | Promise<ScriptedReply>;

export interface CommandsServerOptions {
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  region?: string;
  /** codedeploy-commands (default) or codedeploy-commands-secure. */
  signingName?: string;
  /** CodeDeployCommandService_v20141006 (default) or CodeDeployCommandService. */
  targetPrefix?: string;
  /** Default true. */
  verifySignature?: boolean;
  /** Serve HTTPS with this key and certificate (PEM). */
  tls?: { key: string; cert: string };
}

export interface CommandsServer {
  url: string;
  port: number;
  script(operation: OperationName, reply: ScriptedReply | ScriptedReply[] | ReplyHandler): void;
  calls(operation?: OperationName): RecordedCall[];
  /** Resolves once `count` calls of the operation were received (rejects after timeoutMs). */
  waitForCalls(operation: OperationName, count: number, timeoutMs?: number): Promise<RecordedCall[]>;
  /** Requests currently held open by a hang or a delay. */
  pending(): number;
  /** TCP connections accepted so far (keep-alive reuse shows as fewer connections than calls). */
  connections(): number;
  reset(): void;
  close(): Promise<void>;
}

const DEFAULT_REPLIES: Record<OperationName, ScriptedReply> = {
  PollHostCommand: { json: {} },
  GetDeploymentSpecification: { error: { status: 400, type: 'ClientException', message: 'no deployment specification scripted' } },
  PutHostCommandAcknowledgement: { json: { CommandStatus: 'InProgress' } },
  PutHostCommandComplete: { json: {} },
  PostHostCommandUpdate: { json: { CommandStatus: 'InProgress' } },
};

const ERROR_NAMESPACE = 'com.amazonaws.codedeploy.commands';

export async function startCommandsServer(opts: CommandsServerOptions = {}): Promise<CommandsServer> {
  const credentials = opts.credentials ?? TEST_CREDENTIALS;
  const region = opts.region ?? 'us-east-1';
  const signingName = opts.signingName ?? 'codedeploy-commands';
  const targetPrefix = opts.targetPrefix ?? 'CodeDeployCommandService_v20141006';
  const verifySignature = opts.verifySignature ?? true;

  const recorded: RecordedCall[] = [];
  const queues = new Map<string, ScriptedReply[]>();
  const handlers = new Map<string, ReplyHandler>();
  const open = new Set<http.ServerResponse>();

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const rawBody = Buffer.concat(chunks).toString('utf8');
    const target = headerValue(req.headers['x-amz-target']) ?? '';
    const operation = target.startsWith(`${targetPrefix}.`) ? target.slice(targetPrefix.length + 1) : '';
    let body: unknown;
    try {
      body = JSON.parse(rawBody);
    } catch {
      body = undefined;
    }
    const problem = verifySignature ? await checkSignature(req, rawBody, credentials, region, signingName) : undefined;
    const call: RecordedCall = {
      operation,
      target,
      body,
      rawBody,
      headers: req.headers,
      time: Date.now(),
      signatureValid: problem === undefined,
    };
    recorded.push(call);

    if (problem) {
      call.rejected = 'signature';
      await reply(res, { error: { status: 403, type: 'InvalidSignatureException', message: problem } });
      return;
    }
    if (req.method !== 'POST' || headerValue(req.headers['content-type']) !== 'application/x-amz-json-1.1') {
      call.rejected = 'content-type';
      await reply(res, { error: { status: 400, type: 'SerializationException', message: 'expected POST application/x-amz-json-1.1' } });
      return;
    }
    if (!(OPERATIONS as readonly string[]).includes(operation)) {
      call.rejected = 'target';
      await reply(res, { error: { status: 400, type: 'UnknownOperationException', message: `unknown target ${target}` } });
      return;
    }
    if (body === undefined || typeof body !== 'object' || body === null) {
      call.rejected = 'body';
      await reply(res, { error: { status: 400, type: 'SerializationException', message: 'the body is not a JSON object' } });
      return;
    }
    const queued = queues.get(operation)?.shift();
    const handler = handlers.get(operation);
    const scripted = queued ?? (handler ? await handler(call) : DEFAULT_REPLIES[operation as OperationName]);
    await reply(res, scripted);
  };

  const reply = async (res: http.ServerResponse, r: ScriptedReply): Promise<void> => {
    const base = { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': randomUUID() };
    if ('hang' in r) {
      open.add(res);
      res.on('close', () => open.delete(res));
      return;
    }
    if ('delayMs' in r && r.delayMs) {
      open.add(res);
      await new Promise((resolve) => setTimeout(resolve, r.delayMs));
      open.delete(res);
      if (res.destroyed) return;
    }
    if ('destroy' in r) {
      res.socket?.destroy();
      return;
    }
    if ('error' in r) {
      const e = r.error;
      const where = e.typeIn ?? 'body';
      const payload: Record<string, unknown> = {};
      if (e.type && where !== 'header') payload.__type = `${ERROR_NAMESPACE}#${e.type}`;
      if (e.message !== undefined) payload.message = e.message;
      const headers: Record<string, string> = { ...base, ...e.headers };
      if (e.type && where !== 'body') headers['x-amzn-errortype'] = `${e.type}:http://internal.amazon.com/coral/${ERROR_NAMESPACE}/`;
      res.writeHead(e.status, headers).end(JSON.stringify(payload));
      return;
    }
    if ('raw' in r) {
      res.writeHead(r.status ?? 200, { ...base, ...r.headers }).end(r.raw);
      return;
    }
    res.writeHead(r.status ?? 200, { ...base, ...r.headers }).end(JSON.stringify(r.json));
  };

  const listener = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500).end(JSON.stringify({ __type: 'InternalFailure', message: String(err) }));
    });
  };
  const server = opts.tls ? https.createServer({ key: opts.tls.key, cert: opts.tls.cert }, listener) : http.createServer(listener);
  let connections = 0;
  server.on('connection', () => {
    connections += 1;
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;

  const calls = (operation?: OperationName): RecordedCall[] => recorded.filter((c) => operation === undefined || c.operation === operation);

  return {
    url: `${opts.tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    port,
    script(operation, r) {
      if (typeof r === 'function') {
        handlers.set(operation, r);
        return;
      }
      const queue = queues.get(operation) ?? [];
      queue.push(...(Array.isArray(r) ? r : [r]));
      queues.set(operation, queue);
    },
    calls,
    waitForCalls(operation, count, timeoutMs = 10_000) {
      return waitFor(`${count} ${operation} calls`, () => calls(operation).length >= count && calls(operation), {
        timeoutMs,
        intervalMs: 20,
        details: () => `got ${calls(operation).length}`,
      });
    },
    pending: () => open.size,
    connections: () => connections,
    reset() {
      recorded.length = 0;
      queues.clear();
      handlers.clear();
    },
    async close() {
      for (const res of open) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v.join(',') : v;
}

const AUTH_PATTERN =
  /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$/;

/** Recompute the request's SigV4 signature; undefined when it matches, else why not. */
async function checkSignature(
  req: http.IncomingMessage,
  rawBody: string,
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string },
  region: string,
  service: string,
): Promise<string | undefined> {
  const auth = headerValue(req.headers.authorization);
  if (!auth) return 'Missing Authentication Token';
  const m = AUTH_PATTERN.exec(auth);
  if (!m) return 'Authorization header is malformed';
  const [, accessKeyId, shortDate, scopeRegion, scopeService, signedHeaderList] = m as unknown as string[];
  if (accessKeyId !== credentials.accessKeyId) return 'The security token included in the request is invalid';
  if (scopeRegion !== region) return `Credential should be scoped to a valid region: ${scopeRegion}`;
  if (scopeService !== service) return `Credential should be scoped to correct service: '${service}'`;
  const amzDate = headerValue(req.headers['x-amz-date']) ?? '';
  const dm = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(amzDate);
  if (!dm || amzDate.slice(0, 8) !== shortDate) return 'X-Amz-Date is missing or does not match the credential scope';
  const signedNames = (signedHeaderList ?? '').split(';');
  for (const required of ['host', 'x-amz-date', 'x-amz-target']) {
    if (!signedNames.includes(required)) return `Header ${required} must be signed`;
  }
  const bodyHash = createHash('sha256').update(rawBody).digest('hex');
  const declared = headerValue(req.headers['x-amz-content-sha256']);
  if (declared !== undefined && declared !== bodyHash) return 'The provided x-amz-content-sha256 header does not match the body';
  if (credentials.sessionToken !== undefined && headerValue(req.headers['x-amz-security-token']) !== credentials.sessionToken) {
    return 'The security token included in the request is invalid';
  }
  const headers: Record<string, string> = {};
  for (const name of signedNames) {
    const value = headerValue(req.headers[name]);
    if (value === undefined) return `Signed header ${name} is missing`;
    headers[name] = value;
  }
  const [, y, mo, d, h, mi, s] = dm.map(Number) as number[];
  const signingDate = new Date(Date.UTC(y ?? 0, (mo ?? 1) - 1, d, h, mi, s));
  const url = new URL(req.url ?? '/', 'http://placeholder');
  const request = new HttpRequest({
    method: req.method ?? 'POST',
    hostname: headers.host ?? '',
    path: url.pathname,
    headers,
    body: rawBody,
  });
  const signer = new SignatureV4({ credentials, region, service, sha256: Sha256 });
  const signed = await signer.sign(request, { signingDate });
  const expected = Buffer.from(String(signed.headers.authorization));
  const actual = Buffer.from(auth);
  if (expected.length !== actual.length || !timingSafeEqual(expected, actual)) {
    return 'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.';
  }
  return undefined;
}
