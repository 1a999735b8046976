/**
 * The ELBv2 Query API of the local control plane, as users drive it: the aws CLI v2 (/usr/bin/aws,
 * skipped where absent) and @aws-sdk/client-elastic-load-balancing-v2, against a real backend on
 * port 0, with real health checks and a real listener port; and a deployment group that names the
 * target group through `aws deploy create-deployment-group --load-balancer-info`.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  CreateTargetGroupCommand,
  DescribeTargetGroupsCommand,
  DescribeTargetHealthCommand,
  ElasticLoadBalancingV2Client,
  RegisterTargetsCommand,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ControlPlane } from '../../../control-plane/server.js';
import { freePort } from '../../../scripts/lib/demo-traffic.js';
import { awsCli, hasAwsCli } from '../../helpers/aws-cli.js';
import { LOCAL_CREDENTIALS, startTestControlPlane } from '../../helpers/control-plane.js';
import { tempDir } from '../../helpers/temp.js';
import { waitFor } from '../../helpers/wait-for.js';

describe('the ELBv2 API of the local control plane', () => {
  let cp: ControlPlane;
  let backend: http.Server;
  let backendPort: number;
  let home: string;

  beforeAll(async () => {
    cp = await startTestControlPlane({ minHealthCheckIntervalSeconds: 1 });
    home = await tempDir('cda-elbv2-home-');
    backend = http.createServer((req, res) => res.end(req.url === '/health' ? 'ok' : 'hello from the backend'));
    await new Promise<void>((r) => backend.listen(0, '127.0.0.1', () => r()));
    backendPort = (backend.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await cp?.close();
    backend?.close();
  });

  const aws = (...args: string[]) => awsCli(cp.url, home)(...args);

  it.skipIf(!hasAwsCli)(
    'aws elbv2: target group, load balancer, listener, targets, health, traffic, errors; aws deploy names the group',
    async () => {
      const created = await aws(
        'elbv2',
        'create-target-group',
        '--name',
        'cli-web',
        '--protocol',
        'HTTP',
        '--port',
        '80',
        '--vpc-id',
        'vpc-local',
        '--target-type',
        'ip',
        '--health-check-path',
        '/health',
        '--health-check-interval-seconds',
        '5',
        '--health-check-timeout-seconds',
        '2',
        '--matcher',
        'HttpCode=200-299',
      );
      expect(created.stderr).toBe('');
      expect(created.code).toBe(0);
      const tg = (JSON.parse(created.stdout) as { TargetGroups: Record<string, unknown>[] }).TargetGroups[0]!;
      expect(tg).toMatchObject({
        TargetGroupName: 'cli-web',
        Protocol: 'HTTP',
        Port: 80,
        TargetType: 'ip',
        HealthCheckPath: '/health',
        HealthCheckIntervalSeconds: 5,
        HealthCheckTimeoutSeconds: 2,
        Matcher: { HttpCode: '200-299' },
      });
      const tgArn = tg.TargetGroupArn as string;
      expect(tgArn).toMatch(/^arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup\/cli-web\//);

      const lbOut = await aws('elbv2', 'create-load-balancer', '--name', 'cli-lb', '--subnets', 'subnet-a', 'subnet-b');
      expect(lbOut.code, lbOut.stderr).toBe(0);
      const lb = (
        JSON.parse(lbOut.stdout) as { LoadBalancers: { LoadBalancerArn: string; State: { Code: string }; CreatedTime: string }[] }
      ).LoadBalancers[0]!;
      expect(lb.State.Code).toBe('active');
      expect(Number.isNaN(Date.parse(lb.CreatedTime))).toBe(false);
      const port = await freePort();
      const listener = await aws(
        'elbv2',
        'create-listener',
        '--load-balancer-arn',
        lb.LoadBalancerArn,
        '--protocol',
        'HTTP',
        '--port',
        String(port),
        '--default-actions',
        `Type=forward,TargetGroupArn=${tgArn}`,
      );
      expect(listener.code, listener.stderr).toBe(0);
      expect(JSON.parse(listener.stdout)).toMatchObject({
        Listeners: [{ Port: port, DefaultActions: [{ Type: 'forward', TargetGroupArn: tgArn }] }],
      });

      const reg = await aws('elbv2', 'register-targets', '--target-group-arn', tgArn, '--targets', `Id=127.0.0.1,Port=${backendPort}`);
      expect(reg.code, reg.stderr).toBe(0);
      await waitFor(
        'the target to be healthy',
        async () => {
          const h = await aws('elbv2', 'describe-target-health', '--target-group-arn', tgArn);
          const d = JSON.parse(h.stdout) as {
            TargetHealthDescriptions: { Target: { Id: string; Port: number }; TargetHealth: { State: string } }[];
          };
          return d.TargetHealthDescriptions[0]?.TargetHealth.State === 'healthy' && d;
        },
        { timeoutMs: 20_000, intervalMs: 300 },
      );
      const res = await fetch(`http://127.0.0.1:${port}/`);
      expect(await res.text()).toBe('hello from the backend');

      const described = await aws('elbv2', 'describe-target-groups', '--names', 'cli-web');
      expect(JSON.parse(described.stdout)).toMatchObject({
        TargetGroups: [{ TargetGroupArn: tgArn, LoadBalancerArns: [lb.LoadBalancerArn] }],
      });
      const missing = await aws('elbv2', 'describe-target-groups', '--names', 'nope');
      expect(missing.code).toBe(254);
      expect(missing.stderr).toContain('(TargetGroupNotFound)');
      const dup = await aws(
        'elbv2',
        'create-target-group',
        '--name',
        'cli-web',
        '--protocol',
        'HTTP',
        '--port',
        '81',
        '--vpc-id',
        'vpc-local',
      );
      expect(dup.code).toBe(254);
      expect(dup.stderr).toContain('(DuplicateTargetGroupName)');

      // A deployment group with traffic control names the target group; an unknown name is refused.
      expect((await aws('deploy', 'create-application', '--application-name', 'CliApp')).code).toBe(0);
      const group = [
        'deploy',
        'create-deployment-group',
        '--application-name',
        'CliApp',
        '--service-role-arn',
        'arn:aws:iam::000000000000:role/any',
        '--on-premises-instance-tag-filters',
        'Key=env,Value=dev,Type=KEY_AND_VALUE',
        '--deployment-style',
        'deploymentType=IN_PLACE,deploymentOption=WITH_TRAFFIC_CONTROL',
      ];
      const bad = await aws(...group, '--deployment-group-name', 'bad', '--load-balancer-info', 'targetGroupInfoList=[{name=nope}]');
      expect(bad.code).toBe(254);
      expect(bad.stderr).toContain('(InvalidLoadBalancerInfoException)');
      expect(bad.stderr).toContain('no target group named "nope" exists');
      const good = await aws(...group, '--deployment-group-name', 'web', '--load-balancer-info', 'targetGroupInfoList=[{name=cli-web}]');
      expect(good.code, good.stderr).toBe(0);
      const got = await aws('deploy', 'get-deployment-group', '--application-name', 'CliApp', '--deployment-group-name', 'web');
      expect(JSON.parse(got.stdout)).toMatchObject({
        deploymentGroupInfo: {
          deploymentStyle: { deploymentType: 'IN_PLACE', deploymentOption: 'WITH_TRAFFIC_CONTROL' },
          loadBalancerInfo: { targetGroupInfoList: [{ name: 'cli-web' }] },
        },
      });
    },
    90_000,
  );

  it('the SDK: errors arrive as their exception classes; bad input is a ValidationError naming the parameter', async () => {
    const elb = new ElasticLoadBalancingV2Client({ endpoint: cp.url, region: 'us-east-1', credentials: LOCAL_CREDENTIALS, maxAttempts: 1 });
    const out = await elb.send(
      new CreateTargetGroupCommand({ Name: 'sdk-web', Protocol: 'HTTP', Port: 80, TargetType: 'ip', VpcId: 'vpc-local' }),
    );
    const arn = out.TargetGroups?.[0]?.TargetGroupArn as string;
    await expect(elb.send(new DescribeTargetGroupsCommand({ Names: ['missing'] }))).rejects.toMatchObject({
      name: 'TargetGroupNotFoundException',
      $metadata: { httpStatusCode: 400 },
    });
    await expect(
      elb.send(new RegisterTargetsCommand({ TargetGroupArn: arn, Targets: [{ Id: 'not-an-ip', Port: 80 }] })),
    ).rejects.toMatchObject({
      name: expect.stringMatching(/InvalidTarget|ValidationError/) as unknown,
    });
    await elb.send(new RegisterTargetsCommand({ TargetGroupArn: arn, Targets: [{ Id: '127.0.0.1', Port: backendPort }] }));
    const health = await elb.send(new DescribeTargetHealthCommand({ TargetGroupArn: arn }));
    expect(health.TargetHealthDescriptions?.[0]?.Target).toEqual({ Id: '127.0.0.1', Port: backendPort });
    // Raw: a form POST with a bad integer, an unknown action and a wrong version.
    const raw = async (body: string) => {
      const res = await fetch(cp.url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
      return { status: res.status, text: await res.text() };
    };
    const badInt = await raw(`Action=CreateTargetGroup&Version=2015-12-01&Name=x&Port=eighty`);
    expect(badInt.status).toBe(400);
    expect(badInt.text).toContain(
      '<Code>ValidationError</Code><Message>The parameter Port must be an integer, got &quot;eighty&quot;</Message>',
    );
    expect((await raw('Action=LaunchRocket&Version=2015-12-01')).text).toContain('<Code>InvalidAction</Code>');
    expect((await raw('Action=DescribeTargetGroups&Version=2012-06-01')).text).toContain('<Code>InvalidParameterValue</Code>');
    elb.destroy();
  });
});
