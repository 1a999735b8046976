import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  BatchGetDeploymentTargetsCommand,
  CodeDeployClient,
  CreateDeploymentCommand,
  DeploymentDoesNotExistException,
  DeploymentLimitExceededException,
  GetDeploymentCommand,
  ListDeploymentsCommand,
  StopDeploymentCommand,
} from '@aws-sdk/client-codedeploy';
import { afterEach, describe, expect, it } from 'vitest';
import { ApiError } from '../../../../control-plane/api/api-error.js';
import type { OperationTable } from '../../../../control-plane/api/operations.js';
import type { DeploymentInfo, InstanceTarget } from '../../../../control-plane/model.js';
import { createHarness, requestContext, s3Revision, type Harness } from '../fake-registry.js';

async function op(h: Harness, name: string, input: Record<string, unknown>): Promise<Record<string, unknown>> {
  const handler = h.deploymentOperations[name];
  if (!handler) throw new Error(`no ${name}`);
  return (await handler(input, requestContext())) as Record<string, unknown>;
}

async function code(h: Harness, name: string, input: Record<string, unknown>): Promise<string> {
  try {
    await op(h, name, input);
  } catch (err) {
    if (err instanceof ApiError) return `${err.code}: ${err.message}`;
    throw err;
  }
  throw new Error(`${name} succeeded`);
}

const create = (h: Harness, extra: Record<string, unknown> = {}) =>
  op(h, 'CreateDeployment', { applicationName: 'web', deploymentGroupName: 'prod', revision: s3Revision(), ...extra });

