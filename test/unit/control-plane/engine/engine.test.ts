import { describe, expect, it } from 'vitest';
import { decide, healthPlan } from '../../../../control-plane/engine/health-plan.js';
import { IN_PLACE_LIFECYCLE, type DeploymentInfo, type InstanceTarget } from '../../../../control-plane/model.js';
import { createHarness, hostName, s3Revision, type Harness } from '../fake-registry.js';

const HEALTH_CONSTRAINTS_MESSAGE =
  'The overall deployment failed because too many individual instances failed deployment, too few healthy instances are available for deployment, or some instances in your deployment group are experiencing problems.';

function deploy(h: Harness, extra: Partial<Parameters<Harness['engine']['createDeployment']>[0]> = {}): string {
  return h.engine.createDeployment({ applicationName: 'web', deploymentGroupName: 'prod', revision: s3Revision(), ...extra }).deploymentId;
}

const info = (h: Harness, id: string): DeploymentInfo => h.engine.getDeployment(id) as DeploymentInfo;
const target = (h: Harness, id: string, host: string): InstanceTarget =>
  h.engine.listTargets(id).find((t) => t.targetId === host) as InstanceTarget;
const eventStatuses = (t: InstanceTarget) => Object.fromEntries(t.lifecycleEvents.map((e) => [e.lifecycleEventName, e.status]));

describe('health plan', () => {
  it.each([
    ['OneAtATime, 3 hosts', 3, { type: 'MOST_CONCURRENCY', value: 1 }, 2, 1],
    ['HalfAtATime, 4 hosts', 4, { type: 'FLEET_PERCENT', value: 50 }, 2, 2],
    ['HalfAtATime, 3 hosts', 3, { type: 'FLEET_PERCENT', value: 50 }, 2, 1],
    ['AllAtOnce, 5 hosts', 5, { type: 'HOST_COUNT', value: 0 }, 0, 5],
    ['HOST_COUNT 6 of 9', 9, { type: 'HOST_COUNT', value: 6 }, 6, 3],
    ['FLEET_PERCENT 40 of 9', 9, { type: 'FLEET_PERCENT', value: 40 }, 4, 5],
    ['OneAtATime, 1 host', 1, { type: 'MOST_CONCURRENCY', value: 1 }, 0, 1],
  ] as const)('%s', (_name, n, mhh, m, w) => {
    expect(healthPlan(n, mhh)).toEqual({ targets: n, minimumHealthy: m, window: w });
  });

  it('refuses a minimum above the fleet size, naming both numbers', () => {
    const plan = healthPlan(3, { type: 'HOST_COUNT', value: 5 });
    expect(plan).toHaveProperty('invalid');
    expect((plan as { invalid: string }).invalid).toMatch(/at least 5 healthy instances.*only 3 instances/);
  });

  it('needs max(M, 1) successes and fails once the window is used up by failures', () => {
    const plan = { targets: 9, minimumHealthy: 4, window: 5 };
    expect(decide(plan, { pending: 0, inProgress: 0, succeeded: 4, failed: 5 })).toEqual({ kind: 'succeeded' });
    expect(decide(plan, { pending: 0, inProgress: 0, succeeded: 3, failed: 6 })).toEqual({ kind: 'failed' });
    expect(decide(plan, { pending: 4, inProgress: 0, succeeded: 0, failed: 5 })).toEqual({ kind: 'failed' });
    expect(decide(plan, { pending: 4, inProgress: 1, succeeded: 0, failed: 4 })).toEqual({ kind: 'continue', start: 0 });
    expect(decide(plan, { pending: 9, inProgress: 0, succeeded: 0, failed: 0 })).toEqual({ kind: 'continue', start: 5 });
    const all = { targets: 3, minimumHealthy: 0, window: 3 };
    expect(decide(all, { pending: 0, inProgress: 0, succeeded: 0, failed: 3 })).toEqual({ kind: 'failed' });
    expect(decide(all, { pending: 0, inProgress: 0, succeeded: 1, failed: 2 })).toEqual({ kind: 'succeeded' });
  });
});

