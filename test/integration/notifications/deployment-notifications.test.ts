/**
 * Deployment group triggers end to end: two real agents, a topic of the local SNS and real HTTP
 * subscribers that confirm through SubscribeURL. The exact sequence of notifications (test
 * notification, deployment and instance events, by Subject, in order) for a successful deployment,
 * a failed one, and a failed one rolled back automatically; a subscriber that answers 500 at first
 * still gets every message, in the same order; and one that never answers neither slows the
 * deployments nor loses its place (its deliveries are still being retried when they end).
 * triggerConfigurations are checked like the service checks them and returned by Get/BatchGet.
 */
import {
  BatchGetDeploymentGroupsCommand,
  CreateDeploymentCommand,
  CreateDeploymentGroupCommand,
  GetDeploymentCommand,
  GetDeploymentGroupCommand,
  UpdateDeploymentGroupCommand,
  type DeploymentInfo,
  type TriggerConfig,
  type TriggerEventType,
} from '@aws-sdk/client-codedeploy';
import { CreateTopicCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ControlPlane } from '../../../control-plane/server.js';
import {
  clients,
  LOCAL_CREDENTIALS,
  s3Revision,
  startFleet,
  startTestControlPlane,
  uploadFleetApp,
  type TestFleet,
  type UploadedRevision,
} from '../../helpers/control-plane.js';
import { waitFor } from '../../helpers/wait-for.js';
import { startSnsReceiver, type SnsReceiver } from './sns-receiver.js';

const APP = 'NotifyApp';
const DEPLOYMENT_EVENTS: TriggerEventType[] = [
  'DeploymentStart',
  'DeploymentSuccess',
  'DeploymentFailure',
  'DeploymentStop',
  'DeploymentRollback',
];
const INSTANCE_EVENTS: TriggerEventType[] = ['InstanceStart', 'InstanceSuccess', 'InstanceFailure'];
/** Deliveries to the subscriber that never answers time out after this long. */
const REQUEST_TIMEOUT_MS = 4000;

