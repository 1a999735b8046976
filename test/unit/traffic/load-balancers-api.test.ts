/**
 * The load balancers' ELBv2 operations and TrafficPort over an in-memory database: records,
 * defaults, idempotent creates and the real error codes. No listener is opened except where the
 * test says so; targets point at a closed port (their health checks fail quietly).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase, type Db } from '../../../control-plane/store/database.js';
import { ElbError } from '../../../control-plane/traffic/elb-model.js';
import { createLoadBalancers, type LoadBalancers } from '../../../control-plane/traffic/load-balancers.js';
import { silentLogger } from '../../helpers/temp.js';

const identity = { region: 'eu-west-1', accountId: '111122223333' };
const ADDR = 'local:traffic-address';

let lbs: LoadBalancers | undefined;
let db: Db | undefined;
const instances = new Map<string, { Key: string; Value?: string }[]>();

async function start(): Promise<LoadBalancers> {
  db = openDatabase(':memory:');
  lbs = await createLoadBalancers({
    db,
    identity,
    host: '127.0.0.1',
    logger: silentLogger(),
    instanceTags: (name) => instances.get(name),
    clock: () => 1_700_000_000_000,
  });
  return lbs;
}

afterEach(async () => {
  await lbs?.close();
  lbs = undefined;
  db?.close();
  instances.clear();
});

async function elbCode(fn: () => unknown): Promise<string | undefined> {
  try {
    await fn();
  } catch (err) {
    if (err instanceof ElbError) return err.code;
    throw err;
  }
  return undefined;
}

describe('target groups', () => {
  it('creates with ALB defaults and ARNs in the identity, describes by ARN, name and all', async () => {
    const l = await start();
    const tg = l.createTargetGroup({ Name: 'web', Port: 80, VpcId: 'vpc-1' });
    expect(tg.TargetGroupArn).toMatch(/^arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup\/web\/[0-9a-f]{16}$/);
    expect(tg).toMatchObject({
      Protocol: 'HTTP',
      Port: 80,
      TargetType: 'instance',
      HealthCheckPath: '/',
      HealthCheckPort: 'traffic-port',
      HealthCheckIntervalSeconds: 30,
      HealthCheckTimeoutSeconds: 5,
      HealthyThresholdCount: 5,
      UnhealthyThresholdCount: 2,
      Matcher: { HttpCode: '200' },
      LoadBalancerArns: [],
      DeregistrationDelaySeconds: 300,
    });
    expect(l.describeTargetGroups({ Names: ['web'] })).toEqual([tg]);
    expect(l.describeTargetGroups({ TargetGroupArns: [tg.TargetGroupArn] })).toEqual([tg]);
    expect(l.describeTargetGroups({}).map((t) => t.TargetGroupName)).toEqual(['web']);
    expect(l.describeTargetGroupAttributes(tg.TargetGroupArn)).toContainEqual({
      Key: 'deregistration_delay.timeout_seconds',
      Value: '300',
    });
  });

  it('create is idempotent with the same settings and DuplicateTargetGroupName with others', async () => {
    const l = await start();
    const tg = l.createTargetGroup({ Name: 'web', Port: 80 });
    expect(l.createTargetGroup({ Name: 'web', Port: 80 }).TargetGroupArn).toBe(tg.TargetGroupArn);
    expect(await elbCode(() => l.createTargetGroup({ Name: 'web', Port: 81 }))).toBe('DuplicateTargetGroupName');
  });

  it('refuses bad input with ValidationError and missing groups with TargetGroupNotFound', async () => {
    const l = await start();
    expect(await elbCode(() => l.createTargetGroup({ Name: '-bad', Port: 80 }))).toBe('ValidationError');
    expect(await elbCode(() => l.createTargetGroup({ Name: 'web' }))).toBe('ValidationError');
    expect(await elbCode(() => l.createTargetGroup({ Name: 'web', Port: 80, Protocol: 'TCP' }))).toBe('ValidationError');
    expect(await elbCode(() => l.createTargetGroup({ Name: 'web', Port: 80, TargetType: 'lambda' }))).toBe('ValidationError');
    expect(await elbCode(() => l.createTargetGroup({ Name: 'web', Port: 80, HealthCheckIntervalSeconds: 1 }))).toBe('ValidationError');
    expect(await elbCode(() => l.describeTargetGroups({ Names: ['nope'] }))).toBe('TargetGroupNotFound');
    const arn = 'arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/nope/0123456789abcdef';
    expect(await elbCode(() => l.describeTargetGroups({ TargetGroupArns: [arn] }))).toBe('TargetGroupNotFound');
    expect(await elbCode(() => l.deleteTargetGroup(arn))).toBe('TargetGroupNotFound');
    expect(await elbCode(() => l.registerTargets(arn, [{ Id: 'h' }]))).toBe('TargetGroupNotFound');
  });

  it('modifies health checks and the deregistration delay, not the name or port', async () => {
    const l = await start();
    const tg = l.createTargetGroup({ Name: 'web', Port: 80 });
    const m = l.modifyTargetGroup({ TargetGroupArn: tg.TargetGroupArn, HealthCheckPath: '/health', Matcher: { HttpCode: '200-299' } });
    expect(m).toMatchObject({ HealthCheckPath: '/health', Matcher: { HttpCode: '200-299' }, Port: 80 });
    expect(await elbCode(() => l.modifyTargetGroup({ TargetGroupArn: tg.TargetGroupArn, Port: 81 }))).toBe('ValidationError');
    const attrs = l.modifyTargetGroupAttributes(tg.TargetGroupArn, [{ Key: 'deregistration_delay.timeout_seconds', Value: '5' }]);
    expect(attrs).toContainEqual({ Key: 'deregistration_delay.timeout_seconds', Value: '5' });
    expect(l.describeTargetGroups({ Names: ['web'] })[0]?.DeregistrationDelaySeconds).toBe(5);
  });
});

describe('targets', () => {
  it('registers instances by their tag port, refuses instances without a usable tag and non-IP ip targets (InvalidTarget)', async () => {
    const l = await start();
    instances.set('good', [{ Key: ADDR, Value: '127.0.0.1:1' }]);
    instances.set('untagged', [{ Key: 'env', Value: 'x' }]);
    instances.set('malformed', [{ Key: ADDR, Value: 'nonsense' }]);
    const tg = l.createTargetGroup({ Name: 'web', Port: 80, HealthCheckIntervalSeconds: 300 });
    l.registerTargets(tg.TargetGroupArn, [{ Id: 'good' }]);
    for (const id of ['untagged', 'malformed', 'missing'])
      expect(await elbCode(() => l.registerTargets(tg.TargetGroupArn, [{ Id: id }])), id).toBe('InvalidTarget');
    await expect(Promise.resolve().then(() => l.registerTargets(tg.TargetGroupArn, [{ Id: 'untagged' }]))).rejects.toThrow(
      /has no local:traffic-address tag; add one with host:port/,
    );
    const health = l.describeTargetHealth(tg.TargetGroupArn);
    expect(health).toEqual([
      {
        Target: { Id: 'good', Port: 1 },
        HealthCheckPort: '1',
        TargetHealth: { State: 'initial', Reason: 'Elb.RegistrationInProgress', Description: 'Target registration is in progress' },
      },
    ]);
    const ip = l.createTargetGroup({ Name: 'ips', Port: 8080, TargetType: 'ip' });
    expect(await elbCode(() => l.registerTargets(ip.TargetGroupArn, [{ Id: 'good' }]))).toBe('InvalidTarget');
    l.registerTargets(ip.TargetGroupArn, [{ Id: '127.0.0.1' }]);
    expect(l.describeTargetHealth(ip.TargetGroupArn).map((d) => d.Target)).toEqual([{ Id: '127.0.0.1', Port: 8080 }]);
    // Deregistering with no in-flight requests completes at once; an unknown target is 'unused'.
    l.deregisterTargets(ip.TargetGroupArn, [{ Id: '127.0.0.1' }]);
    expect(l.describeTargetHealth(ip.TargetGroupArn)).toEqual([]);
    expect(l.describeTargetHealth(ip.TargetGroupArn, [{ Id: '127.0.0.1' }])[0]?.TargetHealth).toMatchObject({
      State: 'unused',
      Reason: 'Target.NotRegistered',
    });
  });
});

describe('load balancers and listeners', () => {
  it('creates load balancers, refuses duplicates and ResourceInUse, deletes quietly when absent', async () => {
    const l = await start();
    const lb = l.createLoadBalancer({ Name: 'front', Subnets: ['subnet-a'] });
    expect(lb).toMatchObject({
      LoadBalancerName: 'front',
      Scheme: 'internet-facing',
      Type: 'application',
      State: { Code: 'active' },
      CreatedTime: 1_700_000_000_000,
    });
    expect(lb.LoadBalancerArn).toMatch(/^arn:aws:elasticloadbalancing:eu-west-1:111122223333:loadbalancer\/app\/front\/[0-9a-f]{16}$/);
    expect(l.createLoadBalancer({ Name: 'front' }).LoadBalancerArn).toBe(lb.LoadBalancerArn);
    expect(await elbCode(() => l.createLoadBalancer({ Name: 'front', Scheme: 'internal' }))).toBe('DuplicateLoadBalancerName');
    expect(await elbCode(() => l.createLoadBalancer({ Name: 'nlb', Type: 'network' }))).toBe('ValidationError');
    expect(await elbCode(() => l.describeLoadBalancers({ Names: ['nope'] }))).toBe('LoadBalancerNotFound');

    const tg = l.createTargetGroup({ Name: 'web', Port: 80 });
    const listener = await l.createListener({
      LoadBalancerArn: lb.LoadBalancerArn,
      Port: 0 + (await freePort()),
      DefaultActions: [{ Type: 'forward', TargetGroupArn: tg.TargetGroupArn }],
    });
    expect(listener.ListenerArn).toMatch(
      new RegExp(
        `^arn:aws:elasticloadbalancing:eu-west-1:111122223333:listener/app/front/${lb.LoadBalancerArn.split('/').pop()}/[0-9a-f]{16}$`,
      ),
    );
    expect(l.describeTargetGroups({ Names: ['web'] })[0]?.LoadBalancerArns).toEqual([lb.LoadBalancerArn]);
    expect(l.describeTargetGroups({ LoadBalancerArn: lb.LoadBalancerArn }).map((t) => t.TargetGroupName)).toEqual(['web']);
    expect(await elbCode(() => l.deleteTargetGroup(tg.TargetGroupArn))).toBe('ResourceInUse');
    expect(
      await elbCode(() =>
        l.createListener({
          LoadBalancerArn: lb.LoadBalancerArn,
          Port: listener.Port,
          DefaultActions: [{ Type: 'forward', TargetGroupArn: l.createTargetGroup({ Name: 'other', Port: 80 }).TargetGroupArn }],
        }),
      ),
    ).toBe('DuplicateListener');
    // The same listener again is the same listener.
    expect(
      (
        await l.createListener({
          LoadBalancerArn: lb.LoadBalancerArn,
          Port: listener.Port,
          DefaultActions: [{ Type: 'forward', TargetGroupArn: tg.TargetGroupArn }],
        })
      ).ListenerArn,
    ).toBe(listener.ListenerArn);
    expect(
      await elbCode(() =>
        l.createListener({
          LoadBalancerArn: lb.LoadBalancerArn,
          Port: 70000,
          DefaultActions: [{ Type: 'forward', TargetGroupArn: tg.TargetGroupArn }],
        }),
      ),
    ).toBe('ValidationError');
    expect(
      await elbCode(() => l.createListener({ LoadBalancerArn: lb.LoadBalancerArn, Port: 8, DefaultActions: [{ Type: 'redirect' }] })),
    ).toBe('ValidationError');
    expect(l.describeListeners({ LoadBalancerArn: lb.LoadBalancerArn })).toEqual([listener]);

    await l.deleteLoadBalancer(lb.LoadBalancerArn);
    await l.deleteLoadBalancer(lb.LoadBalancerArn);
    expect(await elbCode(() => l.describeListeners({ ListenerArns: [listener.ListenerArn] }))).toBe('ListenerNotFound');
    expect(await elbCode(() => l.deleteListener(listener.ListenerArn))).toBe('ListenerNotFound');
    l.deleteTargetGroup(tg.TargetGroupArn);
    expect(l.describeTargetGroups({}).map((t) => t.TargetGroupName)).toEqual(['other']);
  });

  it('a port another program holds is DuplicateListener', async () => {
    const l = await start();
    const { createServer } = await import('node:net');
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const port = (blocker.address() as { port: number }).port;
    try {
      const lb = l.createLoadBalancer({ Name: 'front' });
      const tg = l.createTargetGroup({ Name: 'web', Port: 80 });
      expect(
        await elbCode(() =>
          l.createListener({
            LoadBalancerArn: lb.LoadBalancerArn,
            Port: port,
            DefaultActions: [{ Type: 'forward', TargetGroupArn: tg.TargetGroupArn }],
          }),
        ),
      ).toBe('DuplicateListener');
      expect(l.describeListeners({ LoadBalancerArn: lb.LoadBalancerArn })).toEqual([]);
    } finally {
      blocker.close();
    }
  });
});

describe('tags', () => {
  it('adds, replaces, removes and describes tags; unknown resources are NotFound', async () => {
    const l = await start();
    const tg = l.createTargetGroup({ Name: 'web', Port: 80, Tags: [{ Key: 'team', Value: 'a' }] });
    const lb = l.createLoadBalancer({ Name: 'front' });
    l.addTags([tg.TargetGroupArn, lb.LoadBalancerArn], [{ Key: 'team', Value: 'b' }, { Key: 'env' }]);
    l.removeTags([lb.LoadBalancerArn], ['env']);
    expect(l.describeTags([tg.TargetGroupArn, lb.LoadBalancerArn])).toEqual([
      { ResourceArn: tg.TargetGroupArn, Tags: [{ Key: 'team', Value: 'b' }, { Key: 'env' }] },
      { ResourceArn: lb.LoadBalancerArn, Tags: [{ Key: 'team', Value: 'b' }] },
    ]);
    expect(await elbCode(() => l.describeTags([tg.TargetGroupArn.replace(/[0-9a-f]{16}$/, '0000000000000000')]))).toBe(
      'TargetGroupNotFound',
    );
    expect(await elbCode(() => l.addTags(['arn:nonsense'], [{ Key: 'a' }]))).toBe('ValidationError');
  });
});

describe('TrafficPort', () => {
  it('registers, reports and deregisters an instance by names, idempotently', async () => {
    const l = await start();
    instances.set('host-1', [{ Key: ADDR, Value: '127.0.0.1:1' }]);
    instances.set('host-2', []);
    l.createTargetGroup({ Name: 'web', Port: 80, HealthCheckIntervalSeconds: 300 });
    expect(l.hasTargetGroup('web')).toBe(true);
    expect(l.hasTargetGroup('nope')).toBe(false);
    expect(l.register('nope', 'host-1')).toMatchObject({ kind: 'no-target-group' });
    expect(l.register('web', 'host-2')).toMatchObject({
      kind: 'no-address',
      message: expect.stringMatching(/no local:traffic-address tag/) as unknown,
    });
    expect(l.register('web', 'host-1')).toMatchObject({ kind: 'state', state: 'initial', reason: 'Elb.RegistrationInProgress' });
    expect(l.register('web', 'host-1')).toMatchObject({ kind: 'state', state: 'initial' });
    expect(l.describeTargetHealth(l.describeTargetGroups({ Names: ['web'] })[0]?.TargetGroupArn ?? '').map((d) => d.Target)).toEqual([
      { Id: 'host-1', Port: 1 },
    ]);
    expect(l.standing('web', 'host-1')).toMatchObject({ kind: 'state', state: 'initial' });
    expect(l.deregister('web', 'host-1')).toMatchObject({ kind: 'state', state: 'unused' });
    expect(l.deregister('web', 'host-1')).toMatchObject({ kind: 'state', state: 'unused' });
    expect(l.standing('web', 'host-2')).toMatchObject({ kind: 'state', state: 'unused', reason: 'Target.NotRegistered' });
  });
});

async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}