describe('batching', () => {
  it('OneAtATime deploys host by host, in instance-name order, every command in lifecycle order', async () => {
    const h = createHarness({ hosts: 3, config: 'CodeDeployDefault.OneAtATime' });
    const id = deploy(h);
    expect(info(h, id).status).toBe('InProgress');
    expect(info(h, id).deploymentOverview).toMatchObject({ Pending: 2, InProgress: 1 });
    const ran = await h.drive();
    expect(ran.map((r) => `${r.host}:${r.command}`)).toEqual(h.hosts.flatMap((host) => IN_PLACE_LIFECYCLE.map((c) => `${host}:${c}`)));
    expect(h.maxConcurrent(id)).toBe(1);
    expect(h.startOrder(id)).toEqual(['host-01', 'host-02', 'host-03']);
    const done = info(h, id);
    expect(done.status).toBe('Succeeded');
    expect(done.deploymentOverview).toEqual({ Pending: 0, InProgress: 0, Succeeded: 3, Failed: 0, Skipped: 0, Ready: 0 });
    expect(done.completeTime).toBeGreaterThanOrEqual(done.startTime as number);
    for (const t of h.engine.listTargets(id)) {
      expect(t.status).toBe('Succeeded');
      expect(t.lifecycleEvents.map((e) => e.status)).toEqual(IN_PLACE_LIFECYCLE.map(() => 'Succeeded'));
      expect(t.lifecycleEvents[0]?.diagnostics).toEqual({ errorCode: 'Success', scriptName: '', message: 'Succeeded: ', logTail: '' });
    }
    const statuses = h.events.filter((e) => e.type === 'deployment-status' && e.deploymentId === id).map((e) => e.status);
    expect(statuses).toEqual(['Created', 'InProgress', 'Succeeded']);
    expect(h.registry.recorded.filter((r) => r.info.deploymentId === id).map((r) => r.info.status)).toEqual([
      'Created',
      'InProgress',
      'Succeeded',
    ]);
    expect(h.registry.getDeploymentGroup('web', 'prod')?.lastSuccessfulDeployment?.deploymentId).toBe(id);
  });

  it.each([
    ['CodeDeployDefault.HalfAtATime', 4, 2],
    ['CodeDeployDefault.HalfAtATime', 3, 1],
    ['CodeDeployDefault.AllAtOnce', 4, 4],
  ])('%s with %i hosts works on %i at a time', async (config, hosts, window) => {
    const h = createHarness({ hosts, config });
    const id = deploy(h);
    expect(info(h, id).deploymentOverview.InProgress).toBe(window);
    await h.drive();
    expect(h.maxConcurrent(id)).toBe(window);
    expect(h.startOrder(id)).toEqual(h.hosts);
    expect(info(h, id).status).toBe('Succeeded');
  });

  it('a custom HOST_COUNT 6 config on 9 hosts works on 3 at a time', async () => {
    const h = createHarness({ hosts: 9, config: 'six-healthy' });
    h.registry.addConfig('six-healthy', { type: 'HOST_COUNT', value: 6 });
    const id = deploy(h);
    await h.drive();
    expect(h.maxConcurrent(id)).toBe(3);
    expect(info(h, id).status).toBe('Succeeded');
  });

  it('a custom FLEET_PERCENT 40 config on 9 hosts works on 5 at a time and needs 4 successes', async () => {
    const h = createHarness({ hosts: 9, config: 'forty' });
    h.registry.addConfig('forty', { type: 'FLEET_PERCENT', value: 40 });
    const first = deploy(h);
    const failing = new Set(['host-01', 'host-02', 'host-03', 'host-04']);
    await h.drive((host, command) => (failing.has(host) && command === 'BeforeInstall' ? 'fail' : 'ok'));
    expect(h.maxConcurrent(first)).toBe(5);
    expect(info(h, first)).toMatchObject({ status: 'Succeeded', deploymentOverview: { Succeeded: 5, Failed: 4 } });

    const second = deploy(h, { revision: s3Revision('v2.zip') });
    failing.add('host-05');
    await h.drive((host, command) => (failing.has(host) && command === 'BeforeInstall' ? 'fail' : 'ok'));
    const failed = info(h, second);
    expect(failed).toMatchObject({
      status: 'Failed',
      errorInformation: { code: 'HEALTH_CONSTRAINTS', message: HEALTH_CONSTRAINTS_MESSAGE },
    });
    expect(failed.deploymentOverview).toMatchObject({ Failed: 5, Skipped: 4, Succeeded: 0 });
  });
});

