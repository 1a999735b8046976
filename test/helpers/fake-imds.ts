/**
 * A fake EC2 instance metadata service: a real HTTP server on 127.0.0.1:0 (reusable by any test
 * that needs IMDS). It implements the IMDSv2 token PUT (the TTL header is required and checked),
 * the identity document, services/partition and services/domain, instance-id, placement/region,
 * and optionally instance-profile credentials. Every request is recorded.
 *
 *   const imds = await startFakeImds({ mode: 'v2-only', role: { name: 'r', credentials } });
 *   ... createImdsClient({ endpoint: imds.url, ... })
 *   imds.calls            // [{ method, path, token, ttlHeader, status }]
 *   imds.failNext(2)      // the next 2 matching requests answer 500
 *   imds.expireTokens()   // every token issued so far is refused with 401 from now on
 *   await imds.close()
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type FakeImdsMode =
  /** Token required: a GET without a valid token gets 401 (HttpTokens=required). */
  | 'v2-only'
  /** No tokens: the PUT answers tokenRefusalStatus, GETs need no token (old or emulated IMDS). */
  | 'v1-only'
  /** Token optional (HttpTokens=optional), but an invalid token still gets 401. */
  | 'both';

export interface FakeRoleCredentials {
  AccessKeyId: string;
  SecretAccessKey: string;
  Token: string;
  /** ISO date. */
  Expiration: string;
}

export interface FakeImdsOptions {
  mode?: FakeImdsMode;
  /** Status of the token PUT in v1-only mode. Default 403. */
  tokenRefusalStatus?: number;
  region?: string;
  accountId?: string;
  instanceId?: string;
  partition?: string;
  /** undefined: amazonaws.com; null: the path answers 404 (older metadata). */
  domain?: string | null;
  /** Surround every plain-text value with whitespace and newlines (the client must trim). */
  padValues?: boolean;
  role?: { name: string; credentials: FakeRoleCredentials };
}

export interface FakeImdsCall {
  method: string;
  path: string;
  /** The X-aws-ec2-metadata-token header sent, if any. */
  token?: string;
  /** The X-aws-ec2-metadata-token-ttl-seconds header sent, if any. */
  ttlHeader?: string;
  /** 0 when hang(true) left it unanswered. */
  status: number;
}

export interface FailureRule {
  /** How many matching requests fail. */
  count: number;
  /** Default 500. */
  status?: number;
  method?: 'GET' | 'PUT';
  /** Only requests whose path starts with this. */
  pathPrefix?: string;
}

export interface FakeImds {
  url: string;
  calls: FakeImdsCall[];
  /** Tokens issued so far, oldest first. */
  tokens: string[];
  failNext(count: number, rule?: Omit<FailureRule, 'count'>): void;
  /** Refuse every token issued so far (they answer 401 from now on). */
  expireTokens(): void;
  /** Accept requests but never answer (a black-holed IMDS); they are recorded with status 0. */
  hang(on: boolean): void;
  setRole(role: { name: string; credentials: FakeRoleCredentials } | undefined): void;
  callsTo(path: string, method?: string): FakeImdsCall[];
  close(): Promise<void>;
}

