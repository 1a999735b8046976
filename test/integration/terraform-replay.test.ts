/**
 * Terraform's AWS provider against the local control plane. Terraform cannot be installed here
 * (no network beyond npm), so this replays, through the AWS SDK over HTTP, the calls and request
 * shapes the provider's `aws_codedeploy_app`, `aws_codedeploy_deployment_config` and
 * `aws_codedeploy_deployment_group` resources make (from the provider's sources in
 * internal/service/deploy): create with tags, read back (Get* then ListTagsForResource on the
 * ARN it builds, with an empty account field when `skip_requesting_account_id` is set), update
 * tags, update a group with the "removed block" shapes it sends, and delete. Also the aws CLI's
 * tag commands.
 */
import {
  ApplicationDoesNotExistException,
  ArnNotSupportedException,
  CodeDeployClient,
  CreateApplicationCommand,
  CreateDeploymentConfigCommand,
  CreateDeploymentGroupCommand,
  DeleteApplicationCommand,
  DeleteDeploymentConfigCommand,
  DeleteDeploymentGroupCommand,
  DeploymentGroupDoesNotExistException,
  GetApplicationCommand,
  GetDeploymentConfigCommand,
  GetDeploymentGroupCommand,
  InvalidArnException,
  InvalidTagsToAddException,
  ListTagsForResourceCommand,
  TagResourceCommand,
  UntagResourceCommand,
  UpdateApplicationCommand,
  UpdateDeploymentGroupCommand,
} from '@aws-sdk/client-codedeploy';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ControlPlane } from '../../control-plane/server.js';
import { awsCli, hasAwsCli } from '../helpers/aws-cli.js';
import { clients, startTestControlPlane } from '../helpers/control-plane.js';
import { tempDir } from '../helpers/temp.js';

let cp: ControlPlane;
let deploy: CodeDeployClient;

beforeAll(async () => {
  cp = await startTestControlPlane();
  ({ deploy } = clients(cp));
});
afterAll(async () => {
  deploy?.destroy();
  await cp?.close();
});

/** The ARN the provider builds: partition, "codedeploy", its region, its account ('' when skipped), the resource. */
const arn = (account: string, resource: string) => `arn:aws:codedeploy:us-east-1:${account}:${resource}`;
const tagsOf = async (resourceArn: string) => (await deploy.send(new ListTagsForResourceCommand({ ResourceArn: resourceArn }))).Tags;

