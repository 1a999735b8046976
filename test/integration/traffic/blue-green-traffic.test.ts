/**
 * Issue #14's measured blue/green case: two blue hosts serve v1 behind a local load balancer; a
 * blue/green deployment puts v2 on two green hosts and moves the traffic while 100 requests/s go
 * through the listener. No request may fail; blue hosts only ever answer v1 and never after they
 * were drained, green hosts only v2 and only from their AllowTraffic on. Then the group is the
 * green fleet and the blue instances (TERMINATE) are deregistered.
 */
import {
  BatchGetDeploymentTargetsCommand,
  ContinueDeploymentCommand,
  GetDeploymentCommand,
  GetDeploymentGroupCommand,
  GetOnPremisesInstanceCommand,
  ListDeploymentInstancesCommand,
  ListDeploymentTargetsCommand,
  type InstanceTarget,
} from '@aws-sdk/client-codedeploy';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ControlPlane } from '../../../control-plane/server.js';
import { startSteadyLoad } from '../../../scripts/lib/demo-traffic.js';
import { startBlueGreenFleet, type BlueGreenFleet } from '../../../scripts/lib/traffic-fleet.js';
import { startTestControlPlane } from '../../helpers/control-plane.js';
import { suiteTempDir } from '../../helpers/temp.js';
import { waitFor } from '../../helpers/wait-for.js';

const BLUE = ['blue-1', 'blue-2'];
const GREEN = ['green-1', 'green-2'];

describe('a blue/green deployment behind a local load balancer, under steady load', () => {
  let cp: ControlPlane;
  let fleet: BlueGreenFleet;

  beforeAll(async () => {
    cp = await startTestControlPlane({ minHealthCheckIntervalSeconds: 1, allowTrafficTimeoutSeconds: 60 });
    fleet = await startBlueGreenFleet({
      controlPlane: cp,
      root: await suiteTempDir('cda-bluegreen-'),
      blue: BLUE,
      green: GREEN,
      healthCheck: { intervalSeconds: 2, timeoutSeconds: 1 },
      blueGreen: {
        deploymentReadyOption: { actionOnTimeout: 'STOP_DEPLOYMENT', waitTimeInMinutes: 10 },
        terminateBlueInstancesOnDeploymentSuccess: { action: 'TERMINATE', terminationWaitTimeInMinutes: 0 },
      },
    });
    const v1 = await fleet.deployToBlue(await fleet.upload('v1'));
    expect(v1.status, JSON.stringify(v1.errorInformation)).toBe('Succeeded');
  }, 180_000);

  afterAll(async () => {
    await fleet?.stop();
    await cp?.close();
  });

  it('2 blue to 2 green: Ready until ContinueDeployment, then 0 failed requests across the switch', async () => {
    const v2 = await fleet.upload('v2');
    const load = startSteadyLoad(fleet.lb.url, 100, { record: true });
    const started = Date.now();
    const id = await fleet.startBlueGreen(v2);
    let status: string | undefined;
    await waitFor(
      'the deployment to be Ready',
      async () => {
        status = (await fleet.deploy.send(new GetDeploymentCommand({ deploymentId: id }))).deploymentInfo?.status;
        return status === 'Ready' || undefined;
      },
      { timeoutMs: 90_000, intervalMs: 200, details: () => `still ${status}` },
    );
    const readyAt = Date.now();
    // Still all v1 while Ready: the greens are installed but get no traffic.
    expect(load.counts.byVersion.get('v2') ?? 0).toBe(0);
    await fleet.deploy.send(new ContinueDeploymentCommand({ deploymentId: id, deploymentWaitType: 'READY_WAIT' }));
    const info = await fleet.waitForEnd(id);
    const seconds = (Date.now() - started) / 1000;
    await new Promise((r) => setTimeout(r, 500));
    const counts = await load.stop();
    expect(info.status, JSON.stringify(info.errorInformation)).toBe('Succeeded');
    expect(counts.failures).toEqual([]);
    expect(counts.failed).toBe(0);

    const targets = await fleet.deploy.send(new BatchGetDeploymentTargetsCommand({ deploymentId: id, targetIds: [...BLUE, ...GREEN] }));
    const byHost = new Map((targets.deploymentTargets ?? []).map((t) => [t.instanceTarget!.targetId!, t.instanceTarget!]));
    const time = (t: InstanceTarget, name: string, which: 'startTime' | 'endTime') =>
      (t.lifecycleEvents?.find((e) => e.lifecycleEventName === name)?.[which] as Date).getTime();
    for (const host of BLUE) {
      const t = byHost.get(host)!;
      expect(t.instanceLabel).toBe('Blue');
      const mine = counts.answers.filter((a) => a.host === host);
      expect(mine.every((a) => a.version === 'v1')).toBe(true);
      expect(mine.filter((a) => a.sentAt > time(t, 'BlockTraffic', 'endTime') + 50)).toEqual([]);
    }
    for (const host of GREEN) {
      const t = byHost.get(host)!;
      expect(t.instanceLabel).toBe('Green');
      const mine = counts.answers.filter((a) => a.host === host);
      expect(mine.length).toBeGreaterThan(0);
      expect(mine.every((a) => a.version === 'v2')).toBe(true);
      expect(mine.filter((a) => a.at < time(t, 'AllowTraffic', 'startTime') - 50)).toEqual([]);
      expect(time(t, 'AllowTraffic', 'startTime')).toBeGreaterThanOrEqual(readyAt - 1000);
    }
    const greens = await fleet.deploy.send(new ListDeploymentInstancesCommand({ deploymentId: id, instanceTypeFilter: ['Green'] }));
    expect(greens.instancesList?.sort()).toEqual(GREEN);
    const blues = await fleet.deploy.send(
      new ListDeploymentTargetsCommand({ deploymentId: id, targetFilters: { ServerInstanceLabel: ['Blue'] } }),
    );
    expect(blues.targetIds?.sort()).toEqual(BLUE);
    // The green fleet is the group's now; the blue instances are gone (TERMINATE).
    const group = await fleet.deploy.send(new GetDeploymentGroupCommand({ applicationName: 'WebApp', deploymentGroupName: 'bluegreen' }));
    expect(group.deploymentGroupInfo?.onPremisesInstanceTagFilters).toEqual([{ Key: 'color', Value: 'green', Type: 'KEY_AND_VALUE' }]);
    const blue1 = await fleet.deploy.send(new GetOnPremisesInstanceCommand({ instanceName: 'blue-1' }));
    expect(blue1.instanceInfo?.deregisterTime).toBeInstanceOf(Date);
    console.log(
      `blue/green 2 -> 2 hosts: ${seconds.toFixed(1)} s (Ready after ${((readyAt - started) / 1000).toFixed(1)} s); ${counts.answers.length} requests (v1 ${counts.byVersion.get('v1') ?? 0}, v2 ${counts.byVersion.get('v2') ?? 0}), failed ${counts.failed}`,
    );
  }, 180_000);
});
