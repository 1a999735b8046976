/**
 * A control plane restarted while a host waits in AllowTraffic: the load balancer's records, the
 * registration and the listener come back on the same data dir and port, health checks resume,
 * and the engine goes on with the same AllowTraffic event (same start time) until the host is
 * healthy; the listener then proxies to it.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import {
  AddTagsToOnPremisesInstancesCommand,
  BatchGetDeploymentTargetsCommand,
  CreateApplicationCommand,
  CreateDeploymentCommand,
  CreateDeploymentGroupCommand,
  GetDeploymentCommand,
  type LifecycleEvent,
} from '@aws-sdk/client-codedeploy';
import { DescribeTargetHealthCommand, ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { afterAll, describe, expect, it } from 'vitest';
import type { ControlPlane } from '../../../control-plane/server.js';
import { TRAFFIC_ADDRESS_TAG } from '../../../control-plane/traffic/traffic-port.js';
import { createDemoLoadBalancer, freePort } from '../../../scripts/lib/demo-traffic.js';
import {
  clients,
  LOCAL_CREDENTIALS,
  s3Revision,
  startFleet,
  startTestControlPlane,
  uploadFleetApp,
  type TestFleet,
} from '../../helpers/control-plane.js';
import { suiteTempDir } from '../../helpers/temp.js';
import { waitFor } from '../../helpers/wait-for.js';

describe('a control plane restart during AllowTraffic', () => {
  let cp: ControlPlane | undefined;
  let fleet: TestFleet | undefined;
  let backend: http.Server | undefined;
  afterAll(async () => {
    await fleet?.stop();
    await cp?.close();
    backend?.close();
  });

  it('resumes the same event after the restart and succeeds once the host is healthy', async () => {
    let healthy = false;
    backend = http.createServer((req, res) => {
      if (req.url === '/health') res.writeHead(healthy ? 200 : 500).end();
      else res.end('the backend');
    });
    await new Promise<void>((r) => backend!.listen(0, '127.0.0.1', () => r()));
    const backendPort = (backend.address() as AddressInfo).port;

    const dataDir = join(await suiteTempDir('cda-traffic-restart-'), 'data');
    const port = await freePort();
    const options = { dataDir, port, minHealthCheckIntervalSeconds: 1, allowTrafficTimeoutSeconds: 120 };
    cp = await startTestControlPlane(options);
    const sdk = clients(cp);
    const lb = await createDemoLoadBalancer(
      cp.url,
      'us-east-1',
      LOCAL_CREDENTIALS,
      { intervalSeconds: 2, timeoutSeconds: 1 },
      'restart-tg',
    );
    await sdk.deploy.send(new CreateApplicationCommand({ applicationName: 'RestartApp' }));
    await sdk.deploy.send(
      new CreateDeploymentGroupCommand({
        applicationName: 'RestartApp',
        deploymentGroupName: 'web',
        serviceRoleArn: 'arn:aws:iam::000000000000:role/CodeDeployTest',
        onPremisesInstanceTagFilters: [{ Key: 'fleet', Value: 'restart', Type: 'KEY_AND_VALUE' }],
        deploymentStyle: { deploymentType: 'IN_PLACE', deploymentOption: 'WITH_TRAFFIC_CONTROL' },
        loadBalancerInfo: { targetGroupInfoList: [{ name: 'restart-tg' }] },
      }),
    );
    fleet = await startFleet(cp, sdk.deploy, 1, { tag: 'restart', env: { HOOK_SLEEP_SECONDS: '0' } });
    await sdk.deploy.send(
      new AddTagsToOnPremisesInstancesCommand({
        instanceNames: ['host-1'],
        tags: [{ Key: TRAFFIC_ADDRESS_TAG, Value: `127.0.0.1:${backendPort}` }],
      }),
    );
    const revision = await uploadFleetApp(sdk.s3);
    const { deploymentId } = await sdk.deploy.send(
      new CreateDeploymentCommand({ applicationName: 'RestartApp', deploymentGroupName: 'web', revision: s3Revision(revision) }),
    );

    const allowTraffic = async (): Promise<LifecycleEvent | undefined> => {
      const out = await clients(cp!).deploy.send(new BatchGetDeploymentTargetsCommand({ deploymentId, targetIds: ['host-1'] }));
      return out.deploymentTargets?.[0]?.instanceTarget?.lifecycleEvents?.find((e) => e.lifecycleEventName === 'AllowTraffic');
    };
    const before = await waitFor(
      'AllowTraffic to start',
      async () => ((await allowTraffic())?.status === 'InProgress' ? allowTraffic() : undefined),
      {
        timeoutMs: 60_000,
        intervalMs: 200,
        details: () => fleet?.agents[0]?.stderr() ?? '',
      },
    );

    await cp.close();
    cp = await startTestControlPlane(options);
    expect(cp.url).toBe(`http://127.0.0.1:${port}`);
    const elb = new ElasticLoadBalancingV2Client({ endpoint: cp.url, region: 'us-east-1', credentials: LOCAL_CREDENTIALS, maxAttempts: 1 });
    await waitFor(
      'a failed health check after the restart',
      async () => {
        const h = await elb.send(new DescribeTargetHealthCommand({ TargetGroupArn: lb.targetGroupArn }));
        return h.TargetHealthDescriptions?.[0]?.TargetHealth?.State === 'unhealthy' || undefined;
      },
      { timeoutMs: 20_000, intervalMs: 200 },
    );
    const during = await allowTraffic();
    expect(during?.status).toBe('InProgress');
    expect(during?.startTime?.getTime()).toBe(before?.startTime?.getTime());

    healthy = true;
    const info = await waitFor(
      'the deployment to succeed',
      async () => {
        const d = (await clients(cp!).deploy.send(new GetDeploymentCommand({ deploymentId }))).deploymentInfo;
        return ['Succeeded', 'Failed', 'Stopped'].includes(d?.status ?? '') && d;
      },
      { timeoutMs: 60_000, intervalMs: 200 },
    );
    expect(info.status, JSON.stringify(info.errorInformation)).toBe('Succeeded');
    expect((await allowTraffic())?.status).toBe('Succeeded');
    expect(await (await fetch(lb.url)).text()).toBe('the backend');
    elb.destroy();
  }, 120_000);
});
