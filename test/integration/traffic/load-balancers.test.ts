/**
 * The local load balancers with real HTTP: backends on port 0, a listener on a free port, real
 * health checks on short intervals (minHealthCheckIntervalSeconds lowers the API's 5 s minimum),
 * over an in-memory SQLite database.
 */
import * as http from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase, type Db } from '../../../control-plane/store/database.js';
import { createLoadBalancers, type LoadBalancers } from '../../../control-plane/traffic/load-balancers.js';
import type { TargetHealthState } from '../../../control-plane/traffic/traffic-port.js';
import { failOnProcessErrors } from '../../helpers/no-process-errors.js';
import { silentLogger } from '../../helpers/temp.js';
import { waitFor } from '../../helpers/wait-for.js';

failOnProcessErrors();

interface Backend {
  name: string;
  port: number;
  /** Status /health answers; 'hang' never answers. */
  health: number | 'hang';
  /** Requests other than /health. */
  hits: number;
  lastHeaders?: http.IncomingHttpHeaders;
  /** Open connections to this backend (the load balancer's kept-alive ones included). */
  connections(): Promise<number>;
  close(): Promise<void>;
}

async function startBackend(name: string): Promise<Backend> {
  const b: Backend = { name, port: 0, health: 200, hits: 0, connections: async () => 0, close: async () => undefined };
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://backend');
    if (url.pathname === '/health') {
      if (b.health !== 'hang') res.writeHead(b.health).end();
      return;
    }
    b.hits++;
    b.lastHeaders = req.headers;
    if (url.pathname === '/slow') {
      const t = setTimeout(() => res.end(`${name} slow`), Number(url.searchParams.get('ms') ?? '1000'));
      res.on('close', () => clearTimeout(t));
      return;
    }
    if (url.pathname === '/echo') {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => res.end(`${name}:${Buffer.concat(chunks).toString()}`));
      return;
    }
    res.setHeader('x-backend', name);
    res.end(name);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  b.port = (server.address() as AddressInfo).port;
  b.connections = () => new Promise((r, j) => server.getConnections((err, n) => (err ? j(err) : r(n))));
  b.close = () =>
    new Promise<void>((r) => {
      server.close(() => r());
      server.closeAllConnections();
    });
  return b;
}

async function freePort(): Promise<number> {
  const s = createNetServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

interface Reply {
  status: number;
  body: string;
  headers: http.IncomingHttpHeaders;
}

function request(port: number, path: string, o: { method?: string; body?: string; agent?: http.Agent } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: o.method ?? 'GET', agent: o.agent ?? false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString(), headers: res.headers }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(o.body);
  });
}

const backends: Backend[] = [];
const instances = new Map<string, { Key: string; Value?: string }[]>();
let lbs: LoadBalancers | undefined;
let db: Db | undefined;

afterEach(async () => {
  await lbs?.close();
  lbs = undefined;
  db?.close();
  db = undefined;
  await Promise.all(backends.splice(0).map((b) => b.close()));
  instances.clear();
});

async function open(): Promise<LoadBalancers> {
  db ??= openDatabase(':memory:');
  lbs = await createLoadBalancers({
    db,
    identity: { region: 'us-east-1', accountId: '000000000000' },
    host: '127.0.0.1',
    logger: silentLogger(),
    instanceTags: (name) => instances.get(name),
    minHealthCheckIntervalSeconds: 0.1,
  });
  return lbs;
}

/** A host: a backend plus an on-premises instance whose local:traffic-address tag points at it. */
async function host(name: string): Promise<Backend> {
  const b = await startBackend(name);
  backends.push(b);
  instances.set(name, [{ Key: 'local:traffic-address', Value: `127.0.0.1:${b.port}` }]);
  return b;
}