describe('deployment notifications through the local SNS', () => {
  let cp: ControlPlane;
  let sdk: ReturnType<typeof clients>;
  let sns: SNSClient;
  let fleet: TestFleet;
  const receivers: SnsReceiver[] = [];
  let groupCount = 0;

  beforeAll(async () => {
    cp = await startTestControlPlane({ snsDelivery: { requestTimeoutMs: REQUEST_TIMEOUT_MS } });
    sdk = clients(cp);
    sns = new SNSClient({ endpoint: cp.url, region: 'us-east-1', credentials: LOCAL_CREDENTIALS, maxAttempts: 1 });
    fleet = await startFleet(cp, sdk.deploy, 2, { tag: 'notify' });
  }, 120_000);

  afterAll(async () => {
    await fleet?.stop();
    await cp?.close();
    await Promise.all(receivers.map((r) => r.close()));
  });

  /** A topic with `subscribers` confirmed receivers. */
  async function topicWith(
    name: string,
    ...options: Parameters<typeof startSnsReceiver>[0][]
  ): Promise<{ topicArn: string; rs: SnsReceiver[] }> {
    const { TopicArn } = await sns.send(new CreateTopicCommand({ Name: name }));
    const rs: SnsReceiver[] = [];
    for (const o of options) {
      const r = await startSnsReceiver(o);
      receivers.push(r);
      rs.push(r);
      await sns.send(new SubscribeCommand({ TopicArn, Protocol: 'http', Endpoint: r.url }));
    }
    await waitFor('the subscriptions to be confirmed', () => cp.sns.listSubscriptions(TopicArn).every((s) => s.confirmed), {
      timeoutMs: 10_000,
    });
    return { topicArn: TopicArn!, rs };
  }

  async function createGroup(triggerConfigurations: TriggerConfig[], autoRollback = false): Promise<string> {
    const group = `notify-${++groupCount}`;
    await sdk.deploy.send(
      new CreateDeploymentGroupCommand({
        applicationName: APP,
        deploymentGroupName: group,
        deploymentConfigName: 'CodeDeployDefault.OneAtATime',
        serviceRoleArn: 'arn:aws:iam::000000000000:role/CodeDeployTest',
        onPremisesInstanceTagFilters: [{ Key: 'fleet', Value: 'notify', Type: 'KEY_AND_VALUE' }],
        triggerConfigurations,
        ...(autoRollback ? { autoRollbackConfiguration: { enabled: true, events: ['DEPLOYMENT_FAILURE'] } } : {}),
      }),
    );
    return group;
  }

  async function deploy(group: string, revision: UploadedRevision): Promise<DeploymentInfo> {
    const { deploymentId } = await sdk.deploy.send(
      new CreateDeploymentCommand({ applicationName: APP, deploymentGroupName: group, revision: s3Revision(revision) }),
    );
    return waitFor(
      `deployment ${deploymentId} to end`,
      async () => {
        const info = (await sdk.deploy.send(new GetDeploymentCommand({ deploymentId }))).deploymentInfo!;
        return ['Succeeded', 'Failed', 'Stopped'].includes(info.status ?? '') && info;
      },
      { timeoutMs: 120_000, intervalMs: 200 },
    );
  }

  const subjects = (r: SnsReceiver) => r.notifications().map((n) => n.subject ?? '');
  const d = (status: string, id: string) => `${status}: AWS CodeDeploy ${id} in us-east-1 to ${APP}`;
  const i = (status: string, id: string, host: string) => `${status}: AWS CodeDeploy ${id} in us-east-1 on instance ${host}`;
  const test = (trigger: string) => `TEST: AWS CodeDeploy trigger ${trigger} in us-east-1 to ${APP}`;

  it('triggerConfigurations are checked like the service checks them and returned by Get and BatchGet', async () => {
    const { CreateApplicationCommand } = await import('@aws-sdk/client-codedeploy');
    await sdk.deploy.send(new CreateApplicationCommand({ applicationName: APP }));
    const { topicArn, rs } = await topicWith('checked', {});
    const ok: TriggerConfig = { triggerName: 'all', triggerTargetArn: topicArn, triggerEvents: ['DeploymentSuccess'] };
    const refused = async (triggers: TriggerConfig[]) => {
      const err = await createGroup(triggers).then(
        () => undefined,
        (e: unknown) => e as { name: string; message: string },
      );
      return err;
    };
    expect(await refused([{ ...ok, triggerTargetArn: 'arn:aws:sns:us-east-1:000000000000:nope' }])).toMatchObject({
      name: 'InvalidTriggerConfigException',
      message: expect.stringContaining('does not exist in the local SNS'),
    });
    expect(await refused(Array.from({ length: 11 }, (_, n) => ({ ...ok, triggerName: `t${n}` })))).toMatchObject({
      name: 'TriggerTargetsLimitExceededException',
    });
    expect(await refused([ok, ok])).toMatchObject({
      name: 'InvalidTriggerConfigException',
      message: expect.stringContaining('used twice'),
    });
    expect(await refused([{ ...ok, triggerEvents: ['DeploymentDone' as TriggerEventType] }])).toMatchObject({
      name: 'InvalidTriggerConfigException',
      message: expect.stringContaining('"DeploymentDone" is not an event type'),
    });

    const group = await createGroup([ok]);
    const got = (await sdk.deploy.send(new GetDeploymentGroupCommand({ applicationName: APP, deploymentGroupName: group })))
      .deploymentGroupInfo;
    expect(got?.triggerConfigurations).toEqual([ok]);
    const more: TriggerConfig = {
      triggerName: 'instances',
      triggerTargetArn: topicArn,
      triggerEvents: ['InstanceFailure', 'InstanceStart'],
    };
    await sdk.deploy.send(
      new UpdateDeploymentGroupCommand({ applicationName: APP, currentDeploymentGroupName: group, triggerConfigurations: [ok, more] }),
    );
    const batch = await sdk.deploy.send(new BatchGetDeploymentGroupsCommand({ applicationName: APP, deploymentGroupNames: [group] }));
    expect(batch.deploymentGroupsInfo?.[0]?.triggerConfigurations).toEqual([ok, more]);
    // A test notification for each trigger new to the group: 'all' at creation, 'instances' at the update.
    await waitFor('the test notifications', () => rs[0]!.notifications().length === 2, { timeoutMs: 10_000 });
    expect(subjects(rs[0]!)).toEqual([test('all'), test('instances')]);
    expect(JSON.parse(rs[0]!.notifications()[1]!.message)).toMatchObject({
      status: 'TEST',
      eventTriggerName: 'instances',
      deploymentGroupName: group,
    });
  });

  it('a successful deployment: the exact sequence, to a healthy, a flaky and a dead subscriber, without slowing the deployment', async () => {
    const { topicArn, rs } = await topicWith('success', {}, { failFirst: 4 }, { hangNotifications: true });
    const [healthy, flaky, dead] = rs as [SnsReceiver, SnsReceiver, SnsReceiver];
    const group = await createGroup([
      { triggerName: 'deployments', triggerTargetArn: topicArn, triggerEvents: DEPLOYMENT_EVENTS },
      { triggerName: 'instances', triggerTargetArn: topicArn, triggerEvents: INSTANCE_EVENTS },
    ]);
    const info = await deploy(group, await uploadFleetApp(sdk.s3, { key: 'notify-good.tgz', version: 'good' }));
    expect(info.status).toBe('Succeeded');
    const id = info.deploymentId!;
    const expected = [
      test('deployments'),
      test('instances'),
      d('CREATED', id),
      i('IN_PROGRESS', id, 'host-1'),
      i('SUCCEEDED', id, 'host-1'),
      i('IN_PROGRESS', id, 'host-2'),
      i('SUCCEEDED', id, 'host-2'),
      d('SUCCEEDED', id),
    ];
    // The dead subscriber holds its first notification open; more than enough waits behind it that
    // serial waiting (REQUEST_TIMEOUT_MS each) would have taken longer than the whole deployment.
    const took = (info.completeTime!.getTime() - info.createTime!.getTime()) / 1000;
    expect(took).toBeLessThan(((expected.length - 1) * REQUEST_TIMEOUT_MS) / 1000);
    expect(dead.held).toBeGreaterThanOrEqual(1);
    expect(dead.notifications()).toEqual([]);
    expect(cp.sns.pendingDeliveries()).toBeGreaterThanOrEqual(expected.length);

    await waitFor('every notification', () => healthy.notifications().length === expected.length, { timeoutMs: 20_000 });
    expect(subjects(healthy)).toEqual(expected);
    expect(healthy.notifications().every((n) => n.verified)).toBe(true);
    const success = JSON.parse(healthy.notifications().at(-1)!.message) as Record<string, unknown>;
    expect(success).toMatchObject({
      eventTriggerName: 'deployments',
      applicationName: APP,
      deploymentGroupName: group,
      deploymentId: id,
      status: 'SUCCEEDED',
    });
    expect(JSON.parse(success['deploymentOverview'] as string)).toEqual({ Succeeded: 2, Failed: 0, Skipped: 0, InProgress: 0, Pending: 0 });
    const host = JSON.parse(healthy.notifications()[4]!.message) as Record<string, string>;
    expect(host).toMatchObject({
      eventTriggerName: 'instances',
      instanceStatus: 'Succeeded',
      instanceId: expect.stringContaining('host-1'),
    });
    expect(JSON.parse(host['lifecycleEvents']!).map((e: { LifecycleEvent: string }) => e.LifecycleEvent)).toContain('ValidateService');

    // The flaky subscriber answered 500 four times, and still has everything, in order.
    await waitFor('every notification at the flaky subscriber', () => flaky.notifications().length === expected.length, {
      timeoutMs: 30_000,
    });
    expect(subjects(flaky)).toEqual(expected);
    expect(flaky.posts).toBeGreaterThanOrEqual(expected.length + 1 + 4);
    expect(dead.notifications()).toEqual([]);
  }, 120_000);

  it('a failed deployment: the failing host, then the deployment, with its error (the other host is skipped: no event)', async () => {
    const { topicArn, rs } = await topicWith('failure', {});
    const group = await createGroup([
      { triggerName: 'all', triggerTargetArn: topicArn, triggerEvents: [...DEPLOYMENT_EVENTS, ...INSTANCE_EVENTS] },
    ]);
    const info = await deploy(group, await uploadFleetApp(sdk.s3, { key: 'notify-bad.tgz', version: 'bad', failOn: ['host-1'] }));
    expect(info.status).toBe('Failed');
    const id = info.deploymentId!;
    const expected = [test('all'), d('CREATED', id), i('IN_PROGRESS', id, 'host-1'), i('FAILED', id, 'host-1'), d('FAILED', id)];
    await waitFor('every notification', () => rs[0]!.notifications().length === expected.length, { timeoutMs: 20_000 });
    expect(subjects(rs[0]!)).toEqual(expected);
    const failed = JSON.parse(rs[0]!.notifications().at(-1)!.message) as Record<string, string>;
    expect(failed['status']).toBe('FAILED');
    expect(JSON.parse(failed['errorInformation']!)).toMatchObject({ ErrorCode: 'HEALTH_CONSTRAINTS' });
    expect(JSON.parse(failed['deploymentOverview']!)).toEqual({ Succeeded: 0, Failed: 1, Skipped: 1, InProgress: 0, Pending: 0 });
  }, 120_000);

  it('a failed deployment rolled back automatically: FAILED, then the rollback deployment CREATED, IN_PROGRESS, SUCCEEDED', async () => {
    const { topicArn, rs } = await topicWith('rollback', {});
    const group = await createGroup([{ triggerName: 'deployments', triggerTargetArn: topicArn, triggerEvents: DEPLOYMENT_EVENTS }], true);
    const good = await deploy(group, await uploadFleetApp(sdk.s3, { key: 'notify-rb-good.tgz', version: 'good' }));
    const bad = await deploy(group, await uploadFleetApp(sdk.s3, { key: 'notify-rb-bad.tgz', version: 'bad', failOn: ['host-1'] }));
    expect([good.status, bad.status]).toEqual(['Succeeded', 'Failed']);
    const rollbackId = bad.rollbackInfo?.rollbackDeploymentId ?? '';
    expect(rollbackId).toMatch(/^d-/);
    const expected = [
      test('deployments'),
      d('CREATED', good.deploymentId!),
      d('SUCCEEDED', good.deploymentId!),
      d('CREATED', bad.deploymentId!),
      d('FAILED', bad.deploymentId!),
      d('CREATED', rollbackId),
      d('IN_PROGRESS', rollbackId),
      d('SUCCEEDED', rollbackId),
    ];
    await waitFor('every notification', () => rs[0]!.notifications().length === expected.length, { timeoutMs: 120_000, intervalMs: 200 });
    expect(subjects(rs[0]!)).toEqual(expected);
    const messages = rs[0]!.notifications().map((n) => JSON.parse(n.message) as Record<string, string>);
    expect(JSON.parse(messages[4]!['rollbackInformation']!)).toMatchObject({ RollbackDeploymentId: rollbackId });
    expect(JSON.parse(messages[6]!['rollbackInformation']!)).toEqual({
      RollbackMessage: `Deployment ${rollbackId} is triggered to roll back deployment ${bad.deploymentId}.`,
      RollbackTriggeringDeploymentId: bad.deploymentId,
    });
  }, 150_000);
});
