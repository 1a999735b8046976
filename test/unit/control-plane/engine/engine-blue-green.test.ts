import { describe, expect, it } from 'vitest';
import { ApiError } from '../../../../control-plane/api/api-error.js';
import { type BlueGreenDeploymentConfiguration, type DeploymentInfo, type InstanceTarget } from '../../../../control-plane/model.js';
import { createHarness, FakeRegistry, s3Revision, type Harness } from '../fake-registry.js';
import { FakeTraffic } from '../fake-traffic.js';

const GREEN = [{ Key: 'color', Value: 'green', Type: 'KEY_AND_VALUE' as const }];

function config(
  o: Partial<{
    ready: 'CONTINUE_DEPLOYMENT' | 'STOP_DEPLOYMENT';
    readyWait: number;
    action: 'TERMINATE' | 'KEEP_ALIVE';
    terminationWait: number;
  }> = {},
): BlueGreenDeploymentConfiguration {
  return {
    terminateBlueInstancesOnDeploymentSuccess: { action: o.action ?? 'TERMINATE', terminationWaitTimeInMinutes: o.terminationWait ?? 0 },
    deploymentReadyOption: { actionOnTimeout: o.ready ?? 'CONTINUE_DEPLOYMENT', waitTimeInMinutes: o.readyWait ?? 0 },
    greenFleetProvisioningOption: { action: 'DISCOVER_EXISTING' },
  };
}

function setup(bg: BlueGreenDeploymentConfiguration, opts: { autoRollback?: boolean; allowTrafficTimeoutSeconds?: number } = {}) {
  const registry = new FakeRegistry();
  registry.addApplication('web');
  const group = registry.addGroup('web', 'prod', {
    filters: [{ Key: 'color', Value: 'blue', Type: 'KEY_AND_VALUE' }],
    targetGroups: ['tg-web'],
    blueGreen: bg,
    ...(opts.autoRollback ? { autoRollback: { enabled: true, events: ['DEPLOYMENT_FAILURE'] } } : {}),
  });
  for (const name of ['blue-1', 'blue-2']) registry.addInstance(name, [{ Key: 'color', Value: 'blue' }]);
  for (const name of ['green-1', 'green-2']) registry.addInstance(name, [{ Key: 'color', Value: 'green' }]);
  const traffic = new FakeTraffic();
  // The blue fleet serves traffic before the deployment.
  traffic.state.set('tg-web/blue-1', 'healthy');
  traffic.state.set('tg-web/blue-2', 'healthy');
  const h = createHarness({ registry, traffic, allowTrafficTimeoutSeconds: opts.allowTrafficTimeoutSeconds });
  return { h, traffic, registry, group };
}

const deploy = (h: Harness, targetInstances: unknown = { tagFilters: GREEN }): string =>
  h.engine.createDeployment({
    applicationName: 'web',
    deploymentGroupName: 'prod',
    revision: s3Revision(),
    targetInstances: targetInstances as { tagFilters: typeof GREEN },
  }).deploymentId;
const info = (h: Harness, id: string): DeploymentInfo => h.engine.getDeployment(id) as DeploymentInfo;
const target = (h: Harness, id: string, host: string): InstanceTarget =>
  h.engine.listTargets(id).find((t) => t.targetId === host) as InstanceTarget;
const statusOf = (t: InstanceTarget, name: string) => t.lifecycleEvents.find((e) => e.lifecycleEventName === name)?.status;

