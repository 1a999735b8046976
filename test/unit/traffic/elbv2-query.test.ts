/**
 * The ELBv2 Query API handler (control-plane/traffic/elbv2-handler.ts over elbv2-wire.ts) against a
 * recording fake ElbService on a real node:http server: which requests it claims, how form members
 * become service input, the XML success and error envelopes, the body cap, and unexpected failures
 * (500 InternalFailure, logged without the caller's Authorization header). The wire helpers
 * themselves are tested in elbv2-wire.test.ts; SQLite-backed end-to-end runs are in
 * test/integration/traffic/elbv2-api.test.ts.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ElbError,
  type ElbService,
  type ListenerRecord,
  type LoadBalancerRecord,
  type TargetGroupRecord,
} from '../../../control-plane/traffic/elb-model.js';
import { createElbv2Handler } from '../../../control-plane/traffic/elbv2-handler.js';
import { captureLogger } from '../../helpers/temp.js';

const NS = 'http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/';
const TG_ARN = 'arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/web/0123456789abcdef';
const LB_ARN = 'arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/app/front/0123456789abcdef';
const LISTENER_ARN = 'arn:aws:elasticloadbalancing:us-east-1:000000000000:listener/app/front/0123456789abcdef/fedcba9876543210';

const targetGroup: TargetGroupRecord = {
  TargetGroupArn: TG_ARN,
  TargetGroupName: 'web',
  Protocol: 'HTTP',
  Port: 80,
  VpcId: 'vpc-local',
  TargetType: 'ip',
  HealthCheckProtocol: 'HTTP',
  HealthCheckPath: '/health?a=1&b=<2>',
  HealthCheckPort: 'traffic-port',
  HealthCheckEnabled: true,
  HealthCheckIntervalSeconds: 5,
  HealthCheckTimeoutSeconds: 2,
  HealthyThresholdCount: 3,
  UnhealthyThresholdCount: 2,
  Matcher: { HttpCode: '200-299' },
  LoadBalancerArns: [LB_ARN],
  DeregistrationDelaySeconds: 300,
};

const loadBalancer: LoadBalancerRecord = {
  LoadBalancerArn: LB_ARN,
  LoadBalancerName: 'front',
  DNSName: 'front-0123456789abcdef.us-east-1.elb.localhost',
  CanonicalHostedZoneId: 'Z0LOCAL',
  CreatedTime: Date.UTC(2026, 0, 2, 3, 4, 5, 6),
  Scheme: 'internet-facing',
  Type: 'application',
  State: { Code: 'active' },
  IpAddressType: 'ipv4',
};

const listener: ListenerRecord = {
  ListenerArn: LISTENER_ARN,
  LoadBalancerArn: LB_ARN,
  Port: 18080,
  Protocol: 'HTTP',
  DefaultActions: [{ Type: 'forward', TargetGroupArn: TG_ARN }],
};

type Call = [method: string, ...args: unknown[]];

/** Records every call; `fail` makes the named method throw. */
function fakeService(fail: Partial<Record<keyof ElbService, Error>> = {}): { service: ElbService; calls: Call[] } {
  const calls: Call[] = [];
  const record = (method: keyof ElbService, ...args: unknown[]) => {
    calls.push([method, ...args]);
    const err = fail[method];
    if (err) throw err;
  };
  const service: ElbService = {
    createTargetGroup: (input) => (record('createTargetGroup', input), targetGroup),
    describeTargetGroups: (filter) => (record('describeTargetGroups', filter), [targetGroup]),
    modifyTargetGroup: (input) => (record('modifyTargetGroup', input), targetGroup),
    deleteTargetGroup: (arn) => record('deleteTargetGroup', arn),
    describeTargetGroupAttributes: (arn) => (
      record('describeTargetGroupAttributes', arn),
      [{ Key: 'deregistration_delay.timeout_seconds', Value: '300' }]
    ),
    modifyTargetGroupAttributes: (arn, attributes) => (record('modifyTargetGroupAttributes', arn, attributes), attributes),
    registerTargets: (arn, targets) => record('registerTargets', arn, targets),
    deregisterTargets: (arn, targets) => record('deregisterTargets', arn, targets),
    describeTargetHealth: (arn, targets) => (
      record('describeTargetHealth', arn, targets),
      [
        {
          Target: { Id: '127.0.0.1', Port: 8081 },
          HealthCheckPort: '8081',
          TargetHealth: {
            State: 'unhealthy',
            Reason: 'Target.ResponseCodeMismatch',
            Description: 'Health checks failed with these codes: [500]',
          },
        },
      ]
    ),
    createLoadBalancer: (input) => (record('createLoadBalancer', input), loadBalancer),
    describeLoadBalancers: (filter) => (record('describeLoadBalancers', filter), [loadBalancer]),
    deleteLoadBalancer: async (arn) => {
      await Promise.resolve();
      record('deleteLoadBalancer', arn);
    },
    createListener: async (input) => {
      await Promise.resolve();
      record('createListener', input);
      return listener;
    },
    describeListeners: (filter) => (record('describeListeners', filter), [listener]),
    deleteListener: async (arn) => {
      await Promise.resolve();
      record('deleteListener', arn);
    },
    addTags: (arns, tags) => record('addTags', arns, tags),
    removeTags: (arns, keys) => record('removeTags', arns, keys),
    describeTags: (arns) => (
      record('describeTags', arns),
      arns.map((ResourceArn) => ({ ResourceArn, Tags: [{ Key: 'env', Value: 'a&b' }] }))
    ),
  };
  return { service, calls };
}

