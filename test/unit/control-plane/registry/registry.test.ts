import { describe, expect, it } from 'vitest';
import { captureLogger } from '../../../helpers/temp.js';
import { registryHarness, seeded } from '../registry-harness.js';

const ROLE = 'arn:aws:iam::111122223333:role/cd';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('registry: applications', () => {
  it('creates, gets, batch-gets and lists applications', () => {
    const h = registryHarness();
    const { applicationId } = h.call('CreateApplication', {
      applicationName: 'web',
      computePlatform: 'Server',
      tags: [{ Key: 'team', Value: 'a' }],
    });
    expect(applicationId).toMatch(UUID);
    h.clock.now += 5000;
    h.call('CreateApplication', { applicationName: 'api' });
    expect(h.call('GetApplication', { applicationName: 'web' })).toEqual({
      application: {
        applicationId,
        applicationName: 'web',
        createTime: 1_700_000_000,
        linkedToGitHub: false,
        computePlatform: 'Server',
      },
    });
    // Tags are not part of ApplicationInfo: ListTagsForResource reads them.
    expect(h.call('ListTagsForResource', { ResourceArn: `arn:aws:codedeploy:eu-west-1:111122223333:application:web` })).toEqual({
      Tags: [{ Key: 'team', Value: 'a' }],
    });
    expect(h.call('ListApplications')).toEqual({ applications: ['api', 'web'] });
    const batch = h.call('BatchGetApplications', { applicationNames: ['api', 'web'] }).applicationsInfo as {
      applicationName: string;
      createTime: number;
    }[];
    expect(batch.map((a) => [a.applicationName, a.createTime])).toEqual([
      ['api', 1_700_000_005],
      ['web', 1_700_000_000],
    ]);
  });

  it('refuses missing, invalid and duplicate names with the real codes', () => {
    const h = registryHarness();
    h.fails('CreateApplication', {}, 'ApplicationNameRequiredException');
    h.fails('CreateApplication', { applicationName: 'x'.repeat(101) }, 'InvalidApplicationNameException');
    h.fails('CreateApplication', { applicationName: 'web', computePlatform: 'Lambda' }, 'InvalidComputePlatformException');
    h.fails('CreateApplication', { applicationName: 'web', tags: [{ Value: 'no-key' }] }, 'InvalidTagsToAddException');
    h.fails('CreateApplication', { applicationName: 42 }, 'ValidationException');
    h.call('CreateApplication', { applicationName: 'x'.repeat(100) });
    h.call('CreateApplication', { applicationName: 'web' });
    expect(h.fails('CreateApplication', { applicationName: 'web' }, 'ApplicationAlreadyExistsException')).toContain(
      'Application already exists with name web',
    );
    expect(h.fails('GetApplication', { applicationName: 'nope' }, 'ApplicationDoesNotExistException')).toBe(
      'No application found for name: nope',
    );
    h.fails('BatchGetApplications', { applicationNames: ['web', 'nope'] }, 'ApplicationDoesNotExistException');
    h.fails('BatchGetApplications', { applicationNames: [] }, 'ApplicationNameRequiredException');
  });

  it('pages ListApplications by 100 and rejects a forged token', () => {
    const h = registryHarness();
    for (let i = 0; i < 150; i++) h.call('CreateApplication', { applicationName: `app-${String(i).padStart(3, '0')}` });
    const first = h.call('ListApplications');
    expect((first.applications as string[]).length).toBe(100);
    const second = h.call('ListApplications', { nextToken: first.nextToken });
    expect(second.applications as string[]).toHaveLength(50);
    expect((second.applications as string[])[0]).toBe('app-100');
    expect(second.nextToken).toBeUndefined();
    h.fails('ListApplications', { nextToken: 'not-a-token' }, 'InvalidNextTokenException');
  });

  it('renames an application with its groups and revisions', () => {
    const h = registryHarness();
    const { deploymentGroupId } = seeded(h);
    h.call('RegisterApplicationRevision', {
      applicationName: 'web',
      revision: { revisionType: 'S3', s3Location: { bucket: 'b', key: 'k.zip', bundleType: 'zip' } },
    });
    h.call('CreateApplication', { applicationName: 'taken' });
    h.fails('UpdateApplication', { applicationName: 'web', newApplicationName: 'taken' }, 'ApplicationAlreadyExistsException');
    h.fails('UpdateApplication', { applicationName: 'nope', newApplicationName: 'x' }, 'ApplicationDoesNotExistException');
    expect(h.call('UpdateApplication', { applicationName: 'web', newApplicationName: 'site' })).toEqual({});
    h.fails('GetApplication', { applicationName: 'web' }, 'ApplicationDoesNotExistException');
    expect(h.call('GetDeploymentGroup', { applicationName: 'site', deploymentGroupName: 'prod' }).deploymentGroupInfo).toMatchObject({
      applicationName: 'site',
      deploymentGroupId,
    });
    expect(h.registry.getDeploymentGroupById(deploymentGroupId)?.applicationName).toBe('site');
    expect(h.call('ListApplicationRevisions', { applicationName: 'site' }).revisions).toHaveLength(1);
  });

  it('deletes an application with its groups, and deleting a missing one succeeds', () => {
    const h = registryHarness();
    const { deploymentGroupId } = seeded(h);
    expect(h.call('DeleteApplication', { applicationName: 'web' })).toEqual({});
    expect(h.registry.getApplication('web')).toBeUndefined();
    expect(h.registry.getDeploymentGroupById(deploymentGroupId)).toBeUndefined();
    expect(h.call('DeleteApplication', { applicationName: 'web' })).toEqual({});
    h.fails('DeleteApplication', {}, 'ApplicationNameRequiredException');
    // The name is free again, and the new application has no groups.
    h.call('CreateApplication', { applicationName: 'web' });
    expect(h.call('ListDeploymentGroups', { applicationName: 'web' })).toEqual({ applicationName: 'web', deploymentGroups: [] });
  });
});