describe('Terraform aws_codedeploy_* resources, replayed', () => {
  it('aws_codedeploy_app: create with tags, read, retag, rename, delete', async () => {
    const created = await deploy.send(
      new CreateApplicationCommand({ applicationName: 'tf-app', computePlatform: 'Server', tags: [{ Key: 'team', Value: 'web' }] }),
    );
    const got = await deploy.send(new GetApplicationCommand({ applicationName: 'tf-app' }));
    expect(got.application).toMatchObject({
      applicationId: created.applicationId,
      applicationName: 'tf-app',
      computePlatform: 'Server',
      linkedToGitHub: false,
    });
    expect(got.application).not.toHaveProperty('tags');
    // skip_requesting_account_id: the account field is empty; otherwise it is the control plane's.
    expect(await tagsOf(arn('', 'application:tf-app'))).toEqual([{ Key: 'team', Value: 'web' }]);
    expect(await tagsOf(arn(cp.identity.accountId, 'application:tf-app'))).toEqual([{ Key: 'team', Value: 'web' }]);

    // tags = { team = "platform", env = "dev" }: the provider untags removed keys and tags changed ones.
    await deploy.send(
      new TagResourceCommand({
        ResourceArn: arn('', 'application:tf-app'),
        Tags: [
          { Key: 'team', Value: 'platform' },
          { Key: 'env', Value: 'dev' },
        ],
      }),
    );
    expect(await tagsOf(arn('', 'application:tf-app'))).toEqual([
      { Key: 'team', Value: 'platform' },
      { Key: 'env', Value: 'dev' },
    ]);
    await deploy.send(new UntagResourceCommand({ ResourceArn: arn('', 'application:tf-app'), TagKeys: ['team'] }));
    expect(await tagsOf(arn('', 'application:tf-app'))).toEqual([{ Key: 'env', Value: 'dev' }]);

    // A rename keeps the tags (they belong to the application, not to its name).
    await deploy.send(new UpdateApplicationCommand({ applicationName: 'tf-app', newApplicationName: 'tf-app-2' }));
    expect(await tagsOf(arn('', 'application:tf-app-2'))).toEqual([{ Key: 'env', Value: 'dev' }]);
    await expect(tagsOf(arn('', 'application:tf-app'))).rejects.toBeInstanceOf(ApplicationDoesNotExistException);

    await deploy.send(new DeleteApplicationCommand({ applicationName: 'tf-app-2' }));
    await expect(deploy.send(new GetApplicationCommand({ applicationName: 'tf-app-2' }))).rejects.toBeInstanceOf(
      ApplicationDoesNotExistException,
    );
    // Created again under the same name: a new application, with no tags of the old one.
    await deploy.send(new CreateApplicationCommand({ applicationName: 'tf-app-2', computePlatform: 'Server' }));
    expect(await tagsOf(arn('', 'application:tf-app-2'))).toEqual([]);
  });

  it('aws_codedeploy_deployment_config: create, read, tag, delete', async () => {
    const created = await deploy.send(
      new CreateDeploymentConfigCommand({
        deploymentConfigName: 'tf-two-at-a-time',
        computePlatform: 'Server',
        minimumHealthyHosts: { type: 'HOST_COUNT', value: 2 },
      }),
    );
    const got = await deploy.send(new GetDeploymentConfigCommand({ deploymentConfigName: 'tf-two-at-a-time' }));
    expect(got.deploymentConfigInfo).toMatchObject({
      deploymentConfigId: created.deploymentConfigId,
      deploymentConfigName: 'tf-two-at-a-time',
      computePlatform: 'Server',
      minimumHealthyHosts: { type: 'HOST_COUNT', value: 2 },
    });
    const configArn = arn('', 'deploymentconfig:tf-two-at-a-time');
    expect(await tagsOf(configArn)).toEqual([]);
    await deploy.send(new TagResourceCommand({ ResourceArn: configArn, Tags: [{ Key: 'owner', Value: 'sre' }] }));
    expect(await tagsOf(configArn)).toEqual([{ Key: 'owner', Value: 'sre' }]);
    // Built-in configs read as untagged and cannot be tagged.
    expect(await tagsOf(arn('', 'deploymentconfig:CodeDeployDefault.OneAtATime'))).toEqual([]);
    await expect(
      deploy.send(
        new TagResourceCommand({ ResourceArn: arn('', 'deploymentconfig:CodeDeployDefault.OneAtATime'), Tags: [{ Key: 'a', Value: 'b' }] }),
      ),
    ).rejects.toBeInstanceOf(ArnNotSupportedException);
    await deploy.send(new DeleteDeploymentConfigCommand({ deploymentConfigName: 'tf-two-at-a-time' }));
    await expect(tagsOf(configArn)).rejects.toThrow(/No deployment configuration found/);
  });

  it('aws_codedeploy_deployment_group: create with every block it sends for servers, read, update with removed blocks, delete', async () => {
    await deploy.send(new CreateApplicationCommand({ applicationName: 'tf-web', computePlatform: 'Server' }));
    const created = await deploy.send(
      new CreateDeploymentGroupCommand({
        applicationName: 'tf-web',
        deploymentGroupName: 'tf-staging',
        serviceRoleArn: 'arn:aws:iam::000000000000:role/codedeploy',
        deploymentConfigName: 'CodeDeployDefault.OneAtATime',
        deploymentStyle: { deploymentType: 'IN_PLACE', deploymentOption: 'WITHOUT_TRAFFIC_CONTROL' },
        onPremisesInstanceTagFilters: [{ Key: 'env', Value: 'staging', Type: 'KEY_AND_VALUE' }],
        autoRollbackConfiguration: { enabled: true, events: ['DEPLOYMENT_FAILURE'] },
        alarmConfiguration: { enabled: true, ignorePollAlarmFailure: false, alarms: [{ name: 'high-5xx' }] },
        outdatedInstancesStrategy: 'UPDATE',
        tags: [{ Key: 'team', Value: 'web' }],
      }),
    );
    const read = async () =>
      (await deploy.send(new GetDeploymentGroupCommand({ applicationName: 'tf-web', deploymentGroupName: 'tf-staging' })))
        .deploymentGroupInfo;
    expect(await read()).toMatchObject({
      applicationName: 'tf-web',
      deploymentGroupId: created.deploymentGroupId,
      deploymentGroupName: 'tf-staging',
      deploymentConfigName: 'CodeDeployDefault.OneAtATime',
      computePlatform: 'Server',
      serviceRoleArn: 'arn:aws:iam::000000000000:role/codedeploy',
      outdatedInstancesStrategy: 'UPDATE',
      deploymentStyle: { deploymentType: 'IN_PLACE', deploymentOption: 'WITHOUT_TRAFFIC_CONTROL' },
      onPremisesInstanceTagFilters: [{ Key: 'env', Value: 'staging', Type: 'KEY_AND_VALUE' }],
      autoRollbackConfiguration: { enabled: true, events: ['DEPLOYMENT_FAILURE'] },
      alarmConfiguration: { enabled: true, ignorePollAlarmFailure: false, alarms: [{ name: 'high-5xx' }] },
    });
    const groupArn = arn('', 'deploymentgroup:tf-web/tf-staging');
    expect(await tagsOf(groupArn)).toEqual([{ Key: 'team', Value: 'web' }]);

    // Removing auto_rollback_configuration and alarm_configuration blocks sends these shapes, and
    // the provider sends autoScalingGroups (empty) with it.
    await deploy.send(
      new UpdateDeploymentGroupCommand({
        applicationName: 'tf-web',
        currentDeploymentGroupName: 'tf-staging',
        serviceRoleArn: 'arn:aws:iam::000000000000:role/codedeploy',
        autoRollbackConfiguration: { enabled: false, events: [] },
        alarmConfiguration: { alarms: [], enabled: false, ignorePollAlarmFailure: false },
        autoScalingGroups: [],
      }),
    );
    expect(await read()).toMatchObject({
      autoRollbackConfiguration: { enabled: false, events: [] },
      alarmConfiguration: { alarms: [], enabled: false, ignorePollAlarmFailure: false },
    });

    // Renaming the group keeps its tags.
    await deploy.send(
      new UpdateDeploymentGroupCommand({
        applicationName: 'tf-web',
        currentDeploymentGroupName: 'tf-staging',
        newDeploymentGroupName: 'tf-stage',
        serviceRoleArn: 'arn:aws:iam::000000000000:role/codedeploy',
      }),
    );
    expect(await tagsOf(arn('', 'deploymentgroup:tf-web/tf-stage'))).toEqual([{ Key: 'team', Value: 'web' }]);
    await expect(tagsOf(groupArn)).rejects.toBeInstanceOf(DeploymentGroupDoesNotExistException);

    await deploy.send(new DeleteDeploymentGroupCommand({ applicationName: 'tf-web', deploymentGroupName: 'tf-stage' }));
    await expect(read()).rejects.toBeInstanceOf(DeploymentGroupDoesNotExistException);
  });

  it('refuses bad ARNs and tags with the service error codes and a reason', async () => {
    await deploy.send(new CreateApplicationCommand({ applicationName: 'tf-errors', computePlatform: 'Server' }));
    await expect(tagsOf('not-an-arn')).rejects.toBeInstanceOf(InvalidArnException);
    await expect(tagsOf('arn:aws:s3:us-east-1::application:tf-errors')).rejects.toBeInstanceOf(ArnNotSupportedException);
    await expect(tagsOf('arn:aws:codedeploy:eu-west-1::application:tf-errors')).rejects.toThrow(/region eu-west-1.*us-east-1/);
    await expect(tagsOf('arn:aws:codedeploy:us-east-1:123456789012:application:tf-errors')).rejects.toThrow(/account 123456789012/);
    await expect(tagsOf('arn:aws:codedeploy:us-east-1::deploymentgroup:tf-errors')).rejects.toBeInstanceOf(InvalidArnException);
    await expect(
      deploy.send(new TagResourceCommand({ ResourceArn: arn('', 'application:tf-errors'), Tags: [{ Key: 'aws:reserved', Value: 'x' }] })),
    ).rejects.toBeInstanceOf(InvalidTagsToAddException);
    const many = Array.from({ length: 51 }, (_, i) => ({ Key: `k${i}`, Value: 'v' }));
    await expect(deploy.send(new TagResourceCommand({ ResourceArn: arn('', 'application:tf-errors'), Tags: many }))).rejects.toThrow(
      /at most 50/,
    );
    // Nothing of the refused calls was kept.
    expect(await tagsOf(arn('', 'application:tf-errors'))).toEqual([]);
  });

  it.skipIf(!hasAwsCli)('aws sts get-caller-identity, and aws deploy tag-resource / list-tags-for-resource / untag-resource', async () => {
    await deploy.send(new CreateApplicationCommand({ applicationName: 'cli-tags', computePlatform: 'Server' }));
    const cli = awsCli(cp.url, await tempDir('cda-tf-aws-'));
    /** stdout of a command that must succeed. */
    const aws = async (...args: string[]) => {
      const r = await cli(...args);
      expect(r.code, r.stderr).toBe(0);
      return r.stdout;
    };
    // What Terraform asks first (without skip_requesting_account_id), and scripts to check their setup.
    expect(JSON.parse(await aws('sts', 'get-caller-identity'))).toEqual({
      UserId: 'AKIDLOCALCLI',
      Account: cp.identity.accountId,
      Arn: `arn:aws:iam::${cp.identity.accountId}:user/AKIDLOCALCLI`,
    });
    const refused = await cli('sts', 'assume-role', '--role-arn', 'arn:aws:iam::000000000000:role/x', '--role-session-name', 'session');
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/InvalidAction.*GetCallerIdentity only/);
    // The ELBv2 API on the same POST / is unaffected.
    expect(JSON.parse(await aws('elbv2', 'describe-target-groups'))).toEqual({ TargetGroups: [] });
    const resourceArn = arn(cp.identity.accountId, 'application:cli-tags');
    await aws('deploy', 'tag-resource', '--resource-arn', resourceArn, '--tags', 'Key=env,Value=dev', 'Key=team,Value=web');
    await aws('deploy', 'untag-resource', '--resource-arn', resourceArn, '--tag-keys', 'team');
    expect(JSON.parse(await aws('deploy', 'list-tags-for-resource', '--resource-arn', resourceArn))).toEqual({
      Tags: [{ Key: 'env', Value: 'dev' }],
    });
  });
});
