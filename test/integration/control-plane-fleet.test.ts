/**
 * Three (and, for HalfAtATime's 2-at-a-time case, four) real agents against the local control
 * plane. Every hook appends "<host> <event> start|end <ms> <deployment>" to one shared proof
 * file, so the order of hosts' hooks, written by the hosts themselves, proves the batching.
 */
import { access, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  AddTagsToOnPremisesInstancesCommand,
  BatchGetDeploymentTargetsCommand,
  CreateDeploymentCommand,
  GetDeploymentCommand,
  RegisterOnPremisesInstanceCommand,
  StopDeploymentCommand,
  waitUntilDeploymentSuccessful,
  type DeploymentInfo,
} from '@aws-sdk/client-codedeploy';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ControlPlane } from '../../control-plane/server.js';
import { createFleetAgent, type FleetAgent } from '../../scripts/lib/local-fleet.js';
import {
  clients,
  createAppAndGroup,
  hostWindows,
  readProof,
  s3Revision,
  startFleet,
  startTestControlPlane,
  uploadFleetApp,
  type TestFleet,
} from '../helpers/control-plane.js';
import { suiteTempDir } from '../helpers/temp.js';
import { waitFor } from '../helpers/wait-for.js';

const TERMINAL = ['Succeeded', 'Failed', 'Stopped'];