describe('failures', () => {
  it('OneAtATime: the first host failing fails the deployment; the rest are skipped', async () => {
    const h = createHarness({ hosts: 3 });
    const id = deploy(h);
    await h.drive((host, command) => (host === 'host-01' && command === 'BeforeInstall' ? 'fail' : 'ok'));
    const d = info(h, id);
    expect(d.status).toBe('Failed');
    expect(d.errorInformation).toEqual({ code: 'HEALTH_CONSTRAINTS', message: HEALTH_CONSTRAINTS_MESSAGE });
    expect(d.deploymentOverview).toMatchObject({ Failed: 1, Skipped: 2, Succeeded: 0, Pending: 0, InProgress: 0 });
    const first = target(h, id, 'host-01');
    expect(first.status).toBe('Failed');
    expect(eventStatuses(first)).toMatchObject({
      DownloadBundle: 'Succeeded',
      BeforeInstall: 'Failed',
      Install: 'Skipped',
      AfterAllowTraffic: 'Skipped',
    });
    const failedEvent = first.lifecycleEvents.find((e) => e.lifecycleEventName === 'BeforeInstall');
    expect(failedEvent?.diagnostics).toEqual({
      errorCode: 'ScriptFailed',
      scriptName: 'scripts/fail.sh',
      message: 'Script at specified location: scripts/fail.sh run as user root failed with exit code 1',
      logTail: 'boom\n',
    });
    expect(failedEvent?.endTime).toBeDefined();
    for (const host of ['host-02', 'host-03']) {
      const t = target(h, id, host);
      expect(t.status).toBe('Skipped');
      expect(t.lifecycleEvents.every((e) => e.status === 'Skipped')).toBe(true);
    }
    const lifecycle = h.events.find((e) => e.type === 'lifecycle-event' && e.status === 'Failed');
    expect(lifecycle).toMatchObject({
      instanceName: 'host-01',
      lifecycleEventName: 'BeforeInstall',
      message: expect.stringContaining('exit code 1'),
    });
  });

  it('OneAtATime: the last host failing still succeeds', async () => {
    const h = createHarness({ hosts: 3 });
    const id = deploy(h);
    await h.drive((host, command) => (host === 'host-03' && command === 'ValidateService' ? 'fail' : 'ok'));
    expect(info(h, id)).toMatchObject({ status: 'Succeeded', deploymentOverview: { Succeeded: 2, Failed: 1 } });
  });

  it('AllAtOnce succeeds with one healthy host and fails with none', async () => {
    const h = createHarness({ hosts: 3, config: 'CodeDeployDefault.AllAtOnce' });
    const one = deploy(h);
    await h.drive((host) => (host === 'host-02' ? 'ok' : 'fail'));
    expect(info(h, one)).toMatchObject({ status: 'Succeeded', deploymentOverview: { Succeeded: 1, Failed: 2 } });
    const none = deploy(h);
    await h.drive(() => 'fail');
    expect(info(h, none)).toMatchObject({ status: 'Failed', errorInformation: { code: 'HEALTH_CONSTRAINTS' } });
  });

  it('ignoreApplicationStopFailures keeps a host going after ApplicationStop fails; without it the host fails', async () => {
    const h = createHarness({ hosts: 1 });
    const ignoring = deploy(h, { ignoreApplicationStopFailures: true });
    await h.drive((_host, command) => (command === 'ApplicationStop' ? 'fail' : 'ok'));
    const t = target(h, ignoring, 'host-01');
    expect(t.status).toBe('Succeeded');
    expect(eventStatuses(t)).toMatchObject({ ApplicationStop: 'Failed', DownloadBundle: 'Succeeded', AfterAllowTraffic: 'Succeeded' });
    expect(t.lifecycleEvents.find((e) => e.lifecycleEventName === 'ApplicationStop')?.diagnostics?.errorCode).toBe('ScriptFailed');
    expect(info(h, ignoring).status).toBe('Succeeded');

    const strict = deploy(h);
    await h.drive((_host, command) => (command === 'ApplicationStop' ? 'fail' : 'ok'));
    expect(eventStatuses(target(h, strict, 'host-01'))).toMatchObject({ ApplicationStop: 'Failed', DownloadBundle: 'Skipped' });
    expect(info(h, strict).status).toBe('Failed');
  });

  it.each([
    [{ error_code: 1, script_name: 's.sh', message: 'm', log: '' }, 'ScriptMissing', 'm'],
    [{ error_code: 2, script_name: 's.sh', message: 'm', log: '' }, 'ScriptNotExecutable', 'm'],
    [
      { error_code: 3, script_name: 's.sh', message: 'Script at specified location: s.sh failed to complete in 5 seconds', log: 'x' },
      'ScriptTimedOut',
      'Script at specified location: s.sh failed to complete in 5 seconds',
    ],
    [{ error_code: 5, script_name: '', message: 'boom', log: '' }, 'UnknownError', 'boom'],
    [{ error_code: 7, script_name: '', message: 'restart', log: '' }, 'UnknownError', 'restart'],
    ['not json at all', 'UnknownError', 'not json at all'],
  ])('maps completion payload %j to %s', async (payload, errorCode, message) => {
    const h = createHarness({ hosts: 1 });
    const id = deploy(h);
    const cmd = await h.poll('host-01');
    if (!cmd) throw new Error('no command');
    await h.ack(cmd);
    await h.complete(cmd, false, payload);
    const e = target(h, id, 'host-01').lifecycleEvents[0];
    expect(e?.status).toBe('Failed');
    expect(e?.diagnostics).toMatchObject({ errorCode, message });
  });

  it('fails at once with NO_INSTANCES when no instance matches the group', () => {
    const h = createHarness({ hosts: 2 });
    h.registry.addGroup('web', 'empty', { filters: [{ Key: 'env', Value: 'nowhere', Type: 'KEY_AND_VALUE' }] });
    const id = h.engine.createDeployment({ applicationName: 'web', deploymentGroupName: 'empty', revision: s3Revision() }).deploymentId;
    expect(info(h, id)).toMatchObject({
      status: 'Failed',
      errorInformation: {
        code: 'NO_INSTANCES',
        message:
          'The deployment failed because no instances were found for your deployment group. Check your deployment group settings to make sure the tags for your Amazon EC2 instances or Auto Scaling groups correctly identify the instances you want to deploy to, and then try again.',
      },
    });
  });

  it('fails with HEALTH_CONSTRAINTS_INVALID when the config asks for more healthy hosts than there are', () => {
    const h = createHarness({ hosts: 3, config: 'five' });
    h.registry.addConfig('five', { type: 'HOST_COUNT', value: 5 });
    const id = deploy(h);
    const d = info(h, id);
    expect(d.status).toBe('Failed');
    expect(d.errorInformation?.code).toBe('HEALTH_CONSTRAINTS_INVALID');
    expect(d.errorInformation?.message).toContain('5');
    expect(d.deploymentOverview.Skipped).toBe(3);
  });
});