describe('blue/green deployments to existing instances', () => {
  it('installs the greens, moves traffic to them, then away from the blues, and makes the greens the group', async () => {
    const { h, traffic, registry, group } = setup(config());
    const id = deploy(h);
    const ran = await h.drive();
    const d = info(h, id);
    expect(d.status, JSON.stringify(d.errorInformation)).toBe('Succeeded');
    expect(d).toMatchObject({
      deploymentStyle: { deploymentType: 'BLUE_GREEN', deploymentOption: 'WITH_TRAFFIC_CONTROL' },
      targetInstances: { tagFilters: GREEN },
      blueGreenDeploymentConfiguration: { terminateBlueInstancesOnDeploymentSuccess: { action: 'TERMINATE' } },
      instanceTerminationWaitTimeStarted: true,
      deploymentOverview: { Succeeded: 4 },
    });
    expect(d).not.toHaveProperty('blueGreenPhase');
    for (const host of ['green-1', 'green-2']) {
      const t = target(h, host === 'green-1' ? id : id, host);
      expect(t.instanceLabel).toBe('Green');
      expect(t.lifecycleEvents.map((e) => e.lifecycleEventName)).toEqual([
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
    }
    for (const host of ['blue-1', 'blue-2']) {
      const t = target(h, id, host);
      expect(t.instanceLabel).toBe('Blue');
      expect(t.lifecycleEvents.map((e) => e.lifecycleEventName)).toEqual(['BeforeBlockTraffic', 'BlockTraffic', 'AfterBlockTraffic']);
      expect(t.status).toBe('Succeeded');
    }
    // Order: every green validated before any green gets traffic; every green serving before any blue is blocked.
    const at = (host: string, command: string) => ran.findIndex((r) => r.host === host && r.command === command);
    expect(Math.max(at('green-1', 'ValidateService'), at('green-2', 'ValidateService'))).toBeLessThan(
      Math.min(at('green-1', 'BeforeAllowTraffic'), at('green-2', 'BeforeAllowTraffic')),
    );
    expect(Math.max(at('green-1', 'AfterAllowTraffic'), at('green-2', 'AfterAllowTraffic'))).toBeLessThan(
      Math.min(at('blue-1', 'BeforeBlockTraffic'), at('blue-2', 'BeforeBlockTraffic')),
    );
    expect(ran.filter((r) => r.host.startsWith('blue')).map((r) => r.command)).toEqual([
      'BeforeBlockTraffic',
      'BeforeBlockTraffic',
      'AfterBlockTraffic',
      'AfterBlockTraffic',
    ]);
    expect(traffic.calls).toEqual([
      'register tg-web green-1',
      'register tg-web green-2',
      'deregister tg-web blue-1',
      'deregister tg-web blue-2',
    ]);
    expect(registry.getDeploymentGroupById(group.deploymentGroupId)?.onPremisesInstanceTagFilters).toEqual(GREEN);
    expect(registry.getInstance('blue-1')?.deregisterTime).toBeDefined();
    expect(registry.getInstance('green-1')?.deregisterTime).toBeUndefined();
    h.close();
  });

  it('STOP_DEPLOYMENT: waits Ready with the greens installed until ContinueDeployment, or stops after the wait', async () => {
    const { h, traffic } = setup(config({ ready: 'STOP_DEPLOYMENT', readyWait: 5 }));
    const id = deploy(h);
    await h.drive();
    expect(info(h, id).status).toBe('Ready');
    expect(traffic.calls).toEqual([]);
    expect(statusOf(target(h, id, 'green-1'), 'ValidateService')).toBe('Succeeded');
    expect(statusOf(target(h, id, 'green-1'), 'BeforeAllowTraffic')).toBe('Pending');
    expect(() => h.engine.continueDeployment(id, 'TERMINATION_WAIT')).toThrow(ApiError);
    h.clock.now += 4 * 60_000;
    h.engine.tick();
    expect(info(h, id).status).toBe('Ready');
    h.engine.continueDeployment(id, 'READY_WAIT');
    expect(info(h, id).status).toBe('InProgress');
    await h.drive();
    expect(info(h, id).status).toBe('Succeeded');
    h.close();

    const late = setup(config({ ready: 'STOP_DEPLOYMENT', readyWait: 5 }));
    const id2 = deploy(late.h);
    await late.h.drive();
    late.h.clock.now += 5 * 60_000;
    late.h.engine.tick();
    expect(info(late.h, id2)).toMatchObject({ status: 'Stopped', errorInformation: { code: 'TIMEOUT' } });
    expect(target(late.h, id2, 'green-1').status).toBe('Skipped');
    expect(statusOf(target(late.h, id2, 'green-1'), 'AllowTraffic')).toBe('Skipped');
    expect(target(late.h, id2, 'blue-1').status).toBe('Skipped');
    expect(late.traffic.calls).toEqual([]);
    late.h.close();
  });

  it('KEEP_ALIVE with a termination wait: InProgress until the wait ends or is skipped; blue instances stay registered', async () => {
    const { h, registry } = setup(config({ action: 'KEEP_ALIVE', terminationWait: 10 }));
    const id = deploy(h);
    await h.drive();
    expect(info(h, id)).toMatchObject({ status: 'InProgress', instanceTerminationWaitTimeStarted: true });
    expect(() => h.engine.continueDeployment(id, 'READY_WAIT')).toThrow(/not in the Ready state/);
    h.engine.continueDeployment(id, 'TERMINATION_WAIT');
    expect(info(h, id).status).toBe('Succeeded');
    expect(registry.getInstance('blue-1')?.deregisterTime).toBeUndefined();
    h.close();
  });

  it('a green failing AllowTraffic fails the deployment; the rollback moves traffic back to the blues, no second deployment', async () => {
    const { h, traffic } = setup(config(), { autoRollback: true, allowTrafficTimeoutSeconds: 60 });
    traffic.healthy = (host) => host !== 'green-2';
    const id = deploy(h);
    await h.drive();
    h.clock.now += 61_000;
    h.engine.tick();
    const d = info(h, id);
    expect(d.status).toBe('Failed');
    expect(d.rollbackInfo?.rollbackDeploymentId).toBeUndefined();
    expect(d.rollbackInfo?.rollbackMessage).toMatch(/^Traffic was moved back to the original instances \(blue-1, blue-2\)/);
    expect(target(h, id, 'blue-1').status).toBe('Skipped');
    expect(traffic.calls.slice(-4)).toEqual([
      'register tg-web blue-1',
      'register tg-web blue-2',
      'deregister tg-web green-1',
      'deregister tg-web green-2',
    ]);
    expect(traffic.calls.filter((c) => c.startsWith('deregister tg-web blue'))).toEqual([]);
    h.close();
  });

  it('refuses a blue/green deployment without a green fleet, with one that overlaps the group, or one that matches nothing', () => {
    const { h, registry } = setup(config());
    expect(() => deploy(h, null)).toThrow(/is BLUE_GREEN: pass targetInstances.tagFilters/);
    expect(() => deploy(h, { tagFilters: [{ Key: 'color', Value: 'purple', Type: 'KEY_AND_VALUE' }] })).toThrow(
      /No registered on-premises instance matches/,
    );
    registry.addInstance('both', [
      { Key: 'color', Value: 'blue' },
      { Key: 'tier', Value: 'x' },
    ]);
    expect(() => deploy(h, { tagFilters: [{ Key: 'tier', Value: 'x', Type: 'KEY_AND_VALUE' }] })).toThrow(
      /both matches both targetInstances/,
    );
    expect(() => deploy(h, { autoScalingGroups: ['asg'] })).toThrow(/autoScalingGroups and ec2TagSet are not supported/);
    h.close();
    const inPlace = createHarness({ hosts: 1 });
    expect(() =>
      inPlace.engine.createDeployment({
        applicationName: 'web',
        deploymentGroupName: 'prod',
        revision: s3Revision(),
        targetInstances: { tagFilters: GREEN },
      }),
    ).toThrow(/only for blue\/green deployment groups/);
    inPlace.close();
  });
});