describe('deployment configs, failure, rollback and stop with three real agents', () => {
  let cp: ControlPlane;
  let fleet: TestFleet;
  let sdk: ReturnType<typeof clients>;
  let holdFile: string;
  const extraAgents: FleetAgent[] = [];

  beforeAll(async () => {
    cp = await startTestControlPlane({ commandTimeoutSeconds: 60 });
    sdk = clients(cp);
    holdFile = join(await suiteTempDir('cda-hold-'), 'hold');
    fleet = await startFleet(cp, sdk.deploy, 3, { tag: 'trio', env: { HOOK_SLEEP_SECONDS: '0.5', HOLD_FILE: holdFile } });
  }, 120_000);

  afterAll(async () => {
    await Promise.all(extraAgents.map((a) => a.stop()));
    await fleet?.stop();
    await cp?.close();
  });

  async function deployAndWait(
    group: string,
    revision: Awaited<ReturnType<typeof uploadFleetApp>>,
    application = 'FleetApp',
  ): Promise<DeploymentInfo> {
    const { deploymentId } = await sdk.deploy.send(
      new CreateDeploymentCommand({ applicationName: application, deploymentGroupName: group, revision: s3Revision(revision) }),
    );
    return waitForEnd(deploymentId!);
  }

  async function waitForEnd(deploymentId: string, timeoutMs = 120_000): Promise<DeploymentInfo> {
    let status: string | undefined;
    return waitFor(
      `deployment ${deploymentId} to end`,
      async () => {
        const info = (await sdk.deploy.send(new GetDeploymentCommand({ deploymentId }))).deploymentInfo!;
        status = info.status;
        return TERMINAL.includes(info.status ?? '') && info;
      },
      { timeoutMs, intervalMs: 200, details: () => `still ${status}` },
    );
  }

  async function windows(deploymentId: string) {
    return hostWindows(await readProof(fleet.proofFile), deploymentId);
  }

  it('OneAtATime: each host starts only after the previous one finished, in name order', async () => {
    await createAppAndGroup(sdk.deploy, { group: 'one', config: 'CodeDeployDefault.OneAtATime', tag: 'trio' });
    const info = await deployAndWait('one', await uploadFleetApp(sdk.s3, { version: 'one' }));
    expect(info.status).toBe('Succeeded');
    const w = await windows(info.deploymentId!);
    expect([...w.keys()].sort()).toEqual(['host-1', 'host-2', 'host-3']);
    expect(w.get('host-2')!.first).toBeGreaterThanOrEqual(w.get('host-1')!.last);
    expect(w.get('host-3')!.first).toBeGreaterThanOrEqual(w.get('host-2')!.last);
  });

  it('AllAtOnce: all three hosts run at the same time', async () => {
    await createAppAndGroup(sdk.deploy, { group: 'all', config: 'CodeDeployDefault.AllAtOnce', tag: 'trio' });
    const info = await deployAndWait('all', await uploadFleetApp(sdk.s3, { version: 'all' }));
    expect(info.status).toBe('Succeeded');
    const w = await windows(info.deploymentId!);
    const hosts = ['host-1', 'host-2', 'host-3'];
    for (const a of hosts) for (const b of hosts) if (a !== b) expect(w.get(a)!.first).toBeLessThan(w.get(b)!.last);
  });

  it('HalfAtATime: three hosts go one at a time (at least 2 must stay healthy); four go two at a time', async () => {
    await createAppAndGroup(sdk.deploy, { group: 'half3', config: 'CodeDeployDefault.HalfAtATime', tag: 'trio' });
    const three = await deployAndWait('half3', await uploadFleetApp(sdk.s3, { version: 'half3' }));
    expect(three.status).toBe('Succeeded');
    const w3 = await windows(three.deploymentId!);
    expect(w3.get('host-2')!.first).toBeGreaterThanOrEqual(w3.get('host-1')!.last);
    expect(w3.get('host-3')!.first).toBeGreaterThanOrEqual(w3.get('host-2')!.last);

    // A fourth agent joins a group of four: floor(4/2) = 2 hosts at a time.
    const fourth = await createFleetAgent({
      name: 'host-4',
      controlPlaneUrl: cp.url,
      caCertificatePath: cp.caCertificatePath,
      root: await suiteTempDir('cda-fleet4-'),
      extraConfig: [':command_update_interval_seconds: 1'],
      env: { FLEET_HOST: 'host-4', FLEET_PROOF: fleet.proofFile, HOOK_SLEEP_SECONDS: '0.5' },
    });
    extraAgents.push(fourth);
    await sdk.deploy.send(new RegisterOnPremisesInstanceCommand({ instanceName: 'host-4', iamUserArn: fourth.iamUserArn }));
    await sdk.deploy.send(
      new AddTagsToOnPremisesInstancesCommand({
        instanceNames: ['host-1', 'host-2', 'host-3', 'host-4'],
        tags: [{ Key: 'quad', Value: 'yes' }],
      }),
    );
    fourth.start();
    await createAppAndGroup(sdk.deploy, { group: 'half4', config: 'CodeDeployDefault.HalfAtATime', tag: 'unused' });
    // (re-point the group at the quad tag)
    const { UpdateDeploymentGroupCommand } = await import('@aws-sdk/client-codedeploy');
    await sdk.deploy.send(
      new UpdateDeploymentGroupCommand({
        applicationName: 'FleetApp',
        currentDeploymentGroupName: 'half4',
        onPremisesInstanceTagFilters: [{ Key: 'quad', Value: 'yes', Type: 'KEY_AND_VALUE' }],
      }),
    );
    const four = await deployAndWait('half4', await uploadFleetApp(sdk.s3, { version: 'half4' }));
    expect(four.status).toBe('Succeeded');
    const w4 = await windows(four.deploymentId!);
    // host-1 and host-2 overlap; host-3 and host-4 start only after one of the first pair ended.
    expect(w4.get('host-1')!.first).toBeLessThan(w4.get('host-2')!.last);
    expect(w4.get('host-2')!.first).toBeLessThan(w4.get('host-1')!.last);
    const firstPairEnd = Math.min(w4.get('host-1')!.last, w4.get('host-2')!.last);
    expect(w4.get('host-3')!.first).toBeGreaterThanOrEqual(firstPairEnd);
    expect(w4.get('host-4')!.first).toBeGreaterThanOrEqual(firstPairEnd);
  });

  it('a failing host fails the deployment, skips the rest, and auto rollback redeploys the last good revision', async () => {
    const { deploymentGroupId } = await createAppAndGroup(sdk.deploy, {
      group: 'rollback',
      config: 'CodeDeployDefault.OneAtATime',
      tag: 'trio',
      autoRollback: { enabled: true, events: ['DEPLOYMENT_FAILURE'] },
    });
    const good = await deployAndWait('rollback', await uploadFleetApp(sdk.s3, { key: 'rb-good.tgz', version: 'good' }));
    expect(good.status).toBe('Succeeded');

    const bad = await deployAndWait('rollback', await uploadFleetApp(sdk.s3, { key: 'rb-bad.tgz', version: 'bad', failOn: ['host-2'] }));
    expect(bad.status).toBe('Failed');
    expect(bad.errorInformation?.code).toBe('HEALTH_CONSTRAINTS');
    expect(bad.deploymentOverview).toMatchObject({ Succeeded: 1, Failed: 1, Skipped: 1 });
    const targets = await sdk.deploy.send(
      new BatchGetDeploymentTargetsCommand({ deploymentId: bad.deploymentId, targetIds: ['host-1', 'host-2', 'host-3'] }),
    );
    const byId = new Map(targets.deploymentTargets!.map((t) => [t.instanceTarget!.targetId, t.instanceTarget!]));
    expect(byId.get('host-3')!.status).toBe('Skipped');
    const validate = byId.get('host-2')!.lifecycleEvents!.find((e) => e.lifecycleEventName === 'ValidateService')!;
    expect(validate.status).toBe('Failed');
    expect(validate.diagnostics).toMatchObject({ errorCode: 'ScriptFailed', scriptName: 'scripts/validate.sh' });
    expect(validate.diagnostics?.logTail).toMatch(/validation failed on host-2/);
    expect((await readProof(fleet.proofFile)).some((r) => r.deploymentId === bad.deploymentId && r.host === 'host-3')).toBe(false);

    const rollbackId = bad.rollbackInfo?.rollbackDeploymentId;
    expect(rollbackId).toMatch(/^d-/);
    const rollback = await waitForEnd(rollbackId!);
    expect(rollback.creator).toBe('codeDeployRollback');
    expect(rollback.rollbackInfo?.rollbackTriggeringDeploymentId).toBe(bad.deploymentId);
    expect(rollback.revision?.s3Location?.key).toBe('rb-good.tgz');
    expect(rollback.status).toBe('Succeeded');
    for (const a of fleet.agents) expect(await readFile(join(a.root, 'agent-home', 'fleet-app', 'version.txt'), 'utf8')).toBe('good\n');
    expect(deploymentGroupId).toBeTruthy();
  }, 180_000);

  it('StopDeployment mid-way: the running hook is ended, no other host starts, the deployment is Stopped', async () => {
    await createAppAndGroup(sdk.deploy, { group: 'stop', config: 'CodeDeployDefault.OneAtATime', tag: 'trio' });
    await writeFile(holdFile, 'hold');
    try {
      const rev = await uploadFleetApp(sdk.s3, { key: 'stop.tgz', version: 'stop' });
      const { deploymentId } = await sdk.deploy.send(
        new CreateDeploymentCommand({ applicationName: 'FleetApp', deploymentGroupName: 'stop', revision: s3Revision(rev) }),
      );
      // Wait until host-1 is held inside ApplicationStart.
      const heldInStart = async () =>
        (await readProof(fleet.proofFile)).some(
          (r) => r.deploymentId === deploymentId && r.host === 'host-1' && r.event === 'ApplicationStart' && r.phase === 'start',
        );
      await expect.poll(heldInStart, { timeout: 60_000, interval: 100, message: 'host-1 reaching ApplicationStart' }).toBe(true);
      const stopped = await sdk.deploy.send(new StopDeploymentCommand({ deploymentId }));
      expect(['Pending', 'Succeeded']).toContain(stopped.status);
      const info = await waitForEnd(deploymentId!);
      expect(info.status).toBe('Stopped');
      expect(info.errorInformation?.code).toBe('MANUAL_STOP');
      // The agent learns it through PostHostCommandUpdate (every second here) and ends the hook,
      // although the hold file is still there.
      await access(holdFile);
      const startStatus = async () => {
        const t = await sdk.deploy.send(new BatchGetDeploymentTargetsCommand({ deploymentId, targetIds: ['host-1'] }));
        return t.deploymentTargets![0]!.instanceTarget!.lifecycleEvents!.find((e) => e.lifecycleEventName === 'ApplicationStart')!.status;
      };
      await expect
        .poll(startStatus, { timeout: 20_000, interval: 200, message: 'ApplicationStart on host-1 after the stop' })
        .toBe('Failed');
      const records = await readProof(fleet.proofFile);
      expect(records.some((r) => r.deploymentId === deploymentId && r.host !== 'host-1')).toBe(false);
      expect(
        records.some((r) => r.deploymentId === deploymentId && r.host === 'host-1' && r.event === 'ApplicationStart' && r.phase === 'end'),
      ).toBe(false);
    } finally {
      await rm(holdFile, { force: true });
    }
    // The fleet is usable afterwards.
    const after = await deployAndWait('stop', await uploadFleetApp(sdk.s3, { key: 'after-stop.tgz', version: 'after' }));
    expect(after.status).toBe('Succeeded');
    await waitUntilDeploymentSuccessful(
      { client: sdk.deploy, maxWaitTime: 30, minDelay: 1, maxDelay: 1 },
      { deploymentId: after.deploymentId },
    );
  });
});