describe('timeouts', () => {
  it('fails a command not completed within commandTimeoutSeconds; a late completion changes nothing', async () => {
    const h = createHarness({ hosts: 2, commandTimeoutSeconds: 2 });
    const id = deploy(h);
    const cmd = await h.poll('host-01');
    if (!cmd) throw new Error('no command');
    expect(await h.ack(cmd)).toBe('InProgress');
    h.clock.now += 1999;
    h.engine.tick();
    expect(info(h, id).status).toBe('InProgress');
    h.clock.now += 2;
    h.engine.tick();
    const t = target(h, id, 'host-01');
    expect(t.status).toBe('Failed');
    expect(t.lifecycleEvents[0]).toMatchObject({
      status: 'Failed',
      diagnostics: {
        errorCode: 'UnknownError',
        message: 'The command timed out after 2 seconds without a completion from the agent (host host-01)',
      },
    });
    expect(info(h, id)).toMatchObject({ status: 'Failed', errorInformation: { code: 'HEALTH_CONSTRAINTS' } });
    expect(await h.update(cmd)).toBe('Failed');
    await h.complete(cmd, true);
    expect(target(h, id, 'host-01').lifecycleEvents[0]?.status).toBe('Failed');
  });

  it('hands a command out again, same identifier, when it was never acknowledged and the host polls 10 s later', async () => {
    const h = createHarness({ hosts: 1 });
    const id = deploy(h);
    const first = await h.poll('host-01');
    if (!first) throw new Error('no command');
    h.clock.now += 9_000;
    expect(await h.poll('host-01')).toBeUndefined();
    h.clock.now += 1_001;
    const again = await h.poll('host-01');
    expect(again?.HostCommandIdentifier).toBe(first.HostCommandIdentifier);
    expect(await h.ack(first)).toBe('InProgress');
    h.clock.now += 60_000;
    expect(await h.poll('host-01')).toBeUndefined();
    await h.complete(first, true);
    expect(target(h, id, 'host-01').lifecycleEvents[0]?.status).toBe('Succeeded');
  });

  it('a Pending command that no agent polls times out too', () => {
    const h = createHarness({ hosts: 1, commandTimeoutSeconds: 2 });
    const id = deploy(h);
    h.clock.now += 2000;
    h.engine.tick();
    expect(info(h, id).status).toBe('Failed');
    expect(target(h, id, 'host-01').lifecycleEvents[0]?.diagnostics?.message).toContain('timed out after 2 seconds');
  });
});