/** Target group 'web' (checks every 0.3 s, 0.25 s timeout, thresholds 2/2) behind a listener on a free port. */
async function setUp(l: LoadBalancers, delaySeconds = 30): Promise<{ port: number; tgArn: string }> {
  const tg = l.createTargetGroup({
    Name: 'web',
    Port: 80,
    HealthCheckPath: '/health',
    HealthCheckIntervalSeconds: 0.3,
    HealthCheckTimeoutSeconds: 0.25,
    HealthyThresholdCount: 2,
    UnhealthyThresholdCount: 2,
  });
  l.modifyTargetGroupAttributes(tg.TargetGroupArn, [{ Key: 'deregistration_delay.timeout_seconds', Value: String(delaySeconds) }]);
  const lb = l.createLoadBalancer({ Name: 'front' });
  const port = await freePort();
  await l.createListener({
    LoadBalancerArn: lb.LoadBalancerArn,
    Port: port,
    DefaultActions: [{ Type: 'forward', TargetGroupArn: tg.TargetGroupArn }],
  });
  return { port, tgArn: tg.TargetGroupArn };
}

async function until(l: LoadBalancers, instance: string, state: TargetHealthState, timeoutMs = 10_000): Promise<void> {
  let last = '';
  await waitFor(
    `${instance} to be ${state}`,
    () => {
      const s = l.standing('web', instance);
      last = JSON.stringify(s);
      return s.kind === 'state' && s.state === state;
    },
    { timeoutMs, intervalMs: 25, details: () => `last standing: ${last}` },
  );
}