let server: http.Server | undefined;

afterEach(async () => {
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = undefined;
});

/** A server asking the handler first and answering 404 "not mine" for what it does not claim. */
async function start(fail: Partial<Record<keyof ElbService, Error>> = {}) {
  const { service, calls } = fakeService(fail);
  const log = captureLogger();
  const handler = createElbv2Handler({ service, logger: log.logger });
  server = http.createServer((req, res) => {
    void handler(req, res).then((claimed) => {
      if (!claimed) {
        req.resume();
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not mine');
      }
    });
  });
  await new Promise<void>((r) => server?.listen(0, '127.0.0.1', () => r()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const post = async (body: string, headers: Record<string, string> = {}, path = '/') => {
    const res = await fetch(url + path, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8', ...headers },
      body,
    });
    return {
      status: res.status,
      type: res.headers.get('content-type'),
      requestId: res.headers.get('x-amzn-requestid'),
      text: await res.text(),
    };
  };
  const call = (action: string, params: Record<string, string> = {}) =>
    post(new URLSearchParams({ Action: action, Version: '2015-12-01', ...params }).toString());
  return { url, calls, post, call, logLines: log.lines };
}

describe('which requests the ELBv2 handler claims', () => {
  it('only form POSTs to / without x-amz-target; the rest go on to the next handler', async () => {
    const { url, post, calls } = await start();
    expect((await fetch(url + '/')).status).toBe(404);
    const json = await post('{}', { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'CodeDeploy_20141006.ListApplications' });
    expect(json.text).toBe('not mine');
    expect((await post('Action=DescribeTargetGroups&Version=2015-12-01', { 'x-amz-target': 'Anything.Else' })).text).toBe('not mine');
    expect((await post('Action=DescribeTargetGroups&Version=2015-12-01', {}, '/bucket')).text).toBe('not mine');
    expect((await post('Action=DescribeTargetGroups&Version=2015-12-01', { 'content-type': 'text/plain' })).text).toBe('not mine');
    expect(calls).toEqual([]);
    // A query string on / is still the root path.
    const ok = await post('Action=DescribeTargetGroups&Version=2015-12-01', {}, '/?x=1');
    expect(ok.status).toBe(200);
  });
});

describe('form members into service input', () => {
  it('CreateTargetGroup: integers, booleans, Matcher and Tags', async () => {
    const { call, calls } = await start();
    const res = await call('CreateTargetGroup', {
      Name: 'web',
      Protocol: 'HTTP',
      Port: '80',
      VpcId: 'vpc-local',
      TargetType: 'ip',
      HealthCheckPath: '/health',
      HealthCheckPort: '8081',
      HealthCheckEnabled: 'false',
      HealthCheckIntervalSeconds: '5',
      HealthCheckTimeoutSeconds: '2',
      HealthyThresholdCount: '3',
      UnhealthyThresholdCount: '2',
      'Matcher.HttpCode': '200,302',
      'Tags.member.2.Key': 'team',
      'Tags.member.1.Key': 'env',
      'Tags.member.1.Value': 'dev',
    });
    expect(res.status).toBe(200);
    expect(calls).toEqual([
      [
        'createTargetGroup',
        {
          Name: 'web',
          Protocol: 'HTTP',
          Port: 80,
          VpcId: 'vpc-local',
          TargetType: 'ip',
          HealthCheckPath: '/health',
          HealthCheckPort: '8081',
          HealthCheckEnabled: false,
          HealthCheckIntervalSeconds: 5,
          HealthCheckTimeoutSeconds: 2,
          HealthyThresholdCount: 3,
          UnhealthyThresholdCount: 2,
          Matcher: { HttpCode: '200,302' },
          Tags: [{ Key: 'env', Value: 'dev' }, { Key: 'team' }],
        },
      ],
    ]);
  });

  it('targets, attributes, lists of ARNs, listener actions and tag keys', async () => {
    const { call, calls } = await start();
    const ok = async (action: string, params: Record<string, string>) => expect((await call(action, params)).status).toBe(200);
    await ok('RegisterTargets', {
      TargetGroupArn: TG_ARN,
      'Targets.member.1.Id': '127.0.0.1',
      'Targets.member.1.Port': '8081',
      'Targets.member.2.Id': '127.0.0.2',
    });
    await ok('DeregisterTargets', { TargetGroupArn: TG_ARN, 'Targets.member.1.Id': '127.0.0.1', 'Targets.member.1.Port': '8081' });
    await ok('DescribeTargetHealth', { TargetGroupArn: TG_ARN });
    await ok('ModifyTargetGroupAttributes', {
      TargetGroupArn: TG_ARN,
      'Attributes.member.1.Key': 'deregistration_delay.timeout_seconds',
      'Attributes.member.1.Value': '0',
    });
    await ok('DescribeTargetGroups', { 'Names.member.1': 'web', 'Names.member.2': 'api', PageSize: '400' });
    await ok('DescribeTargetGroups', { 'TargetGroupArns.member.1': TG_ARN });
    await ok('DescribeLoadBalancers', { 'LoadBalancerArns.member.1': LB_ARN });
    await ok('CreateLoadBalancer', { Name: 'front', 'Subnets.member.1': 'subnet-a', 'Subnets.member.2': 'subnet-b' });
    await ok('CreateListener', {
      LoadBalancerArn: LB_ARN,
      Protocol: 'HTTP',
      Port: '18080',
      'DefaultActions.member.1.Type': 'forward',
      'DefaultActions.member.1.TargetGroupArn': TG_ARN,
    });
    await ok('DescribeListeners', { 'ListenerArns.member.1': LISTENER_ARN });
    await ok('DeleteListener', { ListenerArn: LISTENER_ARN });
    await ok('DeleteLoadBalancer', { LoadBalancerArn: LB_ARN });
    await ok('AddTags', { 'ResourceArns.member.1': TG_ARN, 'Tags.member.1.Key': 'k', 'Tags.member.1.Value': '' });
    await ok('RemoveTags', { 'ResourceArns.member.1': TG_ARN, 'TagKeys.member.1': 'k', 'TagKeys.member.2': 'j' });
    await ok('DeleteTargetGroup', { TargetGroupArn: TG_ARN });
    expect(calls).toEqual([
      ['registerTargets', TG_ARN, [{ Id: '127.0.0.1', Port: 8081 }, { Id: '127.0.0.2' }]],
      ['deregisterTargets', TG_ARN, [{ Id: '127.0.0.1', Port: 8081 }]],
      ['describeTargetHealth', TG_ARN, undefined],
      ['modifyTargetGroupAttributes', TG_ARN, [{ Key: 'deregistration_delay.timeout_seconds', Value: '0' }]],
      ['describeTargetGroups', { TargetGroupArns: undefined, Names: ['web', 'api'], LoadBalancerArn: undefined }],
      ['describeTargetGroups', { TargetGroupArns: [TG_ARN], Names: undefined, LoadBalancerArn: undefined }],
      ['describeLoadBalancers', { LoadBalancerArns: [LB_ARN], Names: undefined }],
      ['createLoadBalancer', { Name: 'front', Scheme: undefined, Type: undefined, Subnets: ['subnet-a', 'subnet-b'], Tags: undefined }],
      [
        'createListener',
        { LoadBalancerArn: LB_ARN, Protocol: 'HTTP', Port: 18080, DefaultActions: [{ Type: 'forward', TargetGroupArn: TG_ARN }] },
      ],
      ['describeListeners', { LoadBalancerArn: undefined, ListenerArns: [LISTENER_ARN] }],
      ['deleteListener', LISTENER_ARN],
      ['deleteLoadBalancer', LB_ARN],
      // An empty Value is no Value (the form cannot tell them apart).
      ['addTags', [TG_ARN], [{ Key: 'k' }]],
      ['removeTags', [TG_ARN], ['k', 'j']],
      ['deleteTargetGroup', TG_ARN],
    ]);
  });
});

describe('the XML envelopes', () => {
  it('a result: 200 text/xml, <Action>Response/<Action>Result, member lists, escaped text, the request id twice', async () => {
    const { call } = await start();
    const res = await call('CreateTargetGroup', { Name: 'web' });
    expect(res.status).toBe(200);
    expect(res.type).toBe('text/xml');
    expect(res.text).toContain(`<CreateTargetGroupResponse xmlns="${NS}"><CreateTargetGroupResult><TargetGroups><member>`);
    expect(res.text).toContain(`<TargetGroupArn>${TG_ARN}</TargetGroupArn><TargetGroupName>web</TargetGroupName>`);
    expect(res.text).toContain('<HealthCheckPath>/health?a=1&amp;b=&lt;2&gt;</HealthCheckPath>');
    expect(res.text).toContain('<HealthCheckEnabled>true</HealthCheckEnabled>');
    expect(res.text).toContain('<Matcher><HttpCode>200-299</HttpCode></Matcher>');
    expect(res.text).toContain(`<LoadBalancerArns><member>${LB_ARN}</member></LoadBalancerArns>`);
    expect(res.text).not.toContain('DeregistrationDelaySeconds');
    expect(res.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.text).toMatch(
      new RegExp(
        `</CreateTargetGroupResult><ResponseMetadata><RequestId>${res.requestId}</RequestId></ResponseMetadata></CreateTargetGroupResponse>$`,
      ),
    );
  });

  it('load balancers with ISO times and State/Code; health, attributes, listeners and tags in the SDK member names', async () => {
    const { call } = await start();
    const lbs = await call('DescribeLoadBalancers');
    expect(lbs.text).toContain('<CreatedTime>2026-01-02T03:04:05.006Z</CreatedTime>');
    expect(lbs.text).toContain('<State><Code>active</Code></State>');
    const health = await call('DescribeTargetHealth', { TargetGroupArn: TG_ARN });
    expect(health.text).toContain(
      '<TargetHealthDescriptions><member><Target><Id>127.0.0.1</Id><Port>8081</Port></Target><HealthCheckPort>8081</HealthCheckPort>' +
        '<TargetHealth><State>unhealthy</State><Reason>Target.ResponseCodeMismatch</Reason>',
    );
    const attrs = await call('DescribeTargetGroupAttributes', { TargetGroupArn: TG_ARN });
    expect(attrs.text).toContain(
      '<Attributes><member><Key>deregistration_delay.timeout_seconds</Key><Value>300</Value></member></Attributes>',
    );
    const listeners = await call('DescribeListeners', { LoadBalancerArn: LB_ARN });
    expect(listeners.text).toContain(
      `<DefaultActions><member><Type>forward</Type><TargetGroupArn>${TG_ARN}</TargetGroupArn></member></DefaultActions>`,
    );
    const tags = await call('DescribeTags', { 'ResourceArns.member.1': TG_ARN });
    expect(tags.text).toContain(
      `<TagDescriptions><member><ResourceArn>${TG_ARN}</ResourceArn><Tags><member><Key>env</Key><Value>a&amp;b</Value></member></Tags></member></TagDescriptions>`,
    );
    const empty = await call('RegisterTargets', { TargetGroupArn: TG_ARN, 'Targets.member.1.Id': '127.0.0.1' });
    expect(empty.text).toContain('<RegisterTargetsResult></RegisterTargetsResult>');
  });

  it('protocol errors: MissingAction, MissingParameter, InvalidParameterValue, InvalidAction, ValidationError naming the parameter', async () => {
    const { post, call, calls } = await start();
    const code = (text: string) => /<Code>([^<]*)<\/Code>/.exec(text)?.[1];
    expect(code((await post('Version=2015-12-01')).text)).toBe('MissingAction');
    expect(code((await post('Action=DescribeTargetGroups')).text)).toBe('MissingParameter');
    const wrongVersion = await post('Action=DescribeTargetGroups&Version=2012-06-01');
    expect(wrongVersion.status).toBe(400);
    expect(code(wrongVersion.text)).toBe('InvalidParameterValue');
    const unknown = await call('LaunchRocket');
    expect(code(unknown.text)).toBe('InvalidAction');
    expect(code((await call('toString')).text)).toBe('InvalidAction');
    const badInt = await call('RegisterTargets', { TargetGroupArn: TG_ARN, 'Targets.member.1.Id': 'a', 'Targets.member.1.Port': '80x' });
    expect(badInt.status).toBe(400);
    expect(badInt.type).toBe('text/xml');
    expect(badInt.text).toContain(
      `<ErrorResponse xmlns="${NS}"><Error><Type>Sender</Type><Code>ValidationError</Code><Message>The parameter Port must be an integer, got &quot;80x&quot;</Message></Error><RequestId>${badInt.requestId}</RequestId></ErrorResponse>`,
    );
    expect(code((await call('DescribeTargetGroups', { PageSize: '401' })).text)).toBe('ValidationError');
    expect(code((await call('DescribeListeners', { PageSize: '0' })).text)).toBe('ValidationError');
    expect(code((await call('CreateTargetGroup', { HealthCheckEnabled: 'yes', Name: 'x' })).text)).toBe('ValidationError');
    expect((await call('RegisterTargets', { TargetGroupArn: TG_ARN })).text).toContain('Value null at &apos;targets&apos;');
    expect((await call('DeleteTargetGroup')).text).toContain('Value null at &apos;targetGroupArn&apos;');
    expect(calls).toEqual([]);
  });

  it("the service's ElbError keeps its code and status; anything else is a logged 500 InternalFailure (Receiver)", async () => {
    const secret = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
    const { post, call, logLines } = await start({
      describeTargetGroups: new ElbError('TargetGroupNotFound', 'One or more target groups not found'),
      deleteTargetGroup: new ElbError('ResourceInUse', 'in use <by a listener>', 409),
      registerTargets: new TypeError('boom'),
    });
    const notFound = await call('DescribeTargetGroups', { 'Names.member.1': 'nope' });
    expect(notFound.status).toBe(400);
    expect(notFound.text).toContain('<Code>TargetGroupNotFound</Code><Message>One or more target groups not found</Message>');
    const inUse = await call('DeleteTargetGroup', { TargetGroupArn: TG_ARN });
    expect(inUse.status).toBe(409);
    expect(inUse.text).toContain('<Message>in use &lt;by a listener&gt;</Message>');
    const failed = await post(
      new URLSearchParams({
        Action: 'RegisterTargets',
        Version: '2015-12-01',
        TargetGroupArn: TG_ARN,
        'Targets.member.1.Id': 'a',
      }).toString(),
      {
        authorization: `AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/elasticloadbalancing/aws4_request, Signature=${secret}`,
      },
    );
    expect(failed.status).toBe(500);
    expect(failed.text).toContain('<Error><Type>Receiver</Type><Code>InternalFailure</Code>');
    expect(failed.text).not.toContain('boom');
    const errors = logLines().filter((l) => l.level === 50);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ action: 'RegisterTargets', msg: 'ELBv2 request failed' });
    expect(JSON.stringify(logLines())).not.toContain(secret);
  });

  const oversized = `Action=DescribeTargetGroups&Version=2015-12-01&Names.member.1=${'a'.repeat(2 * 1024 * 1024)}`;
  const send = (url: string, body: string) =>
    fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body }).then(
      async (res) => ({ status: res.status, text: await res.text() }),
      (err: Error) => ({ status: 0, text: String(err) }),
    );

  it('stops reading a body over 1 MiB and never runs it; the server goes on answering', async () => {
    const { url, calls, call } = await start();
    const outcome = await send(url, oversized);
    expect(outcome.status === 0 || outcome.status === 413).toBe(true);
    expect(calls).toEqual([]);
    expect((await call('DescribeTargetGroups')).status).toBe(200);
  });

  it('answers a body over 1 MiB with 413 ValidationError in the XML envelope', async () => {
    const { url } = await start();
    const outcome = await send(url, oversized);
    expect(outcome.status).toBe(413);
    expect(outcome.text).toContain('<Code>ValidationError</Code>');
  });
});