describe('StopDeployment', () => {
  it('cancels pending commands, answers Failed to acks and updates of running ones, and accepts their completions', async () => {
    const h = createHarness({ hosts: 3, config: 'CodeDeployDefault.AllAtOnce' });
    const id = deploy(h);
    const running = await h.poll('host-01');
    const handedOut = await h.poll('host-02');
    if (!running || !handedOut) throw new Error('no command');
    expect(await h.ack(running)).toBe('InProgress');
    expect(await h.update(running)).toBe('InProgress');

    expect(h.engine.stopDeployment(id)).toEqual({
      status: 'Pending',
      statusMessage: 'Stopping Pending. Stopping to schedule commands in the deployment instances',
    });
    const d = info(h, id);
    expect(d).toMatchObject({
      status: 'Stopped',
      errorInformation: { code: 'MANUAL_STOP', message: 'The deployment was stopped by the user.' },
    });
    expect(await h.update(running)).toBe('Failed');
    expect(await h.ack(handedOut)).toBe('Failed');
    expect(await h.poll('host-03')).toBeUndefined();
    const third = target(h, id, 'host-03');
    expect(third.status).toBe('Failed');
    expect(third.lifecycleEvents.every((e) => e.status === 'Skipped')).toBe(true);

    await h.complete(running, false, { error_code: 4, script_name: 'stop.sh', message: 'killed', log: '' });
    await h.complete(handedOut, true, { error_code: 0, script_name: '', message: 'Succeeded: CompletedNoopCommand', log: '' });
    for (const host of ['host-01', 'host-02']) {
      const t = target(h, id, host);
      expect(t.status).toBe('Failed');
      expect(t.lifecycleEvents.slice(1).every((e) => e.status === 'Skipped')).toBe(true);
    }
    expect(target(h, id, 'host-01').lifecycleEvents[0]?.diagnostics?.message).toBe('killed');
    expect(await h.drive()).toEqual([]);
    expect(info(h, id).deploymentOverview).toMatchObject({ Failed: 3, InProgress: 0 });
    expect(() => h.engine.stopDeployment(id)).toThrow(
      expect.objectContaining({ code: 'DeploymentAlreadyCompletedException', message: `The deployment ${id} has already completed.` }),
    );
    expect(() => h.engine.stopDeployment('d-NOSUCH000')).toThrow(expect.objectContaining({ code: 'DeploymentDoesNotExistException' }));
  });

  it('answers Succeeded when nothing was running; hosts not started are Skipped; the group can deploy again', async () => {
    const h = createHarness({ hosts: 3 });
    const id = deploy(h);
    expect(h.engine.stopDeployment(id).status).toBe('Succeeded');
    expect(info(h, id).deploymentOverview).toMatchObject({ Failed: 1, Skipped: 2 });
    const next = deploy(h);
    await h.drive();
    expect(info(h, next).status).toBe('Succeeded');
  });
});