describe('local load balancers over real HTTP', () => {
  it('answers 503 with no targets, then forwards to a target once registered, with X-Forwarded-* and bodies both ways', async () => {
    const l = await open();
    const a = await host('host-a');
    const { port } = await setUp(l);
    const empty = await request(port, '/');
    expect(empty.status).toBe(503);
    expect(a.hits).toBe(0);

    expect(l.register('web', 'host-a')).toMatchObject({ kind: 'state', state: 'initial' });
    await until(l, 'host-a', 'healthy');
    const r = await request(port, '/hello?x=1');
    expect(r).toMatchObject({ status: 200, body: 'host-a' });
    expect(r.headers['x-backend']).toBe('host-a');
    expect(a.lastHeaders).toMatchObject({
      'x-forwarded-for': '127.0.0.1',
      'x-forwarded-proto': 'http',
      'x-forwarded-port': String(port),
      host: `127.0.0.1:${port}`,
    });
    const big = 'x'.repeat(300_000);
    const echoed = await request(port, '/echo', { method: 'POST', body: big });
    expect(echoed.body).toBe(`host-a:${big}`);
  });

  it('round robins over healthy targets; unhealthy after failures (reasons), avoided, back after healthyThreshold passes; fails open when all are unhealthy', async () => {
    const l = await open();
    const a = await host('host-a');
    const b = await host('host-b');
    const { port, tgArn } = await setUp(l);
    l.register('web', 'host-a');
    l.register('web', 'host-b');
    await until(l, 'host-a', 'healthy');
    await until(l, 'host-b', 'healthy');
    const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const bodies = [];
      for (let i = 0; i < 6; i++) bodies.push((await request(port, '/', { agent: keepAlive })).body);
      // Strict alternation, even over one client keep-alive connection.
      expect(new Set([bodies[0], bodies[1]])).toEqual(new Set(['host-a', 'host-b']));
      for (let i = 2; i < 6; i++) expect(bodies[i]).toBe(bodies[i - 2]);

      b.health = 503;
      await until(l, 'host-b', 'unhealthy');
      expect(l.standing('web', 'host-b')).toMatchObject({
        reason: 'Target.ResponseCodeMismatch',
        description: expect.stringContaining('[503]') as unknown,
      });
      const hitsB = b.hits;
      for (let i = 0; i < 6; i++) expect((await request(port, '/', { agent: keepAlive })).body).toBe('host-a');
      expect(b.hits).toBe(hitsB);

      a.health = 'hang';
      await until(l, 'host-a', 'unhealthy');
      expect(l.describeTargetHealth(tgArn, [{ Id: 'host-a' }])[0]?.TargetHealth.Reason).toBe('Target.Timeout');
      // Both unhealthy: ELB fails open to all of them.
      const open2 = new Set<string>();
      for (let i = 0; i < 4; i++) open2.add((await request(port, '/', { agent: keepAlive })).body);
      expect(open2).toEqual(new Set(['host-a', 'host-b']));

      b.health = 200;
      await until(l, 'host-b', 'healthy');
      for (let i = 0; i < 4; i++) expect((await request(port, '/', { agent: keepAlive })).body).toBe('host-b');
    } finally {
      keepAlive.destroy();
    }
  });

  it('a target whose app is down is unhealthy with Target.FailedHealthChecks, and a failed upstream connection answers 502', async () => {
    const l = await open();
    const a = await host('host-a');
    const { port } = await setUp(l);
    await a.close();
    l.register('web', 'host-a');
    await until(l, 'host-a', 'unhealthy');
    expect(l.standing('web', 'host-a')).toMatchObject({
      reason: 'Target.FailedHealthChecks',
      description: expect.stringContaining('ECONNREFUSED') as unknown,
    });
    // The only target is unhealthy: fail open, and the connection fails.
    expect((await request(port, '/')).status).toBe(502);
  });

  it('drains: a slow in-flight request completes while new requests go to the other target; unused when it ends', async () => {
    const l = await open();
    const a = await host('host-a');
    const b = await host('host-b');
    const { port, tgArn } = await setUp(l, 30);
    l.register('web', 'host-a');
    l.register('web', 'host-b');
    await until(l, 'host-a', 'healthy');
    await until(l, 'host-b', 'healthy');
    // Find which target the next request goes to: send the slow one to host-b.
    let slow: Promise<Reply> | undefined;
    for (let i = 0; i < 4 && !slow; i++) {
      const before = b.hits;
      const p = request(port, '/slow?ms=1500');
      await waitFor('the request to reach a backend', () => a.hits + b.hits > 0 && (b.hits > before || a.hits > 0), { timeoutMs: 5000 });
      if (b.hits > before) slow = p;
      else {
        await p;
        a.hits = 0;
      }
    }
    expect(slow).toBeDefined();
    expect(l.deregister('web', 'host-b')).toMatchObject({ kind: 'state', state: 'draining', reason: 'Target.DeregistrationInProgress' });
    expect(l.describeTargetHealth(tgArn).map((d) => [d.Target.Id, d.TargetHealth.State])).toContainEqual(['host-b', 'draining']);
    const hitsB = b.hits;
    const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      for (let i = 0; i < 8; i++) expect((await request(port, '/', { agent: keepAlive })).body).toBe('host-a');
    } finally {
      keepAlive.destroy();
    }
    expect(b.hits).toBe(hitsB);
    expect(l.standing('web', 'host-b')).toMatchObject({ state: 'draining' });
    expect(await slow).toMatchObject({ status: 200, body: 'host-b slow' });
    await until(l, 'host-b', 'unused', 2000);
    // Its kept-alive upstream connections are closed too (the backend's keep-alive timeout is 5 s).
    await waitFor('the drained target to have no connection from the load balancer', async () => (await b.connections()) === 0, {
      timeoutMs: 1000,
    });
  });

  it('cuts off requests still in flight when the deregistration delay passes', async () => {
    const l = await open();
    const a = await host('host-a');
    const { port } = await setUp(l, 1);
    l.register('web', 'host-a');
    await until(l, 'host-a', 'healthy');
    const slow = request(port, '/slow?ms=20000').then(
      (r) => r,
      (err: unknown) => err as Error,
    );
    await waitFor('the slow request to reach the backend', () => a.hits === 1, { timeoutMs: 5000 });
    const started = Date.now();
    l.deregister('web', 'host-a');
    expect(l.standing('web', 'host-a')).toMatchObject({ state: 'draining' });
    await until(l, 'host-a', 'unused', 5000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    const outcome = await slow;
    // Headers were not sent yet: the listener answers 502.
    expect(outcome instanceof Error ? 'error' : outcome.status).toBe(502);
  });

  it('serves 50 requests/s for 3 s with no failure while one of two targets is deregistered and registered again', async () => {
    const l = await open();
    const a = await host('host-a');
    const b = await host('host-b');
    const { port } = await setUp(l, 10);
    l.register('web', 'host-a');
    l.register('web', 'host-b');
    await until(l, 'host-a', 'healthy');
    await until(l, 'host-b', 'healthy');
    const client = new http.Agent({ keepAlive: true, maxSockets: 8 });
    const results: Promise<Reply | Error>[] = [];
    let hitsBWhileOut = -1;
    const load = (async () => {
      const start = Date.now();
      for (let i = 0; i < 150; i++) {
        results.push(request(port, `/slow?ms=${20 + (i % 5) * 20}`, { agent: client }).catch((e: unknown) => e as Error));
        await delay(Math.max(0, start + (i + 1) * 20 - Date.now()));
      }
    })();
    try {
      await delay(700);
      l.deregister('web', 'host-b');
      await until(l, 'host-b', 'unused', 5000);
      const out = b.hits;
      await delay(800);
      hitsBWhileOut = b.hits - out;
      expect(l.register('web', 'host-b')).toMatchObject({ state: 'initial' });
      await until(l, 'host-b', 'healthy');
      const back = b.hits;
      await load;
      const replies = await Promise.all(results);
      const failed = replies.filter((r) => r instanceof Error || r.status !== 200);
      expect(failed).toEqual([]);
      expect(replies.length).toBe(150);
      expect(hitsBWhileOut).toBe(0);
      expect(b.hits).toBeGreaterThan(back);
      expect(a.hits + b.hits).toBe(150);
    } finally {
      await load;
      client.destroy();
    }
  });

  it('restarts on the same database: listeners reopen, targets are kept and checked again', async () => {
    let l = await open();
    await host('host-a');
    const { port, tgArn } = await setUp(l);
    l.register('web', 'host-a');
    await until(l, 'host-a', 'healthy');
    await l.close();
    await expect(request(port, '/')).rejects.toThrow(/ECONNREFUSED/);

    l = await open();
    expect(l.describeTargetHealth(tgArn).map((d) => d.Target.Id)).toEqual(['host-a']);
    await until(l, 'host-a', 'healthy');
    expect(await request(port, '/')).toMatchObject({ status: 200, body: 'host-a' });
    expect(l.describeLoadBalancers({})[0]?.State).toEqual({ Code: 'active' });
  });

  it('DeleteListener and DeleteLoadBalancer close their ports', async () => {
    const l = await open();
    await host('host-a');
    const { port } = await setUp(l);
    l.register('web', 'host-a');
    await until(l, 'host-a', 'healthy');
    expect((await request(port, '/')).status).toBe(200);
    const lb = l.describeLoadBalancers({ Names: ['front'] })[0];
    const [listener] = l.describeListeners({ LoadBalancerArn: lb?.LoadBalancerArn });
    await l.deleteListener(listener?.ListenerArn ?? '');
    await expect(request(port, '/')).rejects.toThrow(/ECONNREFUSED/);
    const port2 = await freePort();
    const tgArn = l.describeTargetGroups({ Names: ['web'] })[0]?.TargetGroupArn ?? '';
    await l.createListener({
      LoadBalancerArn: lb?.LoadBalancerArn ?? '',
      Port: port2,
      DefaultActions: [{ Type: 'forward', TargetGroupArn: tgArn }],
    });
    expect((await request(port2, '/')).status).toBe(200);
    await l.deleteLoadBalancer(lb?.LoadBalancerArn ?? '');
    await expect(request(port2, '/')).rejects.toThrow(/ECONNREFUSED/);
  });
});

