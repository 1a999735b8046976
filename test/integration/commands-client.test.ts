/**
 * The commands client against a real, signature-checking HTTP server (test/helpers/commands-server.ts):
 * wire bodies and headers, retries with recorded delays, timeouts, aborts, malformed answers,
 * proxies, TLS with a CA bundle, and no secrets in logs or messages.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { AwsCredentialIdentity } from '@smithy/types';
import { afterEach, describe, expect, it } from 'vitest';
import { CommandsApiError } from '../../agent/commands-client/commands-api-error.js';
import { createCommandsClient, type CommandsClient, type CommandsClientOptions } from '../../agent/commands-client/commands-client.js';
import { startCommandsServer, TEST_CREDENTIALS, type CommandsServer, type CommandsServerOptions } from '../helpers/commands-server.js';
import { captureLogger, silentLogger, tempDir } from '../helpers/temp.js';

const HOST_ID = 'arn:aws:ec2:us-east-1:123456789012:instance/i-deadbeef';
const EXEC_ID = 'CodeDeploy/us-east-1/Prod/arn:aws:sds:us-east-1:123456789012:deployment/d-M6RPSQFXM';
const COMMAND = {
  HostCommandIdentifier: 'WyJjb20uYW1hem9uLmFwb2xsbyJd',
  HostIdentifier: HOST_ID,
  DeploymentExecutionId: EXEC_ID,
  CommandName: 'DownloadBundle',
  Nonce: 7,
};

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

async function server(opts?: CommandsServerOptions): Promise<CommandsServer> {
  const s = await startCommandsServer(opts);
  cleanups.push(() => s.close());
  return s;
}

interface Harness {
  client: CommandsClient;
  delays: number[];
}

function client(endpoint: string, overrides: Partial<CommandsClientOptions> = {}): Harness {
  const delays: number[] = [];
  const c = createCommandsClient({
    endpoint,
    region: 'us-east-1',
    credentials: () => Promise.resolve({ ...TEST_CREDENTIALS }),
    enableAuthPolicy: false,
    packageVersion: 'OFFICIAL_1.8.1-test',
    logger: silentLogger(),
    sleep: (ms) => {
      delays.push(ms);
      return Promise.resolve();
    },
    random: () => 0.5,
    ...overrides,
  });
  cleanups.push(() => c.close());
  return { client: c, delays };
}

async function failure(p: Promise<unknown>): Promise<CommandsApiError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof CommandsApiError) return err;
    throw err;
  }
  throw new Error('expected the call to fail');
}

describe('wire format', () => {
  it('sends each operation with the official body, target, content type, version header and a valid signature', async () => {
    const s = await server();
    const { client: c } = client(s.url);
    s.script('PollHostCommand', { json: { HostCommand: COMMAND } });
    s.script('GetDeploymentSpecification', {
      json: { DeploymentSystem: 'CodeDeploy', DeploymentSpecification: { GenericEnvelope: { Format: 'TEXT/JSON', Payload: '{"x":1}' } } },
    });

    expect(await c.pollHostCommand(HOST_ID)).toEqual(COMMAND);
    expect(await c.getDeploymentSpecification(EXEC_ID, HOST_ID)).toEqual({
      deploymentSystem: 'CodeDeploy',
      envelope: { Format: 'TEXT/JSON', Payload: '{"x":1}' },
    });
    expect(await c.putHostCommandAcknowledgement(COMMAND.HostCommandIdentifier, false)).toBe('InProgress');
    await c.putHostCommandComplete(COMMAND.HostCommandIdentifier, 'Succeeded', {
      error_code: 0,
      script_name: '',
      message: 'Succeeded: ',
      log: '',
    });
    expect(
      await c.postHostCommandUpdate(COMMAND.HostCommandIdentifier, {
        estimatedCompletionTime: new Date(Date.UTC(2024, 0, 1, 0, 0, 0)),
        diagnostics: { error_code: 0, script_name: '', message: 'running', log: '' },
      }),
    ).toBe('InProgress');

    const calls = s.calls();
    expect(calls.map((x) => x.target)).toEqual([
      'CodeDeployCommandService_v20141006.PollHostCommand',
      'CodeDeployCommandService_v20141006.GetDeploymentSpecification',
      'CodeDeployCommandService_v20141006.PutHostCommandAcknowledgement',
      'CodeDeployCommandService_v20141006.PutHostCommandComplete',
      'CodeDeployCommandService_v20141006.PostHostCommandUpdate',
    ]);
    expect(calls.map((x) => x.rawBody)).toEqual([
      `{"HostIdentifier":"${HOST_ID}"}`,
      `{"DeploymentExecutionId":"${EXEC_ID}","HostIdentifier":"${HOST_ID}"}`,
      '{"HostCommandIdentifier":"WyJjb20uYW1hem9uLmFwb2xsbyJd","Diagnostics":{"Format":"JSON","Payload":"{\\"IsCommandNoop\\":false}"}}',
      '{"HostCommandIdentifier":"WyJjb20uYW1hem9uLmFwb2xsbyJd","CommandStatus":"Succeeded","Diagnostics":{"Format":"JSON","Payload":"{\\"error_code\\":0,\\"script_name\\":\\"\\",\\"message\\":\\"Succeeded: \\",\\"log\\":\\"\\"}"}}',
      '{"HostCommandIdentifier":"WyJjb20uYW1hem9uLmFwb2xsbyJd","EstimatedCompletionTime":1704067200,"Diagnostics":{"Format":"JSON","Payload":"{\\"error_code\\":0,\\"script_name\\":\\"\\",\\"message\\":\\"running\\",\\"log\\":\\"\\"}"}}',
    ]);
    for (const call of calls) {
      expect(call.signatureValid).toBe(true);
      expect(call.rejected).toBeUndefined();
      expect(call.headers['content-type']).toBe('application/x-amz-json-1.1');
      expect(call.headers['x-amz-codedeploy-agent-version']).toBe('OFFICIAL_1.8.1-test');
      expect(call.headers.authorization).toMatch(
        /^AWS4-HMAC-SHA256 Credential=AKIDTESTAGENT0000001\/\d{8}\/us-east-1\/codedeploy-commands\/aws4_request, /,
      );
    }
  });

  it('sends a noop acknowledgement and returns the status the service decides', async () => {
    const s = await server();
    const { client: c } = client(s.url);
    s.script('PutHostCommandAcknowledgement', { json: { CommandStatus: 'Failed' } });
    expect(await c.putHostCommandAcknowledgement('hc-1', true)).toBe('Failed');
    expect(s.calls('PutHostCommandAcknowledgement')[0]?.body).toEqual({
      HostCommandIdentifier: 'hc-1',
      Diagnostics: { Format: 'JSON', Payload: '{"IsCommandNoop":true}' },
    });
  });

  it('keeps the complete payload within 8192 characters', async () => {
    const s = await server();
    const { client: c } = client(s.url);
    const log = Array.from({ length: 2000 }, (_, i) => `line ${i}\n`).join('');
    await c.putHostCommandComplete('hc-1', 'Failed', {
      error_code: 4,
      script_name: 'scripts/start.sh',
      message: 'Script at specified location: scripts/start.sh failed with exit code 1',
      log,
    });
    const body = s.calls('PutHostCommandComplete')[0]?.body as { CommandStatus: string; Diagnostics: { Payload: string } };
    expect(body.CommandStatus).toBe('Failed');
    expect(body.Diagnostics.Payload.length).toBeLessThanOrEqual(8192);
    expect(JSON.parse(body.Diagnostics.Payload)).toMatchObject({ error_code: 4, script_name: 'scripts/start.sh' });
    expect((JSON.parse(body.Diagnostics.Payload) as { log: string }).log.endsWith('line 1999\n')).toBe(true);
  });

  it('uses the secure model with enable_auth_policy', async () => {
    const s = await server({ signingName: 'codedeploy-commands-secure', targetPrefix: 'CodeDeployCommandService' });
    const { client: c } = client(s.url, { enableAuthPolicy: true });
    expect(await c.pollHostCommand(HOST_ID)).toBeUndefined();
    const [call] = s.calls('PollHostCommand');
    expect(call?.target).toBe('CodeDeployCommandService.PollHostCommand');
    expect(call?.signatureValid).toBe(true);
    expect(String(call?.headers.authorization)).toContain('/us-east-1/codedeploy-commands-secure/aws4_request');
  });

  it('signs session credentials with the security token', async () => {
    const creds = { ...TEST_CREDENTIALS, sessionToken: 'SESSION-TOKEN-SECRET-123' };
    const s = await server({ credentials: creds });
    const { client: c } = client(s.url, { credentials: () => Promise.resolve(creds) });
    expect(await c.pollHostCommand(HOST_ID)).toBeUndefined();
    expect(s.calls('PollHostCommand')[0]?.headers['x-amz-security-token']).toBe('SESSION-TOKEN-SECRET-123');
    expect(s.calls('PollHostCommand')[0]?.signatureValid).toBe(true);
  });
});

describe('errors and retries', () => {
  it('a wrong secret gets 403 InvalidSignatureException, once, with a clear message', async () => {
    const s = await server();
    const { client: c, delays } = client(s.url, {
      credentials: () => Promise.resolve({ accessKeyId: TEST_CREDENTIALS.accessKeyId, secretAccessKey: 'wrong-secret-value' }),
    });
    const err = await failure(c.pollHostCommand(HOST_ID));
    expect(s.calls()).toHaveLength(1);
    expect(s.calls()[0]?.signatureValid).toBe(false);
    expect(delays).toEqual([]);
    expect(err).toMatchObject({
      operation: 'PollHostCommand',
      statusCode: 403,
      serviceCode: 'InvalidSignatureException',
      retriable: false,
      attempts: 1,
      code: 'CDA_ERR_CONTROL_PLANE',
    });
    expect(err.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(err.message).toBe(
      `PollHostCommand failed: InvalidSignatureException: The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. (HTTP 403, request id ${err.requestId})`,
    );
    expect(err.message).not.toContain('wrong-secret-value');
  });

  it('retries 503 twice with full-jitter backoff, then succeeds', async () => {
    const s = await server();
    const { client: c, delays } = client(s.url);
    s.script('PutHostCommandAcknowledgement', [
      { error: { status: 503, type: 'ServerException', message: 'busy' } },
      { error: { status: 503, message: 'Service Unavailable' } },
      { json: { CommandStatus: 'InProgress' } },
    ]);
    expect(await c.putHostCommandAcknowledgement('hc-1', false)).toBe('InProgress');
    expect(s.calls('PutHostCommandAcknowledgement')).toHaveLength(3);
    // random() = 0.5: 0.5 x 100 ms, then 0.5 x 200 ms
    expect(delays).toEqual([50, 100]);
    // the same body each time, each freshly signed
    expect(new Set(s.calls().map((x) => x.rawBody)).size).toBe(1);
    expect(s.calls().every((x) => x.signatureValid)).toBe(true);
  });

  it('gives up after 3 attempts with the last error', async () => {
    const s = await server();
    const { client: c, delays } = client(s.url);
    s.script('PollHostCommand', () => ({ error: { status: 500, type: 'ServerException', message: 'boom', typeIn: 'header' } }));
    const err = await failure(c.pollHostCommand(HOST_ID));
    expect(s.calls('PollHostCommand')).toHaveLength(3);
    expect(delays).toEqual([50, 100]);
    expect(err).toMatchObject({ statusCode: 500, serviceCode: 'ServerException', retriable: true, attempts: 3 });
    expect(err.message).toMatch(/^PollHostCommand failed: ServerException: boom \(HTTP 500, request id [0-9a-f-]+, 3 attempts\)$/);
  });

  it('honours Retry-After on a ThrottlingException', async () => {
    const s = await server();
    const { client: c, delays } = client(s.url);
    s.script('PollHostCommand', [
      { error: { status: 400, type: 'ThrottlingException', message: 'Rate exceeded', headers: { 'retry-after': '2' } } },
      { json: {} },
    ]);
    expect(await c.pollHostCommand(HOST_ID)).toBeUndefined();
    expect(delays).toEqual([2000]);
    expect(s.calls('PollHostCommand')).toHaveLength(2);
  });

  it('uses the throttling base delay without Retry-After', async () => {
    const s = await server();
    const { client: c, delays } = client(s.url);
    s.script('PollHostCommand', [{ error: { status: 429, type: 'TooManyRequestsException' } }, { json: {} }]);
    await c.pollHostCommand(HOST_ID);
    expect(delays).toEqual([250]);
  });

  it('does not retry a 400 ClientException', async () => {
    const s = await server();
    const { client: c, delays } = client(s.url);
    s.script('PutHostCommandComplete', { error: { status: 400, type: 'ClientException', message: 'Invalid host command identifier' } });
    const err = await failure(c.putHostCommandComplete('bad', 'Succeeded', { error_code: 0, script_name: '', message: '', log: '' }));
    expect(s.calls('PutHostCommandComplete')).toHaveLength(1);
    expect(delays).toEqual([]);
    expect(err).toMatchObject({ serviceCode: 'ClientException', retriable: false, kind: 'client' });
    expect(err.message).toMatch(/^PutHostCommandComplete failed: ClientException: Invalid host command identifier \(HTTP 400, request id /);
  });

  it('retries connection refused, then reports the network error', async () => {
    const closed = net.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const { client: c, delays } = client(`http://127.0.0.1:${port}`);
    const err = await failure(c.pollHostCommand(HOST_ID));
    expect(err).toMatchObject({ networkCode: 'ECONNREFUSED', kind: 'network', retriable: true, attempts: 3 });
    expect(delays).toEqual([50, 100]);
    expect(err.message).toMatch(/^PollHostCommand failed: network error ECONNREFUSED: .* \(3 attempts\)$/);
  });

  it('retries a dropped connection', async () => {
    const s = await server();
    const { client: c, delays } = client(s.url);
    s.script('PollHostCommand', [{ destroy: true }, { json: { HostCommand: COMMAND } }]);
    expect(await c.pollHostCommand(HOST_ID)).toEqual(COMMAND);
    expect(s.calls('PollHostCommand')).toHaveLength(2);
    expect(delays).toEqual([50]);
  });

  it('refreshes expired credentials once and retries at once', async () => {
    const s = await server();
    const asked: Array<Record<string, unknown> | undefined> = [];
    const { client: c, delays } = client(s.url, {
      credentials: (props?: Record<string, unknown>): Promise<AwsCredentialIdentity> => {
        asked.push(props);
        return Promise.resolve({ ...TEST_CREDENTIALS });
      },
    });
    s.script('PollHostCommand', [
      { error: { status: 400, type: 'ExpiredTokenException', message: 'The security token included in the request is expired' } },
      { json: {} },
    ]);
    expect(await c.pollHostCommand(HOST_ID)).toBeUndefined();
    expect(asked).toEqual([undefined, { forceRefresh: true }]);
    expect(delays).toEqual([]);

    s.script('PollHostCommand', () => ({ error: { status: 400, type: 'ExpiredTokenException', message: 'expired' } }));
    const err = await failure(c.pollHostCommand(HOST_ID));
    expect(err).toMatchObject({ kind: 'expired-credentials', retriable: false, attempts: 1 });
    expect(s.calls('PollHostCommand')).toHaveLength(4);
  });

  it('reports a failing credential provider with the official text, and sends nothing', async () => {
    const s = await server();
    const { client: c } = client(s.url, { credentials: () => Promise.reject(new Error('Could not load credentials from any providers')) });
    const err = await failure(c.pollHostCommand(HOST_ID));
    expect(err.code).toBe('CDA_ERR_CREDENTIALS');
    expect(err.message).toBe(
      'PollHostCommand failed: Missing credentials - please check if this instance was started with an IAM instance profile: Could not load credentials from any providers',
    );
    expect(s.calls()).toHaveLength(0);
  });
});

describe('timeouts and cancellation', () => {
  it('fails a hanging answer with a read timeout within the configured time', async () => {
    const s = await server();
    const { client: c } = client(s.url, { pollReadTimeoutMs: 300, retryPolicy: { maxAttempts: 1 } });
    s.script('PollHostCommand', { hang: true });
    const started = Date.now();
    const err = await failure(c.pollHostCommand(HOST_ID));
    const elapsed = Date.now() - started;
    expect(err).toMatchObject({ networkCode: 'READ_TIMEOUT', retriable: true, attempts: 1 });
    expect(err.message).toBe('PollHostCommand failed: read timeout: no data from ' + new URL(s.url).host + ' for 300 ms');
    expect(elapsed).toBeGreaterThanOrEqual(250);
    expect(elapsed).toBeLessThan(2000);
  });

  it('uses the shorter timeout for the other operations and retries a timeout', async () => {
    const s = await server();
    const { client: c, delays } = client(s.url, { pollReadTimeoutMs: 60_000, readTimeoutMs: 200 });
    s.script('PutHostCommandAcknowledgement', [{ hang: true }, { json: { CommandStatus: 'Succeeded' } }]);
    const started = Date.now();
    expect(await c.putHostCommandAcknowledgement('hc-1', false)).toBe('Succeeded');
    expect(Date.now() - started).toBeLessThan(2000);
    expect(delays).toEqual([50]);
  });

  it('an abort cancels a long poll at once', async () => {
    const s = await server();
    const { client: c } = client(s.url);
    s.script('PollHostCommand', { hang: true });
    const controller = new AbortController();
    const pending = failure(c.pollHostCommand(HOST_ID, controller.signal));
    await s.waitForCalls('PollHostCommand', 1);
    const started = Date.now();
    controller.abort(new Error('shutdown'));
    const err = await pending;
    expect(Date.now() - started).toBeLessThan(1000);
    expect(err.aborted).toBe(true);
    expect(err.retriable).toBe(false);
    expect(err.message).toBe('PollHostCommand aborted: the call was cancelled');
    expect(s.calls('PollHostCommand')).toHaveLength(1);
  });

  it('an abort during a retry wait stops the retries', async () => {
    const s = await server();
    const controller = new AbortController();
    const { client: c } = client(s.url, {
      sleep: (_ms, signal) =>
        new Promise<void>((_resolve, reject) => {
          signal?.addEventListener('abort', () => reject(new Error('aborted')), { once: true });
          controller.abort();
        }),
    });
    s.script('PollHostCommand', () => ({ error: { status: 503 } }));
    const err = await failure(c.pollHostCommand(HOST_ID, controller.signal));
    expect(err.aborted).toBe(true);
    expect(s.calls('PollHostCommand')).toHaveLength(1);
  });

  it('an already aborted signal sends nothing', async () => {
    const s = await server();
    const { client: c } = client(s.url);
    const err = await failure(c.pollHostCommand(HOST_ID, AbortSignal.abort()));
    expect(err.aborted).toBe(true);
    expect(s.calls()).toHaveLength(0);
  });
});

describe('untrusted answers', () => {
  it.each([
    [
      'PutHostCommandAcknowledgement',
      { json: { CommandStatus: 'Bogus' } },
      'CommandStatus',
      'CommandStatus must be one of Pending, InProgress, Succeeded, Failed, got "Bogus"',
    ],
    [
      'PollHostCommand',
      { json: { HostCommand: { ...COMMAND, CommandName: undefined } } },
      'HostCommand.CommandName',
      'HostCommand.CommandName is missing or empty',
    ],
    [
      'PollHostCommand',
      { json: { HostCommand: { ...COMMAND, DeploymentExecutionId: 'd-1' } } },
      'HostCommand.DeploymentExecutionId',
      'HostCommand.DeploymentExecutionId must match ^[^/]+/[^/]+/[^/]+/.+$',
    ],
    ['PollHostCommand', { json: [1, 2] }, '(response)', '(response) must be a JSON object, got an array'],
    ['PollHostCommand', { raw: '{"HostCommand":' }, undefined, 'the body is not JSON'],
  ] as const)('%s answering %j is an error naming the field', async (operation, reply, field, text) => {
    const s = await server();
    const { client: c, delays } = client(s.url);
    s.script(operation, reply);
    const call = operation === 'PollHostCommand' ? c.pollHostCommand(HOST_ID) : c.putHostCommandAcknowledgement('hc-1', false);
    const err = await failure(call);
    expect(err).toMatchObject({ kind: 'malformed-response', retriable: false, statusCode: 200, field });
    expect(err.message).toMatch(new RegExp(`^${operation} failed: malformed response: ${escape(text)} \\(HTTP 200, request id `));
    expect(delays).toEqual([]);
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** A tiny HTTP proxy: absolute-URI forwarding and CONNECT tunnels, counting both. */
async function startProxy(): Promise<{ url: string; forwarded: string[]; tunnels: string[] }> {
  const forwarded: string[] = [];
  const tunnels: string[] = [];
  const proxy = http.createServer((req, res) => {
    const target = new URL(req.url ?? '');
    forwarded.push(`${req.method} ${req.url}`);
    const upstream = http.request(
      { hostname: target.hostname, port: target.port, path: target.pathname, method: req.method, headers: req.headers },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on('error', () => res.writeHead(502).end());
    req.pipe(upstream);
  });
  proxy.on('connect', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
    tunnels.push(req.url ?? '');
    const [host, port] = (req.url ?? '').split(':');
    const upstream = net.connect(Number(port), host, () => {
      socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
      upstream.pipe(socket);
      socket.pipe(upstream);
    });
    upstream.on('error', () => socket.destroy());
    socket.on('error', () => upstream.destroy());
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  cleanups.push(async () => {
    proxy.closeAllConnections();
    await new Promise<void>((r) => proxy.close(() => r()));
  });
  return { url: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`, forwarded, tunnels };
}

function opensslAvailable(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

async function selfSignedCert(name = 'IP:127.0.0.1'): Promise<{ key: string; cert: string; certPath: string }> {
  const dir = await tempDir('cda-tls-');
  const keyPath = join(dir, 'key.pem');
  const certPath = join(dir, 'cert.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      keyPath,
      '-out',
      certPath,
      '-days',
      '1',
      '-subj',
      `/CN=${name.slice(name.indexOf(':') + 1)}`,
      '-addext',
      `subjectAltName=${name}`,
    ],
    { stdio: 'ignore' },
  );
  return { key: readFileSync(keyPath, 'utf8'), cert: readFileSync(certPath, 'utf8'), certPath };
}

describe('transport', () => {
  it('goes through an HTTP proxy (forwarding) when proxy_uri is set', async () => {
    const s = await server();
    const proxy = await startProxy();
    const { client: c } = client(s.url, { proxyUri: proxy.url });
    s.script('PollHostCommand', { json: { HostCommand: COMMAND } });
    expect(await c.pollHostCommand(HOST_ID)).toEqual(COMMAND);
    expect(await c.putHostCommandAcknowledgement('hc-1', false)).toBe('InProgress');
    expect(proxy.forwarded).toEqual([`POST ${s.url}/`, `POST ${s.url}/`]);
    expect(s.calls().every((x) => x.signatureValid)).toBe(true);
  });

  it.skipIf(!opensslAvailable())('speaks HTTPS through a CONNECT proxy, trusting the CA bundle', async () => {
    const tls = await selfSignedCert();
    const s = await server({ tls });
    const proxy = await startProxy();
    const { client: c } = client(s.url, { proxyUri: proxy.url, caBundlePath: tls.certPath });
    expect(await c.putHostCommandAcknowledgement('hc-1', true)).toBe('InProgress');
    expect(proxy.tunnels).toEqual([`127.0.0.1:${s.port}`]);
    expect(s.calls('PutHostCommandAcknowledgement')[0]?.signatureValid).toBe(true);

    // Without the bundle, Node's default trust refuses the self-signed certificate: not retried.
    const { client: untrusting, delays } = client(s.url);
    const err = await failure(untrusting.pollHostCommand(HOST_ID));
    expect(err).toMatchObject({ kind: 'network', retriable: false, networkCode: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
    expect(delays).toEqual([]);
  });

  it.skipIf(!opensslAvailable())('still checks the certificate names through a CONNECT proxy', async () => {
    const tls = await selfSignedCert('DNS:other.test');
    const s = await server({ tls });
    const proxy = await startProxy();
    const { client: c } = client(s.url, { proxyUri: proxy.url, caBundlePath: tls.certPath });
    const err = await failure(c.pollHostCommand(HOST_ID));
    expect(err).toMatchObject({ kind: 'network', retriable: false, networkCode: 'ERR_TLS_CERT_ALTNAME_INVALID' });
    expect(err.message).toContain("IP: 127.0.0.1 is not in the cert's list");
    expect(proxy.tunnels).toHaveLength(1);
    expect(s.calls()).toHaveLength(0);
  });

  it('refuses a CA bundle it cannot read, at construction', async () => {
    const dir = await tempDir();
    expect(() => client('https://127.0.0.1:1', { caBundlePath: join(dir, 'missing.pem') })).toThrow(
      /^Cannot read the CA bundle .*missing\.pem: ENOENT/,
    );
    expect(() => client('ftp://x')).toThrow('Invalid commands endpoint: ftp: is not http: or https:');
  });

  it('reuses one kept-alive connection for consecutive calls', async () => {
    const s = await server();
    const { client: c } = client(s.url);
    await c.pollHostCommand(HOST_ID);
    await c.pollHostCommand(HOST_ID);
    await c.pollHostCommand(HOST_ID);
    expect(s.calls('PollHostCommand').map((x) => x.headers.connection)).toEqual(['keep-alive', 'keep-alive', 'keep-alive']);
    expect(s.connections()).toBe(1);
  });
});

describe('logging', () => {
  it('logs each call at debug like the official client, and never a secret', async () => {
    const secret = TEST_CREDENTIALS.secretAccessKey;
    const creds = { ...TEST_CREDENTIALS, sessionToken: 'SESSION-TOKEN-SECRET-456' };
    const s = await server({ credentials: creds });
    const { logger, lines } = captureLogger();
    const { client: c } = client(s.url, { logger, credentials: () => Promise.resolve(creds) });
    s.script('PollHostCommand', [{ error: { status: 503 } }, { json: { HostCommand: COMMAND } }]);
    s.script('PutHostCommandComplete', { error: { status: 400, type: 'ClientException', message: 'nope' } });
    await c.pollHostCommand(HOST_ID);
    const err = await failure(c.putHostCommandComplete('hc-1', 'Failed', { error_code: 5, script_name: '', message: 'x', log: '' }));

    const logged = lines();
    const done = logged.find((l) => l.operation === 'PollHostCommand' && l.statusCode === 200);
    expect(done).toMatchObject({ level: 20, retries: 1 });
    expect(String(done?.msg)).toMatch(/^\[CodeDeployCommand::Client 200 \d+\.\d{3} 1 retries\] PollHostCommand$/);
    expect(logged.some((l) => l.operation === 'PollHostCommand' && l.delayMs === 50 && l.statusCode === 503)).toBe(true);
    expect(
      logged.some((l) => String(l.msg).startsWith('[CodeDeployCommand::Client 400 ') && l.operation === 'PutHostCommandComplete'),
    ).toBe(true);

    const everything = JSON.stringify(logged) + err.message + JSON.stringify(err.details);
    expect(everything).not.toContain(secret);
    expect(everything).not.toContain('SESSION-TOKEN-SECRET-456');
    expect(everything).not.toContain('Signature=');
    expect(everything).not.toContain('AWS4-HMAC-SHA256');
  });
});
