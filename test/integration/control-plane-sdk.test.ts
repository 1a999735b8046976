/**
 * The local control plane driven by @aws-sdk/client-codedeploy end to end, with one real agent:
 * application, group, on-premises instance, S3 and GitHub revisions, and the SDK's own
 * waitUntilDeploymentSuccessful waiter.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, readFile, cp as copyDir } from 'node:fs/promises';
import { join } from 'node:path';
import {
  ApplicationDoesNotExistException,
  BatchGetDeploymentTargetsCommand,
  CreateDeploymentCommand,
  GetDeploymentCommand,
  GetDeploymentGroupCommand,
  GetOnPremisesInstanceCommand,
  ListDeploymentsCommand,
  waitUntilDeploymentSuccessful,
} from '@aws-sdk/client-codedeploy';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ControlPlane } from '../../control-plane/server.js';
import {
  clients,
  createAppAndGroup,
  FLEET_APP,
  s3Revision,
  startFleet,
  startTestControlPlane,
  uploadFleetApp,
  type TestFleet,
} from '../helpers/control-plane.js';

describe('local control plane with the AWS SDK and one agent', () => {
  let cp: ControlPlane;
  let fleet: TestFleet;
  let sdk: ReturnType<typeof clients>;
  let groupId: string;

  beforeAll(async () => {
    cp = await startTestControlPlane();
    sdk = clients(cp);
    ({ deploymentGroupId: groupId } = await createAppAndGroup(sdk.deploy, { application: 'SdkApp', group: 'sdk', tag: 'sdk' }));
    fleet = await startFleet(cp, sdk.deploy, 1, { tag: 'sdk', env: { HOOK_SLEEP_SECONDS: '0' } });
  });

  afterAll(async () => {
    await fleet?.stop();
    await cp?.close();
  });

  it('deploys an S3 revision and the SDK waiter sees it succeed', async () => {
    const rev = await uploadFleetApp(sdk.s3, { version: 'sdk-v1' });
    expect(rev.version).toBeTruthy();
    const { deploymentId } = await sdk.deploy.send(
      new CreateDeploymentCommand({ applicationName: 'SdkApp', deploymentGroupName: 'sdk', revision: s3Revision(rev) }),
    );
    expect(deploymentId).toMatch(/^d-[A-Z0-9]{9}$/);
    const waited = await waitUntilDeploymentSuccessful(
      { client: sdk.deploy, maxWaitTime: 120, minDelay: 1, maxDelay: 2 },
      { deploymentId },
    );
    expect(waited.state).toBe('SUCCESS');

    const info = (await sdk.deploy.send(new GetDeploymentCommand({ deploymentId }))).deploymentInfo;
    expect(info?.status).toBe('Succeeded');
    expect(info?.deploymentOverview).toMatchObject({ Succeeded: 1, Failed: 0, Pending: 0, InProgress: 0, Skipped: 0 });
    expect(info?.creator).toBe('user');
    expect(info?.createTime).toBeInstanceOf(Date);
    expect(info?.revision?.s3Location).toMatchObject({ bucket: rev.bucket, key: rev.key, version: rev.version });

    const targets = await sdk.deploy.send(new BatchGetDeploymentTargetsCommand({ deploymentId, targetIds: ['host-1'] }));
    const events = targets.deploymentTargets?.[0]?.instanceTarget?.lifecycleEvents ?? [];
    expect(events.map((e) => e.lifecycleEventName)).toEqual([
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
    expect(events.every((e) => e.status === 'Succeeded')).toBe(true);
    expect(events.find((e) => e.lifecycleEventName === 'ValidateService')?.startTime).toBeInstanceOf(Date);

    // The agent really did it: files installed, hooks logged in the official scripts.log.
    const agent = fleet.agents[0]!;
    expect(await readFile(join(agent.root, 'agent-home', 'fleet-app', 'version.txt'), 'utf8')).toBe('sdk-v1\n');
    const scriptsLog = await readFile(agent.scriptsLogPath(groupId, deploymentId!), 'utf8');
    expect(scriptsLog).toMatch(/\[stdout\]recorded ApplicationStart on host-1/);
    expect(scriptsLog).toMatch(/\[stdout\]service valid on host-1/);

    const group = (await sdk.deploy.send(new GetDeploymentGroupCommand({ applicationName: 'SdkApp', deploymentGroupName: 'sdk' })))
      .deploymentGroupInfo;
    expect(group?.lastSuccessfulDeployment?.deploymentId).toBe(deploymentId);
    const listed = await sdk.deploy.send(new ListDeploymentsCommand({ applicationName: 'SdkApp', deploymentGroupName: 'sdk' }));
    expect(listed.deployments).toContain(deploymentId);
    const inst = await sdk.deploy.send(new GetOnPremisesInstanceCommand({ instanceName: 'host-1' }));
    expect(inst.instanceInfo?.iamUserArn).toBe(agent.iamUserArn);
  });

  it('deploys a GitHub revision served from a local git repository', async () => {
    const repo = join(cp.dataDir, 'github', 'acme', 'fleet-app');
    await mkdir(repo, { recursive: true });
    await copyDir(FLEET_APP, repo, { recursive: true });
    const git = (...args: string[]) =>
      execFileSync('git', args, {
        cwd: repo,
        encoding: 'utf8',
        env: {
          ...process.env,
          GIT_AUTHOR_NAME: 't',
          GIT_AUTHOR_EMAIL: 't@example.com',
          GIT_COMMITTER_NAME: 't',
          GIT_COMMITTER_EMAIL: 't@example.com',
        },
      }).trim();
    git('init', '-q', '-b', 'main');
    execFileSync('sh', ['-c', 'echo github-v1 > app/version.txt'], { cwd: repo });
    git('add', '-A');
    git('commit', '-qm', 'v1');
    const commitId = git('rev-parse', 'HEAD');

    const { deploymentId } = await sdk.deploy.send(
      new CreateDeploymentCommand({
        applicationName: 'SdkApp',
        deploymentGroupName: 'sdk',
        revision: { revisionType: 'GitHub', gitHubLocation: { repository: 'acme/fleet-app', commitId } },
      }),
    );
    await waitUntilDeploymentSuccessful({ client: sdk.deploy, maxWaitTime: 120, minDelay: 1, maxDelay: 2 }, { deploymentId }).catch(
      async (err: unknown) => {
        const t = await sdk.deploy.send(new BatchGetDeploymentTargetsCommand({ deploymentId, targetIds: ['host-1'] }));
        const failed = t.deploymentTargets?.[0]?.instanceTarget?.lifecycleEvents?.filter((e) => e.status === 'Failed');
        throw new Error(`${String(err)}\nfailed events: ${JSON.stringify(failed)}`);
      },
    );
    expect(await readFile(join(fleet.agents[0]!.root, 'agent-home', 'fleet-app', 'version.txt'), 'utf8')).toBe('github-v1\n');
  });

  it('answers errors with the real error codes, as SDK exception classes', async () => {
    const err = await sdk.deploy
      .send(
        new CreateDeploymentCommand({
          applicationName: 'NoSuchApp',
          deploymentGroupName: 'x',
          revision: s3Revision({ bucket: 'b', key: 'k' }),
        }),
      )
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApplicationDoesNotExistException);
    expect((err as Error).message).toMatch(/NoSuchApp/);
  });
});