export async function startFakeImds(options: FakeImdsOptions = {}): Promise<FakeImds> {
  const mode = options.mode ?? 'v2-only';
  const region = options.region ?? 'us-east-1';
  const accountId = options.accountId ?? '123456789012';
  const instanceId = options.instanceId ?? 'i-deadbeef';
  const partition = options.partition ?? 'aws';
  const domain = options.domain === undefined ? 'amazonaws.com' : options.domain;
  let role = options.role;
  const calls: FakeImdsCall[] = [];
  const tokens: string[] = [];
  const valid = new Map<string, number>();
  const failures: FailureRule[] = [];
  const sockets = new Set<Socket>();
  let hanging = false;
  let counter = 0;

  const pad = (value: string): string => (options.padValues ? `  \n${value} \n\n` : value);

  function values(path: string): { status: number; body: string; json?: boolean } {
    const document = {
      accountId,
      architecture: 'x86_64',
      availabilityZone: `${region}a`,
      imageId: 'ami-12345678',
      instanceId,
      instanceType: 't3.micro',
      region,
      version: '2017-09-30',
    };
    switch (path) {
      case '/latest/meta-data':
      case '/latest/meta-data/':
        return { status: 200, body: 'ami-id\ninstance-id\niam/\nplacement/\nservices/' };
      case '/latest/meta-data/instance-id':
        return { status: 200, body: pad(instanceId) };
      case '/latest/meta-data/placement/region':
        return { status: 200, body: pad(region) };
      case '/latest/meta-data/services/partition':
        return { status: 200, body: pad(partition) };
      case '/latest/meta-data/services/domain':
        return domain === null ? { status: 404, body: 'Not Found' } : { status: 200, body: pad(domain) };
      case '/latest/dynamic/instance-identity/document':
        return { status: 200, body: pad(JSON.stringify(document, null, 2)), json: true };
      case '/latest/meta-data/iam/security-credentials/':
        return role ? { status: 200, body: pad(role.name) } : { status: 404, body: 'Not Found' };
      default:
        if (role && path === `/latest/meta-data/iam/security-credentials/${role.name}`) {
          const body = { Code: 'Success', LastUpdated: new Date().toISOString(), Type: 'AWS-HMAC', ...role.credentials };
          return { status: 200, body: JSON.stringify(body), json: true };
        }
        return { status: 404, body: 'Not Found' };
    }
  }

  function takeFailure(method: string, path: string): number | undefined {
    const rule = failures.find(
      (r) => r.count > 0 && (!r.method || r.method === method) && (!r.pathPrefix || path.startsWith(r.pathPrefix)),
    );
    if (!rule) return undefined;
    rule.count -= 1;
    return rule.status ?? 500;
  }

  function handle(req: IncomingMessage, res: ServerResponse): void {
    const method = req.method ?? 'GET';
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const token = header(req, 'x-aws-ec2-metadata-token');
    const ttlHeader = header(req, 'x-aws-ec2-metadata-token-ttl-seconds');
    if (hanging) {
      // Recorded with status 0: the request arrived and was never answered.
      calls.push({ method, path, ...(token !== undefined ? { token } : {}), ...(ttlHeader !== undefined ? { ttlHeader } : {}), status: 0 });
      return;
    }
    const reply = (status: number, body: string, headers: Record<string, string> = {}): void => {
      calls.push({ method, path, ...(token !== undefined ? { token } : {}), ...(ttlHeader !== undefined ? { ttlHeader } : {}), status });
      res.writeHead(status, { 'content-type': 'text/plain', ...headers });
      res.end(body);
    };

    const failure = takeFailure(method, path);
    if (failure !== undefined) return reply(failure, 'injected failure');

    if (path === '/latest/api/token') {
      if (method !== 'PUT') return reply(405, 'Method Not Allowed');
      if (mode === 'v1-only') return reply(options.tokenRefusalStatus ?? 403, 'Forbidden');
      const ttl = Number(ttlHeader);
      if (ttlHeader === undefined || !Number.isInteger(ttl) || ttl < 1 || ttl > 21600) return reply(400, 'Bad Request');
      counter += 1;
      const issued = `token-${counter}-${Math.random().toString(36).slice(2, 10)}`;
      tokens.push(issued);
      valid.set(issued, Date.now() + ttl * 1000);
      return reply(200, issued, { 'x-aws-ec2-metadata-token-ttl-seconds': String(ttl) });
    }
    if (method !== 'GET') return reply(405, 'Method Not Allowed');
    if (mode !== 'v1-only') {
      const expiry = token === undefined ? undefined : valid.get(token);
      if (token !== undefined && (expiry === undefined || expiry < Date.now())) return reply(401, 'Unauthorized');
      if (mode === 'v2-only' && token === undefined) return reply(401, 'Unauthorized');
    }
    const v = values(path);
    return reply(v.status, v.body, v.json ? { 'content-type': 'application/json' } : {});
  }

  const server = createServer(handle);
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    tokens,
    failNext(count, rule = {}) {
      failures.push({ count, ...rule });
    },
    expireTokens() {
      valid.clear();
    },
    hang(on) {
      hanging = on;
    },
    setRole(next) {
      role = next;
    },
    callsTo(path, method) {
      return calls.filter((c) => c.path === path && (method === undefined || c.method === method));
    },
    close() {
      for (const socket of sockets) socket.destroy();
      return new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
    },
  };
}

/** An http:// endpoint on loopback where nothing listens (connection refused at once). */
export async function closedEndpoint(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}