describe('registry: deployment groups', () => {
  const base = { applicationName: 'web', deploymentGroupName: 'prod', serviceRoleArn: ROLE };

  it('creates a group with defaults and returns it in the API shape', () => {
    const h = registryHarness();
    h.call('CreateApplication', { applicationName: 'web' });
    const { deploymentGroupId } = h.call('CreateDeploymentGroup', {
      ...base,
      onPremisesInstanceTagFilters: [{ Key: 'env', Value: 'prod', Type: 'KEY_AND_VALUE' }, { Key: 'canary' }],
    });
    expect(deploymentGroupId).toMatch(UUID);
    expect(h.call('GetDeploymentGroup', { applicationName: 'web', deploymentGroupName: 'prod' })).toEqual({
      deploymentGroupInfo: {
        applicationName: 'web',
        deploymentGroupId,
        deploymentGroupName: 'prod',
        deploymentConfigName: 'CodeDeployDefault.OneAtATime',
        ec2TagFilters: [],
        // A filter without Type gets the one its members imply.
        onPremisesInstanceTagFilters: [
          { Key: 'env', Value: 'prod', Type: 'KEY_AND_VALUE' },
          { Key: 'canary', Type: 'KEY_ONLY' },
        ],
        serviceRoleArn: ROLE,
        deploymentStyle: { deploymentType: 'IN_PLACE', deploymentOption: 'WITHOUT_TRAFFIC_CONTROL' },
        outdatedInstancesStrategy: 'UPDATE',
        computePlatform: 'Server',
      },
    });
    expect(h.registry.getDeploymentGroup('web', 'prod')?.deploymentGroupId).toBe(deploymentGroupId);
    expect(h.registry.getDeploymentGroupById(deploymentGroupId as string)?.deploymentGroupName).toBe('prod');
  });

  it('keeps the settings it supports: config, rollback, strategy, explicit in-place style, tag set', () => {
    const h = registryHarness();
    h.call('CreateApplication', { applicationName: 'web' });
    h.call('CreateDeploymentGroup', {
      ...base,
      deploymentConfigName: 'CodeDeployDefault.AllAtOnce',
      autoRollbackConfiguration: { enabled: true, events: ['DEPLOYMENT_FAILURE', 'DEPLOYMENT_FAILURE'] },
      outdatedInstancesStrategy: 'IGNORE',
      deploymentStyle: { deploymentType: 'IN_PLACE', deploymentOption: 'WITHOUT_TRAFFIC_CONTROL' },
      onPremisesTagSet: { onPremisesTagSetList: [[{ Key: 'env', Value: 'prod', Type: 'KEY_AND_VALUE' }]] },
      tags: [{ Key: 'owner', Value: 'me' }],
    });
    expect(h.call('GetDeploymentGroup', { applicationName: 'web', deploymentGroupName: 'prod' }).deploymentGroupInfo).toMatchObject({
      deploymentConfigName: 'CodeDeployDefault.AllAtOnce',
      autoRollbackConfiguration: { enabled: true, events: ['DEPLOYMENT_FAILURE'] },
      outdatedInstancesStrategy: 'IGNORE',
      onPremisesInstanceTagFilters: [{ Key: 'env', Value: 'prod', Type: 'KEY_AND_VALUE' }],
    });
  });

  it('refuses each invalid group with the real error code', () => {
    const h = registryHarness();
    h.call('CreateApplication', { applicationName: 'web' });
    h.fails('CreateDeploymentGroup', { ...base, applicationName: undefined }, 'ApplicationNameRequiredException');
    h.fails('CreateDeploymentGroup', { ...base, applicationName: 'nope' }, 'ApplicationDoesNotExistException');
    h.fails('CreateDeploymentGroup', { ...base, deploymentGroupName: '' }, 'DeploymentGroupNameRequiredException');
    h.fails('CreateDeploymentGroup', { ...base, deploymentGroupName: 'g'.repeat(101) }, 'InvalidDeploymentGroupNameException');
    expect(h.fails('CreateDeploymentGroup', { ...base, serviceRoleArn: undefined }, 'RoleRequiredException')).toContain(
      'Role ARN is required.',
    );
    h.fails('CreateDeploymentGroup', { ...base, deploymentConfigName: 'Missing' }, 'DeploymentConfigDoesNotExistException');
    const blueGreen = h.fails(
      'CreateDeploymentGroup',
      { ...base, deploymentStyle: { deploymentType: 'BLUE_GREEN' } },
      'InvalidDeploymentStyleException',
    );
    expect(blueGreen).toContain('needs deploymentOption WITH_TRAFFIC_CONTROL');
    h.fails('CreateDeploymentGroup', { ...base, deploymentStyle: { deploymentType: 'SIDEWAYS' } }, 'InvalidDeploymentStyleException');
    h.fails('CreateDeploymentGroup', { ...base, deploymentStyle: { deploymentOption: 'SOMETIMES' } }, 'InvalidDeploymentStyleException');
    expect(
      h.fails(
        'CreateDeploymentGroup',
        { ...base, deploymentStyle: { deploymentOption: 'WITH_TRAFFIC_CONTROL' } },
        'InvalidLoadBalancerInfoException',
      ),
    ).toContain('needs loadBalancerInfo.targetGroupInfoList');
    expect(
      h.fails(
        'CreateDeploymentGroup',
        { ...base, loadBalancerInfo: { targetGroupInfoList: [{ name: 'tg' }] } },
        'InvalidLoadBalancerInfoException',
      ),
    ).toContain('no target group named "tg" exists');
    expect(
      h.fails(
        'CreateDeploymentGroup',
        { ...base, loadBalancerInfo: { elbInfoList: [{ name: 'classic' }] } },
        'InvalidLoadBalancerInfoException',
      ),
    ).toContain('Classic Load Balancers');
    h.fails(
      'CreateDeploymentGroup',
      { ...base, blueGreenDeploymentConfiguration: { greenFleetProvisioningOption: { action: 'COPY_AUTO_SCALING_GROUP' } } },
      'InvalidBlueGreenDeploymentConfigurationException',
    );
    h.fails(
      'CreateDeploymentGroup',
      { ...base, blueGreenDeploymentConfiguration: { terminateBlueInstancesOnDeploymentSuccess: { terminationWaitTimeInMinutes: 2881 } } },
      'InvalidBlueGreenDeploymentConfigurationException',
    );
    h.fails('CreateDeploymentGroup', { ...base, autoScalingGroups: ['asg-1'] }, 'InvalidAutoScalingGroupException');
    h.fails('CreateDeploymentGroup', { ...base, ecsServices: [{ serviceName: 's', clusterName: 'c' }] }, 'InvalidECSServiceException');
    expect(
      h.fails(
        'CreateDeploymentGroup',
        { ...base, onPremisesInstanceTagFilters: [{ Key: 'env', Value: 'prod', Type: 'BOTH' }] },
        'InvalidTagException',
      ),
    ).toContain('onPremisesInstanceTagFilters.1');
    h.fails(
      'CreateDeploymentGroup',
      { ...base, onPremisesInstanceTagFilters: [{ Key: 'env', Type: 'KEY_AND_VALUE' }] },
      'InvalidTagException',
    );
    h.fails('CreateDeploymentGroup', { ...base, ec2TagFilters: [{ Value: 'x', Type: 'KEY_ONLY' }] }, 'InvalidTagException');
    h.fails(
      'CreateDeploymentGroup',
      {
        ...base,
        onPremisesInstanceTagFilters: [{ Key: 'a', Type: 'KEY_ONLY' }],
        onPremisesTagSet: { onPremisesTagSetList: [[{ Key: 'b', Type: 'KEY_ONLY' }]] },
      },
      'InvalidOnPremisesTagCombinationException',
    );
    h.fails(
      'CreateDeploymentGroup',
      { ...base, autoRollbackConfiguration: { enabled: true, events: ['DEPLOYMENT_EXPLODED'] } },
      'InvalidAutoRollbackConfigException',
    );
    h.fails(
      'CreateDeploymentGroup',
      { ...base, autoRollbackConfiguration: { enabled: true, events: [] } },
      'InvalidAutoRollbackConfigException',
    );
    h.fails('CreateDeploymentGroup', { ...base, outdatedInstancesStrategy: 'SOMETIMES' }, 'ValidationException');
    expect(h.call('ListDeploymentGroups', { applicationName: 'web' }).deploymentGroups).toEqual([]);
    h.call('CreateDeploymentGroup', base);
    h.fails('CreateDeploymentGroup', base, 'DeploymentGroupAlreadyExistsException');
  });

  it('stores EC2 tag filters and warns once that they select nothing here', () => {
    const log = captureLogger();
    const h = registryHarness({ logger: log.logger });
    h.call('CreateApplication', { applicationName: 'web' });
    h.call('CreateDeploymentGroup', { ...base, ec2TagFilters: [{ Key: 'Name', Value: 'web', Type: 'KEY_AND_VALUE' }] });
    h.call('CreateDeploymentGroup', { ...base, deploymentGroupName: 'two', ec2TagFilters: [{ Key: 'Name', Type: 'KEY_ONLY' }] });
    const group = h.registry.getDeploymentGroup('web', 'prod');
    expect(group?.ec2TagFilters).toEqual([{ Key: 'Name', Value: 'web', Type: 'KEY_AND_VALUE' }]);
    h.call('RegisterOnPremisesInstance', { instanceName: 'web', iamUserArn: 'arn:aws:iam::123456789012:user/web' });
    h.call('AddTagsToOnPremisesInstances', { instanceNames: ['web'], tags: [{ Key: 'Name', Value: 'web' }] });
    expect(group && h.registry.resolveTargets(group)).toEqual([]);
    const warnings = log.lines().filter((l) => l.level === 40 && String(l.msg).includes('ec2TagFilters'));
    expect(warnings).toHaveLength(1);
  });

  it('batch-gets groups, naming the missing ones, and lists them sorted', () => {
    const h = registryHarness();
    h.call('CreateApplication', { applicationName: 'web' });
    h.call('CreateDeploymentGroup', { ...base, deploymentGroupName: 'b' });
    h.call('CreateDeploymentGroup', { ...base, deploymentGroupName: 'a' });
    expect(h.call('ListDeploymentGroups', { applicationName: 'web' })).toEqual({ applicationName: 'web', deploymentGroups: ['a', 'b'] });
    const out = h.call('BatchGetDeploymentGroups', { applicationName: 'web', deploymentGroupNames: ['a', 'zzz'] });
    expect((out.deploymentGroupsInfo as { deploymentGroupName: string }[]).map((g) => g.deploymentGroupName)).toEqual(['a']);
    expect(out.errorMessage).toContain('zzz');
    h.fails('BatchGetDeploymentGroups', { applicationName: 'web', deploymentGroupNames: [] }, 'DeploymentGroupNameRequiredException');
    h.fails('ListDeploymentGroups', { applicationName: 'nope' }, 'ApplicationDoesNotExistException');
    expect(
      h.fails('GetDeploymentGroup', { applicationName: 'web', deploymentGroupName: 'zzz' }, 'DeploymentGroupDoesNotExistException'),
    ).toContain('No Deployment Group found for name: zzz');
    h.fails('GetDeploymentGroup', { applicationName: 'nope', deploymentGroupName: 'a' }, 'ApplicationDoesNotExistException');
  });

  it('updates a group: rename, config, filters, rollback, role; refuses clashes', () => {
    const h = registryHarness();
    const { deploymentGroupId } = seeded(h);
    h.call('CreateDeploymentConfig', { deploymentConfigName: 'Two', minimumHealthyHosts: { type: 'HOST_COUNT', value: 2 } });
    h.call('CreateDeploymentGroup', { ...base, deploymentGroupName: 'other' });
    h.fails(
      'UpdateDeploymentGroup',
      { applicationName: 'web', currentDeploymentGroupName: 'prod', newDeploymentGroupName: 'other' },
      'DeploymentGroupAlreadyExistsException',
    );
    h.fails(
      'UpdateDeploymentGroup',
      { applicationName: 'web', currentDeploymentGroupName: 'nope' },
      'DeploymentGroupDoesNotExistException',
    );
    h.fails(
      'UpdateDeploymentGroup',
      { applicationName: 'web', currentDeploymentGroupName: 'prod', deploymentConfigName: 'Missing' },
      'DeploymentConfigDoesNotExistException',
    );
    h.fails(
      'UpdateDeploymentGroup',
      { applicationName: 'web', currentDeploymentGroupName: 'prod', deploymentStyle: { deploymentType: 'BLUE_GREEN' } },
      'InvalidDeploymentStyleException',
    );
    h.fails('UpdateDeploymentGroup', { applicationName: 'web', currentDeploymentGroupName: '' }, 'DeploymentGroupNameRequiredException');
    const out = h.call('UpdateDeploymentGroup', {
      applicationName: 'web',
      currentDeploymentGroupName: 'prod',
      newDeploymentGroupName: 'production',
      deploymentConfigName: 'Two',
      onPremisesInstanceTagFilters: [{ Key: 'role', Type: 'KEY_ONLY' }],
      autoRollbackConfiguration: { enabled: true, events: ['DEPLOYMENT_FAILURE'] },
      serviceRoleArn: 'arn:aws:iam::111122223333:role/other',
    });
    expect(out).toEqual({ hooksNotCleanedUp: [] });
    h.fails('GetDeploymentGroup', { applicationName: 'web', deploymentGroupName: 'prod' }, 'DeploymentGroupDoesNotExistException');
    expect(h.registry.getDeploymentGroupById(deploymentGroupId)).toMatchObject({
      deploymentGroupName: 'production',
      deploymentConfigName: 'Two',
      onPremisesInstanceTagFilters: [{ Key: 'role', Type: 'KEY_ONLY' }],
      autoRollbackConfiguration: { enabled: true, events: ['DEPLOYMENT_FAILURE'] },
      serviceRoleArn: 'arn:aws:iam::111122223333:role/other',
    });
    // Members not given stay as they were.
    h.call('UpdateDeploymentGroup', { applicationName: 'web', currentDeploymentGroupName: 'production' });
    expect(h.registry.getDeploymentGroupById(deploymentGroupId)?.deploymentConfigName).toBe('Two');
  });

  it('deletes a group (and a missing one without error)', () => {
    const h = registryHarness();
    const { deploymentGroupId } = seeded(h);
    expect(h.call('DeleteDeploymentGroup', { applicationName: 'web', deploymentGroupName: 'prod' })).toEqual({ hooksNotCleanedUp: [] });
    expect(h.registry.getDeploymentGroupById(deploymentGroupId)).toBeUndefined();
    expect(h.call('DeleteDeploymentGroup', { applicationName: 'web', deploymentGroupName: 'prod' })).toEqual({ hooksNotCleanedUp: [] });
    h.fails('DeleteDeploymentGroup', { applicationName: 'web' }, 'DeploymentGroupNameRequiredException');
  });
});