describe('local load balancers after a restart that finds a port taken', () => {
  it('reports the load balancer failed, and CreateListener with the same settings opens it again', async () => {
    const l = await open();
    await host('host-a');
    const { port, tgArn } = await setUp(l);
    l.register('web', 'host-a');
    await l.close();
    const blocker = createNetServer();
    await new Promise<void>((r) => blocker.listen(port, '127.0.0.1', () => r()));
    let l2: LoadBalancers;
    try {
      l2 = await open();
      const lb = l2.describeLoadBalancers({ Names: ['front'] })[0];
      expect(lb?.State).toMatchObject({ Code: 'failed', Reason: expect.stringContaining(`port ${port}`) as unknown });
    } finally {
      await new Promise<void>((r) => blocker.close(() => r()));
    }
    const lbArn = l2.describeLoadBalancers({ Names: ['front'] })[0]?.LoadBalancerArn ?? '';
    const again = await l2.createListener({
      LoadBalancerArn: lbArn,
      Port: port,
      DefaultActions: [{ Type: 'forward', TargetGroupArn: tgArn }],
    });
    expect(l2.describeListeners({ LoadBalancerArn: lbArn })).toEqual([again]);
    expect(l2.describeLoadBalancers({ Names: ['front'] })[0]?.State).toEqual({ Code: 'active' });
    await until(l2, 'host-a', 'healthy');
    expect(await request(port, '/')).toMatchObject({ status: 200, body: 'host-a' });
  });
});