describe('automatic rollback', () => {
  const rollback = { enabled: true, events: ['DEPLOYMENT_FAILURE' as const] };

  it('redeploys the last successful revision as codeDeployRollback when a deployment fails', async () => {
    const h = createHarness({ hosts: 2, autoRollback: rollback });
    const good = deploy(h, { revision: s3Revision('v1.zip') });
    await h.drive();
    expect(info(h, good).status).toBe('Succeeded');

    const bad = deploy(h, { revision: s3Revision('v2.zip') });
    expect(info(h, bad).previousRevision?.s3Location?.key).toBe('v1.zip');
    let failures = 0;
    // Fails once: the same drive goes on to play the rollback, which must succeed.
    const ran = await h.drive((host, command) => (host === 'host-01' && command === 'AfterInstall' && failures++ === 0 ? 'fail' : 'ok'));
    expect(ran.filter((r) => r.host === 'host-01' && r.command === 'AfterInstall')).toHaveLength(2);
    const failed = info(h, bad);
    expect(failed.status).toBe('Failed');
    const rollbackId = failed.rollbackInfo?.rollbackDeploymentId as string;
    expect(rollbackId).toMatch(/^d-[A-Z0-9]{9}$/);
    const rb = info(h, rollbackId);
    expect(rb).toMatchObject({
      creator: 'codeDeployRollback',
      revision: { s3Location: { key: 'v1.zip' } },
      rollbackInfo: { rollbackTriggeringDeploymentId: bad },
      deploymentConfigName: 'CodeDeployDefault.OneAtATime',
    });
    expect(h.events).toContainEqual({ type: 'deployment-status', deploymentId: rollbackId, status: 'Created' });
    expect(info(h, rollbackId).status).toBe('Succeeded');
  });

  it('says why when there is no previous successful deployment', async () => {
    const h = createHarness({ hosts: 1, autoRollback: rollback });
    const id = deploy(h);
    await h.drive(() => 'fail');
    expect(info(h, id).rollbackInfo).toEqual({
      rollbackMessage: 'Automatic rollback not performed because no previous successful deployment was found.',
    });
  });

  it('a stop rolls back only when asked to', async () => {
    const h = createHarness({ hosts: 1, autoRollback: rollback });
    const good = deploy(h);
    await h.drive();
    const plain = deploy(h, { revision: s3Revision('v2.zip') });
    h.engine.stopDeployment(plain);
    expect(info(h, plain).rollbackInfo).toBeUndefined();
    const asked = deploy(h, { revision: s3Revision('v3.zip') });
    h.engine.stopDeployment(asked, true);
    const rollbackId = info(h, asked).rollbackInfo?.rollbackDeploymentId as string;
    expect(info(h, rollbackId)).toMatchObject({ creator: 'codeDeployRollback', revision: info(h, good).revision });
  });

  it('a failed rollback does not roll back again', async () => {
    const h = createHarness({ hosts: 1, autoRollback: rollback });
    deploy(h);
    await h.drive();
    const bad = deploy(h, { revision: s3Revision('v2.zip') });
    await h.drive(() => 'fail');
    const rollbackId = info(h, bad).rollbackInfo?.rollbackDeploymentId as string;
    expect(info(h, rollbackId).status).toBe('Failed');
    expect(info(h, rollbackId).rollbackInfo).toEqual({ rollbackTriggeringDeploymentId: bad });
  });
});

describe('events', () => {
  it('publishes nothing for a refused change, and a failing listener does not break the engine', async () => {
    const h = createHarness({ hosts: 1 });
    h.engine.on(() => {
      throw new Error('listener bug');
    });
    const id = deploy(h);
    const before = h.events.length;
    expect(() => deploy(h)).toThrow(expect.objectContaining({ code: 'DeploymentLimitExceededException' }));
    expect(h.events.length).toBe(before);
    await h.drive();
    expect(info(h, id).status).toBe('Succeeded');
    expect(h.events.filter((e) => e.type === 'lifecycle-event' && e.instanceName === hostName(1)).length).toBe(
      IN_PLACE_LIFECYCLE.length * 2,
    );
  });
});

describe('in-place lifecycle', () => {
  it('is the service order, written out independently of the agent', () => {
    expect(IN_PLACE_LIFECYCLE).toEqual([
      'BeforeBlockTraffic',
      'AfterBlockTraffic',
      'ApplicationStop',
      'DownloadBundle',
      'BeforeInstall',
      'Install',
      'AfterInstall',
      'ApplicationStart',
      'ValidateService',
      'BeforeAllowTraffic',
      'AfterAllowTraffic',
    ]);
  });
});