describe('CreateDeployment', () => {
  it('creates d-XXXXXXXXX and refuses a second one while it is active', async () => {
    const h = createHarness({ hosts: 2 });
    const { deploymentId } = await create(h, { description: 'first', fileExistsBehavior: 'RETAIN' });
    expect(deploymentId).toMatch(/^d-[A-Z0-9]{9}$/);
    const info = (await op(h, 'GetDeployment', { deploymentId })).deploymentInfo as DeploymentInfo;
    expect(info).toMatchObject({
      applicationName: 'web',
      deploymentGroupName: 'prod',
      deploymentConfigName: 'CodeDeployDefault.OneAtATime',
      creator: 'user',
      description: 'first',
      fileExistsBehavior: 'RETAIN',
      ignoreApplicationStopFailures: false,
      revision: s3Revision(),
      status: 'InProgress',
      deploymentOverview: { Pending: 1, InProgress: 1 },
      computePlatform: 'Server',
    });
    expect(await code(h, 'CreateDeployment', { applicationName: 'web', deploymentGroupName: 'prod', revision: s3Revision() })).toBe(
      `DeploymentLimitExceededException: The deployment group prod has an active deployment ${String(deploymentId)}. Wait for it to finish, or stop it with StopDeployment, then try again.`,
    );
  });

  it('uses the group target revision when none is given', async () => {
    const h = createHarness({ hosts: 1 });
    h.registry.addGroup('web', 'staging', { targetRevision: s3Revision('pushed.tgz') });
    const { deploymentId } = await op(h, 'CreateDeployment', { applicationName: 'web', deploymentGroupName: 'staging' });
    expect(((await op(h, 'GetDeployment', { deploymentId })).deploymentInfo as DeploymentInfo).revision.s3Location?.key).toBe('pushed.tgz');
  });

  it.each([
    [{ deploymentGroupName: 'prod' }, 'ApplicationNameRequiredException'],
    [{ applicationName: 'nope', deploymentGroupName: 'prod' }, 'ApplicationDoesNotExistException: No application found for name: nope'],
    [{ applicationName: 'web' }, 'DeploymentGroupNameRequiredException'],
    [{ applicationName: 'web', deploymentGroupName: 'nope' }, 'DeploymentGroupDoesNotExistException'],
    [
      { applicationName: 'web', deploymentGroupName: 'prod', deploymentConfigName: 'Custom.Missing', revision: s3Revision() },
      'DeploymentConfigDoesNotExistException',
    ],
    [{ applicationName: 'web', deploymentGroupName: 'prod' }, 'RevisionRequiredException'],
    [
      {
        applicationName: 'web',
        deploymentGroupName: 'prod',
        revision: { revisionType: 'S3', s3Location: { key: 'k.zip', bundleType: 'zip' } },
      },
      'InvalidRevisionException: revision.s3Location.bucket is required',
    ],
    [
      {
        applicationName: 'web',
        deploymentGroupName: 'prod',
        revision: { revisionType: 'S3', s3Location: { bucket: 'b', bundleType: 'zip' } },
      },
      'InvalidRevisionException: revision.s3Location.key is required',
    ],
    [
      {
        applicationName: 'web',
        deploymentGroupName: 'prod',
        revision: { revisionType: 'S3', s3Location: { bucket: 'b', key: 'k', bundleType: 'rar' } },
      },
      'InvalidRevisionException: revision.s3Location.bundleType "rar" is not valid',
    ],
    [
      {
        applicationName: 'web',
        deploymentGroupName: 'prod',
        revision: { revisionType: 'GitHub', gitHubLocation: { repository: 'justone', commitId: 'abc' } },
      },
      'InvalidRevisionException: revision.gitHubLocation.repository "justone" is not valid',
    ],
    [
      { applicationName: 'web', deploymentGroupName: 'prod', revision: { revisionType: 'GitHub', gitHubLocation: { repository: 'a/b' } } },
      'InvalidRevisionException: revision.gitHubLocation.commitId is required',
    ],
    [
      { applicationName: 'web', deploymentGroupName: 'prod', revision: { revisionType: 'String', string: { content: 'x' } } },
      'InvalidRevisionException: revision.revisionType "String" is not supported',
    ],
    [
      { applicationName: 'web', deploymentGroupName: 'prod', revision: s3Revision(), fileExistsBehavior: 'CLOBBER' },
      'InvalidFileExistsBehaviorException',
    ],
    [
      {
        applicationName: 'web',
        deploymentGroupName: 'prod',
        revision: s3Revision(),
        autoRollbackConfiguration: { enabled: true, events: ['WHENEVER'] },
      },
      'InvalidAutoRollbackConfigException',
    ],
    [
      { applicationName: 'web', deploymentGroupName: 'prod', revision: s3Revision(), ignoreApplicationStopFailures: 'yes' },
      'ValidationException',
    ],
  ])('%j → %s', async (input, expected) => {
    const h = createHarness({ hosts: 1 });
    expect(await code(h, 'CreateDeployment', input)).toMatch(new RegExp(`^${expected.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  });
});

describe('reading deployments', () => {
  it('GetDeployment and BatchGetDeployments check ids', async () => {
    const h = createHarness({ hosts: 1 });
    const { deploymentId } = await create(h);
    expect(await code(h, 'GetDeployment', {})).toMatch(/^DeploymentIdRequiredException/);
    expect(await code(h, 'GetDeployment', { deploymentId: 'x-123' })).toMatch(
      /^InvalidDeploymentIdException: The deployment ID x-123 is not valid/,
    );
    expect(await code(h, 'GetDeployment', { deploymentId: 'd-AAAAAAAAA' })).toBe(
      'DeploymentDoesNotExistException: The deployment d-AAAAAAAAA could not be found.',
    );
    const batch = await op(h, 'BatchGetDeployments', { deploymentIds: [deploymentId, 'd-AAAAAAAAA'] });
    expect((batch.deploymentsInfo as DeploymentInfo[]).map((d) => d.deploymentId)).toEqual([deploymentId]);
    expect(await code(h, 'BatchGetDeployments', { deploymentIds: ['bad'] })).toMatch(/^InvalidDeploymentIdException/);
  });

  it('ListDeployments: newest first, filters, pages of 100 with an opaque token', async () => {
    const h = createHarness({ hosts: 1 });
    h.registry.addGroup('web', 'empty', { filters: [{ Key: 'none', Type: 'KEY_ONLY' }] });
    const ids: string[] = [];
    for (let i = 0; i < 103; i++) {
      h.clock.now += 1000;
      ids.push(
        String(
          (await op(h, 'CreateDeployment', { applicationName: 'web', deploymentGroupName: 'empty', revision: s3Revision() })).deploymentId,
        ),
      );
    }
    const active = String((await create(h)).deploymentId);
    const first = await op(h, 'ListDeployments', {});
    expect((first.deployments as string[])[0]).toBe(active);
    expect(first.deployments).toHaveLength(100);
    const second = await op(h, 'ListDeployments', { nextToken: first.nextToken });
    expect(second.nextToken).toBeUndefined();
    expect([...(first.deployments as string[]), ...(second.deployments as string[])]).toEqual([active, ...[...ids].reverse()]);
    expect((await op(h, 'ListDeployments', { applicationName: 'web', deploymentGroupName: 'prod' })).deployments).toEqual([active]);
    expect((await op(h, 'ListDeployments', { includeOnlyStatuses: ['InProgress'] })).deployments).toEqual([active]);
    const created = h.engine.getDeployment(ids[0] as string)?.createTime as number;
    expect(
      (
        await op(h, 'ListDeployments', {
          applicationName: 'web',
          deploymentGroupName: 'empty',
          createTimeRange: { start: created - 0.5, end: created + 1.5 },
        })
      ).deployments,
    ).toEqual([ids[1], ids[0]]);
    expect(await code(h, 'ListDeployments', { applicationName: 'web' })).toMatch(/^DeploymentGroupNameRequiredException/);
    expect(await code(h, 'ListDeployments', { deploymentGroupName: 'prod' })).toMatch(/^ApplicationNameRequiredException/);
    expect(await code(h, 'ListDeployments', { applicationName: 'nope', deploymentGroupName: 'prod' })).toMatch(
      /^ApplicationDoesNotExistException/,
    );
    expect(await code(h, 'ListDeployments', { applicationName: 'web', deploymentGroupName: 'nope' })).toMatch(
      /^DeploymentGroupDoesNotExistException/,
    );
    expect(await code(h, 'ListDeployments', { includeOnlyStatuses: ['Done'] })).toMatch(/^InvalidDeploymentStatusException/);
    expect(await code(h, 'ListDeployments', { nextToken: 'garbage!' })).toMatch(/^InvalidNextTokenException/);
    expect(await code(h, 'ListDeployments', { createTimeRange: { start: 10, end: 5 } })).toMatch(/^InvalidTimeRangeException/);
  });
});

describe('targets and instances', () => {
  it('lists and reads targets and instances with their lifecycle events', async () => {
    const h = createHarness({ hosts: 3 });
    const { deploymentId } = await create(h);
    await h.drive((host, command) => (host === 'host-01' && command === 'Install' ? 'fail' : 'ok'));
    expect((await op(h, 'ListDeploymentTargets', { deploymentId })).targetIds).toEqual(['host-01', 'host-02', 'host-03']);
    expect((await op(h, 'ListDeploymentTargets', { deploymentId, targetFilters: { TargetStatus: ['Skipped'] } })).targetIds).toEqual([
      'host-02',
      'host-03',
    ]);
    expect(await code(h, 'ListDeploymentTargets', { deploymentId, targetFilters: { Color: ['red'] } })).toMatch(
      /^InvalidTargetFilterNameException/,
    );

    const targets = (await op(h, 'BatchGetDeploymentTargets', { deploymentId, targetIds: ['host-01'] })).deploymentTargets as {
      deploymentTargetType: string;
      instanceTarget: InstanceTarget;
    }[];
    expect(targets[0]?.deploymentTargetType).toBe('InstanceTarget');
    expect(targets[0]?.instanceTarget).toMatchObject({
      deploymentId,
      targetId: 'host-01',
      targetArn: expect.stringContaining(':instance/host-01_'),
      status: 'Failed',
      instanceLabel: 'Blue',
    });
    expect(targets[0]?.instanceTarget.lifecycleEvents.find((e) => e.lifecycleEventName === 'Install')?.status).toBe('Failed');
    expect(await code(h, 'BatchGetDeploymentTargets', { deploymentId })).toMatch(/^DeploymentTargetIdRequiredException/);
    expect(await code(h, 'BatchGetDeploymentTargets', { deploymentId, targetIds: ['ghost'] })).toMatch(
      /^DeploymentTargetDoesNotExistException: The target ghost/,
    );

    expect((await op(h, 'ListDeploymentInstances', { deploymentId, instanceStatusFilter: ['Failed'] })).instancesList).toEqual(['host-01']);
    expect(await code(h, 'ListDeploymentInstances', { deploymentId, instanceStatusFilter: ['Broken'] })).toMatch(
      /^InvalidInstanceStatusException/,
    );
    const one = (await op(h, 'GetDeploymentInstance', { deploymentId, instanceId: 'host-02' })).instanceSummary as Record<string, unknown>;
    expect(one).toMatchObject({ deploymentId, instanceId: 'host-02', status: 'Skipped', instanceType: 'Blue' });
    expect(one.lifecycleEvents).toHaveLength(11);
    expect(await code(h, 'GetDeploymentInstance', { deploymentId })).toMatch(/^InstanceIdRequiredException/);
    expect(await code(h, 'GetDeploymentInstance', { deploymentId, instanceId: 'ghost' })).toMatch(/^InstanceDoesNotExistException/);
    const batch = await op(h, 'BatchGetDeploymentInstances', { deploymentId, instanceIds: ['host-01', 'host-03'] });
    expect(batch.errorMessage).toBe('');
    expect((batch.instancesSummary as { instanceId: string; status: string }[]).map((s) => `${s.instanceId}:${s.status}`)).toEqual([
      'host-01:Failed',
      'host-03:Skipped',
    ]);
    expect(await code(h, 'BatchGetDeploymentInstances', { deploymentId, instanceIds: ['ghost'] })).toMatch(
      /^InstanceDoesNotExistException/,
    );
    expect(await code(h, 'ListDeploymentTargets', { deploymentId: 'd-AAAAAAAAA' })).toMatch(/^DeploymentDoesNotExistException/);
  });

  it('StopDeployment answers like the real API', async () => {
    const h = createHarness({ hosts: 2 });
    const { deploymentId } = await create(h);
    expect(await op(h, 'StopDeployment', { deploymentId })).toEqual({ status: 'Succeeded', statusMessage: expect.any(String) });
    expect(await code(h, 'StopDeployment', { deploymentId })).toBe(
      `DeploymentAlreadyCompletedException: The deployment ${String(deploymentId)} has already completed.`,
    );
  });
});

describe('through the AWS SDK', () => {
  let server: http.Server | undefined;
  afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

  /** A minimal AWS JSON 1.1 front for one operation table (the real router is the integrator's). */
  async function serve(table: OperationTable): Promise<string> {
    server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        void (async () => {
          const operation = String(req.headers['x-amz-target'] ?? '').replace('CodeDeploy_20141006.', '');
          try {
            const out = await table[operation]?.(
              JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, unknown>,
              requestContext(),
            );
            res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' }).end(JSON.stringify(out ?? {}));
          } catch (err) {
            const e = err instanceof ApiError ? err : new ApiError('InternalFailure', String(err), 500);
            res
              .writeHead(e.status, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-errortype': e.code })
              .end(JSON.stringify({ __type: e.code, message: e.message }));
          }
        })();
      });
    });
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  it('the SDK parses deployments, targets and errors', async () => {
    const h = createHarness({ hosts: 2 });
    const endpoint = await serve(h.deploymentOperations);
    const client = new CodeDeployClient({
      endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'AKIDLOCAL', secretAccessKey: 'local' },
      maxAttempts: 1,
    });
    const { deploymentId } = await client.send(
      new CreateDeploymentCommand({
        applicationName: 'web',
        deploymentGroupName: 'prod',
        revision: { revisionType: 'S3', s3Location: { bucket: 'releases', key: 'app.zip', bundleType: 'zip' } },
      }),
    );
    await h.drive();
    const { deploymentInfo } = await client.send(new GetDeploymentCommand({ deploymentId }));
    expect(deploymentInfo?.status).toBe('Succeeded');
    expect(deploymentInfo?.createTime).toBeInstanceOf(Date);
    expect(deploymentInfo?.deploymentOverview?.Succeeded).toBe(2);
    const targets = await client.send(new BatchGetDeploymentTargetsCommand({ deploymentId, targetIds: ['host-01'] }));
    const events = targets.deploymentTargets?.[0]?.instanceTarget?.lifecycleEvents ?? [];
    expect(events).toHaveLength(11);
    expect(events[0]?.startTime).toBeInstanceOf(Date);
    expect(events[0]?.diagnostics?.errorCode).toBe('Success');
    expect((await client.send(new ListDeploymentsCommand({}))).deployments).toEqual([deploymentId]);

    const err = await client.send(new StopDeploymentCommand({ deploymentId: 'd-AAAAAAAAA' })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DeploymentDoesNotExistException);
    await client.send(
      new CreateDeploymentCommand({
        applicationName: 'web',
        deploymentGroupName: 'prod',
        revision: { revisionType: 'S3', s3Location: { bucket: 'b', key: 'k.zip', bundleType: 'zip' } },
      }),
    );
    const limit = await client
      .send(
        new CreateDeploymentCommand({
          applicationName: 'web',
          deploymentGroupName: 'prod',
          revision: { revisionType: 'S3', s3Location: { bucket: 'b', key: 'k.zip', bundleType: 'zip' } },
        }),
      )
      .catch((e: unknown) => e);
    expect(limit).toBeInstanceOf(DeploymentLimitExceededException);
    client.destroy();
  });
});
