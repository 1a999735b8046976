/**
 * Issue #14's measured case, in place: three real agents behind a local load balancer (the
 * sample's web app on each, the group WITH_TRAFFIC_CONTROL), steady HTTP load through the
 * listener (100 requests/s, loopback) during an in-place OneAtATime deployment of v2, then during
 * v3 whose ValidateService fails on the first host and rolls back to v2. No request may fail, and
 * each host answers with its old version only until it is drained and with its new version only
 * after it is registered again.
 */
import { BatchGetDeploymentTargetsCommand, type InstanceTarget } from '@aws-sdk/client-codedeploy';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ControlPlane } from '../../../control-plane/server.js';
import { startSteadyLoad, type TrafficCounts } from '../../../scripts/lib/demo-traffic.js';
import { startTrafficFleet, type TrafficFleet } from '../../../scripts/lib/traffic-fleet.js';
import { startTestControlPlane } from '../../helpers/control-plane.js';
import { suiteTempDir } from '../../helpers/temp.js';

const HOSTS = ['web-1', 'web-2', 'web-3'];
const RATE = 100;

describe('in-place deployments behind a local load balancer, under steady load', () => {
  let cp: ControlPlane;
  let fleet: TrafficFleet;
  let lbUrl: string;

  async function targets(deploymentId: string): Promise<Map<string, InstanceTarget>> {
    const out = await fleet.deploy.send(new BatchGetDeploymentTargetsCommand({ deploymentId, targetIds: HOSTS }));
    return new Map((out.deploymentTargets ?? []).map((t) => [t.instanceTarget!.targetId!, t.instanceTarget!]));
  }

  const eventTime = (t: InstanceTarget, name: string, which: 'startTime' | 'endTime'): number => {
    const e = t.lifecycleEvents?.find((x) => x.lifecycleEventName === name);
    return (e?.[which] as Date).getTime();
  };

  /** Each host served `from` only until its BlockTraffic ended and `to` only from its AllowTraffic on. */
  function expectCleanSwitch(counts: TrafficCounts, byHost: Map<string, InstanceTarget>, from: string, to: string, hosts: string[]): void {
    for (const host of hosts) {
      const t = byHost.get(host)!;
      const drained = eventTime(t, 'BlockTraffic', 'endTime');
      const allowed = eventTime(t, 'AllowTraffic', 'startTime');
      const mine = counts.answers.filter((a) => a.host === host);
      // Timestamps in the API are seconds with a fraction; allow for rounding.
      const late = mine.filter((a) => a.version === from && a.sentAt > drained + 50);
      const early = mine.filter((a) => a.version === to && a.at < allowed - 50);
      expect(late, `${host}: ${from} answers sent after it was drained`).toEqual([]);
      expect(early, `${host}: ${to} answers before AllowTraffic`).toEqual([]);
      expect(
        mine.some((a) => a.version === to),
        `${host} served ${to}`,
      ).toBe(true);
    }
  }

  beforeAll(async () => {
    cp = await startTestControlPlane({ minHealthCheckIntervalSeconds: 1, allowTrafficTimeoutSeconds: 60 });
    fleet = await startTrafficFleet({
      controlPlane: cp,
      root: await suiteTempDir('cda-traffic-'),
      hosts: HOSTS,
      group: 'web',
      traffic: true,
      healthCheck: { intervalSeconds: 2, timeoutSeconds: 1 },
      autoRollback: true,
    });
    lbUrl = fleet.lb!.url;
    const v1 = await fleet.deployAndWait(await fleet.upload('v1'));
    expect(v1.status, JSON.stringify(v1.errorInformation)).toBe('Succeeded');
  }, 180_000);

  afterAll(async () => {
    await fleet?.stop();
    await cp?.close();
  });

  it('v1 to v2 OneAtATime over 3 hosts: 0 failed requests; each host drained before it changed and back only with v2', async () => {
    const v2 = await fleet.upload('v2');
    const load = startSteadyLoad(lbUrl, RATE, { record: true });
    const started = Date.now();
    const info = await fleet.deployAndWait(v2);
    const seconds = (Date.now() - started) / 1000;
    await new Promise((r) => setTimeout(r, 500));
    const counts = await load.stop();
    expect(info.status, JSON.stringify(info.errorInformation)).toBe('Succeeded');
    expect(counts.failures).toEqual([]);
    expect(counts.failed).toBe(0);
    expect(counts.byVersion.get('v1') ?? 0).toBeGreaterThan(0);
    expect(counts.byVersion.get('v2') ?? 0).toBeGreaterThan(0);
    expectCleanSwitch(counts, await targets(info.deploymentId!), 'v1', 'v2', HOSTS);
    console.log(
      `in place v1 -> v2, OneAtATime, 3 hosts: ${seconds.toFixed(1)} s; ${counts.answers.length} requests (v1 ${counts.byVersion.get('v1')}, v2 ${counts.byVersion.get('v2')}), failed ${counts.failed}`,
    );
  }, 180_000);

  it('v3 fails ValidateService on web-1 and rolls back to v2: 0 failed requests; web-1 never served v3', async () => {
    const v3 = await fleet.upload('v3', { failValidateOn: 'web-1' });
    const load = startSteadyLoad(lbUrl, RATE, { record: true });
    const started = Date.now();
    const failed = await fleet.deployAndWait(v3);
    expect(failed.status).toBe('Failed');
    const rollbackId = failed.rollbackInfo?.rollbackDeploymentId;
    expect(rollbackId).toBeTruthy();
    const rollback = await fleet.waitForEnd(rollbackId!);
    const seconds = (Date.now() - started) / 1000;
    await new Promise((r) => setTimeout(r, 500));
    const counts = await load.stop();
    expect(rollback.status, JSON.stringify(rollback.errorInformation)).toBe('Succeeded');
    expect(counts.failures).toEqual([]);
    expect(counts.failed).toBe(0);
    expect(counts.byVersion.get('v3') ?? 0).toBe(0);
    const t = (await targets(failed.deploymentId!)).get('web-1')!;
    expect(t.lifecycleEvents?.find((e) => e.lifecycleEventName === 'ValidateService')?.status).toBe('Failed');
    expect(t.lifecycleEvents?.find((e) => e.lifecycleEventName === 'AllowTraffic')?.status).toBe('Skipped');
    // After the rollback every host serves v2 again.
    const after = counts.answers.filter((a) => a.sentAt > (rollback.completeTime as Date).getTime());
    expect(after.every((a) => a.version === 'v2')).toBe(true);
    console.log(
      `in place v3 (fails on web-1) + rollback to v2: ${seconds.toFixed(1)} s; ${counts.answers.length} requests (v2 ${counts.byVersion.get('v2') ?? 0}, v3 ${counts.byVersion.get('v3') ?? 0}), failed ${counts.failed}`,
    );
  }, 240_000);
});