describe('registry: deployment configs', () => {
  it('serves the built-ins with fixed ids, as AWS describes them', () => {
    const h = registryHarness();
    const one = h.call('GetDeploymentConfig', { deploymentConfigName: 'CodeDeployDefault.OneAtATime' }).deploymentConfigInfo;
    expect(one).toMatchObject({
      deploymentConfigName: 'CodeDeployDefault.OneAtATime',
      minimumHealthyHosts: { type: 'MOST_CONCURRENCY', value: 1 },
      computePlatform: 'Server',
    });
    const again = registryHarness().call('GetDeploymentConfig', {
      deploymentConfigName: 'CodeDeployDefault.OneAtATime',
    }).deploymentConfigInfo;
    expect(again).toEqual(one);
    expect(h.registry.getDeploymentConfig('CodeDeployDefault.HalfAtATime')?.minimumHealthyHosts).toEqual({
      type: 'FLEET_PERCENT',
      value: 50,
    });
    expect(h.registry.getDeploymentConfig('CodeDeployDefault.AllAtOnce')?.minimumHealthyHosts).toEqual({ type: 'HOST_COUNT', value: 0 });
    expect(h.call('ListDeploymentConfigs').deploymentConfigsList).toEqual([
      'CodeDeployDefault.OneAtATime',
      'CodeDeployDefault.HalfAtATime',
      'CodeDeployDefault.AllAtOnce',
    ]);
  });

  it('creates, lists, gets and deletes custom configs', () => {
    const h = registryHarness();
    const { deploymentConfigId } = h.call('CreateDeploymentConfig', {
      deploymentConfigName: 'ThreeQuarters',
      minimumHealthyHosts: { type: 'FLEET_PERCENT', value: 75 },
      computePlatform: 'Server',
    });
    expect(deploymentConfigId).toMatch(UUID);
    expect(h.call('GetDeploymentConfig', { deploymentConfigName: 'ThreeQuarters' })).toEqual({
      deploymentConfigInfo: {
        deploymentConfigId,
        deploymentConfigName: 'ThreeQuarters',
        minimumHealthyHosts: { type: 'FLEET_PERCENT', value: 75 },
        createTime: 1_700_000_000,
        computePlatform: 'Server',
      },
    });
    expect(h.call('ListDeploymentConfigs').deploymentConfigsList).toContain('ThreeQuarters');
    expect(h.call('DeleteDeploymentConfig', { deploymentConfigName: 'ThreeQuarters' })).toEqual({});
    h.fails('GetDeploymentConfig', { deploymentConfigName: 'ThreeQuarters' }, 'DeploymentConfigDoesNotExistException');
    expect(h.call('DeleteDeploymentConfig', { deploymentConfigName: 'ThreeQuarters' })).toEqual({});
  });

  it('refuses invalid configs and protected deletes', () => {
    const h = registryHarness();
    const mhh = { type: 'HOST_COUNT', value: 1 };
    h.fails('CreateDeploymentConfig', { minimumHealthyHosts: mhh }, 'DeploymentConfigNameRequiredException');
    h.fails(
      'CreateDeploymentConfig',
      { deploymentConfigName: 'CodeDeployDefault.Mine', minimumHealthyHosts: mhh },
      'InvalidDeploymentConfigNameException',
    );
    h.fails(
      'CreateDeploymentConfig',
      { deploymentConfigName: 'n'.repeat(101), minimumHealthyHosts: mhh },
      'InvalidDeploymentConfigNameException',
    );
    h.fails('CreateDeploymentConfig', { deploymentConfigName: 'X' }, 'InvalidMinimumHealthyHostValueException');
    h.fails(
      'CreateDeploymentConfig',
      { deploymentConfigName: 'X', minimumHealthyHosts: { type: 'HOST_COUNT', value: -1 } },
      'InvalidMinimumHealthyHostValueException',
    );
    h.fails(
      'CreateDeploymentConfig',
      { deploymentConfigName: 'X', minimumHealthyHosts: { type: 'FLEET_PERCENT', value: 101 } },
      'InvalidMinimumHealthyHostValueException',
    );
    h.fails(
      'CreateDeploymentConfig',
      { deploymentConfigName: 'X', minimumHealthyHosts: { type: 'FLEET_PERCENT', value: 2.5 } },
      'InvalidMinimumHealthyHostValueException',
    );
    h.fails(
      'CreateDeploymentConfig',
      { deploymentConfigName: 'X', minimumHealthyHosts: { type: 'MOST_CONCURRENCY', value: 1 } },
      'InvalidMinimumHealthyHostValueException',
    );
    h.fails(
      'CreateDeploymentConfig',
      { deploymentConfigName: 'X', minimumHealthyHosts: mhh, computePlatform: 'ECS' },
      'InvalidComputePlatformException',
    );
    h.call('CreateDeploymentConfig', { deploymentConfigName: 'X', minimumHealthyHosts: { type: 'FLEET_PERCENT', value: 100 } });
    h.fails('CreateDeploymentConfig', { deploymentConfigName: 'X', minimumHealthyHosts: mhh }, 'DeploymentConfigAlreadyExistsException');
    h.fails('DeleteDeploymentConfig', { deploymentConfigName: 'CodeDeployDefault.AllAtOnce' }, 'InvalidOperationException');
    h.fails('DeleteDeploymentConfig', {}, 'DeploymentConfigNameRequiredException');
    h.call('CreateApplication', { applicationName: 'web' });
    h.call('CreateDeploymentGroup', { applicationName: 'web', deploymentGroupName: 'g', serviceRoleArn: ROLE, deploymentConfigName: 'X' });
    expect(h.fails('DeleteDeploymentConfig', { deploymentConfigName: 'X' }, 'DeploymentConfigInUseException')).toContain('web/g');
    h.fails('GetDeploymentConfig', { deploymentConfigName: 'Nope' }, 'DeploymentConfigDoesNotExistException');
  });
});
