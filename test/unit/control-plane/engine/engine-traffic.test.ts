import { describe, expect, it } from 'vitest';
import { IN_PLACE_LIFECYCLE, type DeploymentInfo, type InstanceTarget } from '../../../../control-plane/model.js';
import { createHarness, s3Revision, type Harness } from '../fake-registry.js';
import { FakeTraffic } from '../fake-traffic.js';

function deploy(h: Harness): string {
  return h.engine.createDeployment({ applicationName: 'web', deploymentGroupName: 'prod', revision: s3Revision() }).deploymentId;
}
const info = (h: Harness, id: string): DeploymentInfo => h.engine.getDeployment(id) as DeploymentInfo;
const target = (h: Harness, id: string, host: string): InstanceTarget =>
  h.engine.listTargets(id).find((t) => t.targetId === host) as InstanceTarget;
const eventOf = (t: InstanceTarget, name: string) => t.lifecycleEvents.find((e) => e.lifecycleEventName === name);

describe('in-place deployments with traffic control (BlockTraffic, AllowTraffic)', () => {
  it('runs BlockTraffic and AllowTraffic on the control plane, host by host, and never sends them to an agent', async () => {
    const traffic = new FakeTraffic();
    const h = createHarness({ hosts: 3, config: 'CodeDeployDefault.OneAtATime', targetGroups: ['tg-web'], traffic });
    const id = deploy(h);
    expect(info(h, id)).toMatchObject({
      deploymentStyle: { deploymentType: 'IN_PLACE', deploymentOption: 'WITH_TRAFFIC_CONTROL' },
      loadBalancerInfo: { targetGroupInfoList: [{ name: 'tg-web' }] },
    });
    const ran = await h.drive();
    expect(ran.map((r) => `${r.host}:${r.command}`)).toEqual(h.hosts.flatMap((host) => IN_PLACE_LIFECYCLE.map((c) => `${host}:${c}`)));
    expect(info(h, id).status).toBe('Succeeded');
    expect(traffic.calls).toEqual(h.hosts.flatMap((host) => [`deregister tg-web ${host}`, `register tg-web ${host}`]));
    for (const t of h.engine.listTargets(id)) {
      expect(t.lifecycleEvents.map((e) => e.lifecycleEventName)).toEqual([
        'BeforeBlockTraffic',
        'BlockTraffic',
        'AfterBlockTraffic',
        'ApplicationStop',
        'DownloadBundle',
        'BeforeInstall',
        'Install',
        'AfterInstall',
        'ApplicationStart',
        'ValidateService',
        'BeforeAllowTraffic',
        'AllowTraffic',
        'AfterAllowTraffic',
      ]);
      expect(t.lifecycleEvents.every((e) => e.status === 'Succeeded')).toBe(true);
      expect(eventOf(t, 'AllowTraffic')).toMatchObject({ diagnostics: { errorCode: 'Success', message: 'AllowTraffic succeeded' } });
      expect(eventOf(t, 'BlockTraffic')?.startTime).toBeTypeOf('number');
      expect(eventOf(t, 'BlockTraffic')?.endTime).toBeTypeOf('number');
    }
    h.close();
  });

  it('waits in BlockTraffic while the host drains, and in AllowTraffic until it is healthy', async () => {
    const traffic = new FakeTraffic();
    const h = createHarness({ hosts: 1, targetGroups: ['tg-web'], traffic });
    traffic.state.set('tg-web/host-01', 'healthy');
    let draining = true;
    traffic.inFlight = () => draining;
    let healthy = false;
    traffic.healthy = () => healthy;
    const id = deploy(h);
    // BeforeBlockTraffic by the agent, then BlockTraffic waits.
    expect(await h.drive()).toEqual([{ host: 'host-01', command: 'BeforeBlockTraffic' }]);
    expect(eventOf(target(h, id, 'host-01'), 'BlockTraffic')?.status).toBe('InProgress');
    expect(await h.poll('host-01')).toBeUndefined();
    h.clock.now += 5_000;
    h.engine.tick();
    expect(eventOf(target(h, id, 'host-01'), 'BlockTraffic')?.status).toBe('InProgress');
    draining = false;
    h.engine.tick();
    expect(eventOf(target(h, id, 'host-01'), 'BlockTraffic')?.status).toBe('Succeeded');
    const ran = await h.drive();
    expect(ran.at(-1)?.command).toBe('BeforeAllowTraffic');
    expect(eventOf(target(h, id, 'host-01'), 'AllowTraffic')?.status).toBe('InProgress');
    h.clock.now += 10_000;
    h.engine.tick();
    expect(eventOf(target(h, id, 'host-01'), 'AllowTraffic')?.status).toBe('InProgress');
    healthy = true;
    h.engine.tick();
    expect(eventOf(target(h, id, 'host-01'), 'AllowTraffic')?.status).toBe('Succeeded');
    expect(await h.drive()).toEqual([{ host: 'host-01', command: 'AfterAllowTraffic' }]);
    expect(info(h, id).status).toBe('Succeeded');
    h.close();
  });

  it('fails the host after the AllowTraffic timeout, saying where it stands, and the deployment with it', async () => {
    const traffic = new FakeTraffic();
    traffic.healthy = () => false;
    const h = createHarness({ hosts: 1, targetGroups: ['tg-web'], traffic, allowTrafficTimeoutSeconds: 60 });
    const id = deploy(h);
    await h.drive();
    expect(eventOf(target(h, id, 'host-01'), 'AllowTraffic')?.status).toBe('InProgress');
    h.clock.now += 59_000;
    h.engine.tick();
    expect(eventOf(target(h, id, 'host-01'), 'AllowTraffic')?.status).toBe('InProgress');
    h.clock.now += 2_000;
    h.engine.tick();
    const t = target(h, id, 'host-01');
    expect(t.status).toBe('Failed');
    expect(eventOf(t, 'AllowTraffic')?.status).toBe('Failed');
    expect(eventOf(t, 'AllowTraffic')?.diagnostics?.message).toBe(
      'AllowTraffic: the instance host-01 did not become healthy within 60 seconds: target group tg-web: unhealthy (Target.ResponseCodeMismatch: Health checks failed with these codes: [500])',
    );
    expect(eventOf(t, 'AfterAllowTraffic')?.status).toBe('Skipped');
    expect(info(h, id)).toMatchObject({ status: 'Failed', errorInformation: { code: 'HEALTH_CONSTRAINTS' } });
    expect(await h.poll('host-01')).toBeUndefined();
    h.close();
  });

  it('fails AllowTraffic at once for a host without an address or a target group that is gone; BlockTraffic has nothing to drain then', async () => {
    const traffic = new FakeTraffic();
    traffic.noAddress.add('host-01');
    const h = createHarness({ hosts: 1, targetGroups: ['tg-web'], traffic });
    const id = deploy(h);
    await h.drive();
    const t = target(h, id, 'host-01');
    expect(eventOf(t, 'BlockTraffic')?.status).toBe('Succeeded');
    expect(eventOf(t, 'AllowTraffic')).toMatchObject({
      status: 'Failed',
      diagnostics: { message: 'AllowTraffic: target group tg-web: instance host-01 has no local:traffic-address tag' },
    });
    expect(info(h, id).status).toBe('Failed');
    h.close();

    const gone = new FakeTraffic();
    const h2 = createHarness({ hosts: 1, targetGroups: ['tg-web'], traffic: gone });
    gone.groups.clear();
    const id2 = deploy(h2);
    await h2.drive();
    const t2 = target(h2, id2, 'host-01');
    expect(eventOf(t2, 'BlockTraffic')).toMatchObject({
      status: 'Failed',
      diagnostics: { message: 'BlockTraffic: target group tg-web: no target group named tg-web' },
    });
    expect(t2.status).toBe('Failed');
    h2.close();
  });

  it('a stop while a host waits in AllowTraffic fails that event and the host', async () => {
    const traffic = new FakeTraffic();
    traffic.healthy = () => false;
    const h = createHarness({ hosts: 1, targetGroups: ['tg-web'], traffic });
    const id = deploy(h);
    await h.drive();
    expect(h.engine.stopDeployment(id)).toMatchObject({ status: 'Succeeded' });
    const t = target(h, id, 'host-01');
    expect(t.status).toBe('Failed');
    expect(eventOf(t, 'AllowTraffic')).toMatchObject({
      status: 'Failed',
      diagnostics: { message: 'AllowTraffic was cut short: the deployment was stopped' },
    });
    expect(eventOf(t, 'AfterAllowTraffic')?.status).toBe('Skipped');
    expect(info(h, id).status).toBe('Stopped');
    h.close();
  });

  it('a host that fails a hook stays out of the target group; the rollback puts it back', async () => {
    const traffic = new FakeTraffic();
    const h = createHarness({
      hosts: 2,
      config: 'CodeDeployDefault.OneAtATime',
      targetGroups: ['tg-web'],
      traffic,
      autoRollback: { enabled: true, events: ['DEPLOYMENT_FAILURE'] },
    });
    const first = deploy(h);
    await h.drive();
    expect(info(h, first).status).toBe('Succeeded');
    traffic.calls.length = 0;
    const second = deploy(h);
    let failOnce = true;
    await h.drive((host, command) => {
      if (host !== 'host-01' || command !== 'ValidateService' || !failOnce) return 'ok';
      failOnce = false;
      return 'fail';
    });
    const failed = info(h, second);
    expect(failed.status).toBe('Failed');
    const rollbackId = failed.rollbackInfo?.rollbackDeploymentId as string;
    expect(info(h, rollbackId).status).toBe('Succeeded');
    // second: host-01 out and never back; rollback: each host out, then in.
    expect(traffic.calls).toEqual([
      'deregister tg-web host-01',
      'deregister tg-web host-01',
      'register tg-web host-01',
      'deregister tg-web host-02',
      'register tg-web host-02',
    ]);
    expect(traffic.state.get('tg-web/host-01')).toBe('healthy');
    h.close();
  });

  it('without a load balancer port, a traffic deployment fails its hosts at BlockTraffic with why', async () => {
    const h = createHarness({ hosts: 1, targetGroups: ['tg-web'] });
    const id = deploy(h);
    await h.drive();
    expect(eventOf(target(h, id, 'host-01'), 'BlockTraffic')?.diagnostics?.message).toContain('runs no load balancers');
    expect(info(h, id).status).toBe('Failed');
    h.close();
  });
});
