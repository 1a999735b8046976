import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { InstanceInfo, RevisionLocation } from '../../../../control-plane/model.js';
import { openDatabase } from '../../../../control-plane/store/database.js';
import { tempDir } from '../../../helpers/temp.js';
import { registryHarness, seeded, SESSION_ARN, USER_ARN } from '../registry-harness.js';

const s3 = (key: string, extra: Record<string, string> = {}): RevisionLocation => ({
  revisionType: 'S3',
  s3Location: { bucket: 'releases', key, bundleType: 'zip', ...extra },
});

describe('registry: on-premises instances', () => {
  it('registers an instance with an IAM user ARN and returns it in the API shape', () => {
    const h = registryHarness();
    expect(h.call('RegisterOnPremisesInstance', { instanceName: 'host-1', iamUserArn: USER_ARN('host-1') })).toEqual({});
    const info = h.call('GetOnPremisesInstance', { instanceName: 'host-1' }).instanceInfo as InstanceInfo;
    expect(info).toEqual({
      instanceName: 'host-1',
      iamUserArn: USER_ARN('host-1'),
      instanceArn: expect.any(String),
      registerTime: 1_700_000_000,
      tags: [],
    });
    expect(info.instanceArn).toMatch(/^arn:aws:codedeploy:eu-west-1:111122223333:instance\/host-1_[0-9a-f]{20}$/);
    h.call('RegisterOnPremisesInstance', { instanceName: 'host-2', iamSessionArn: SESSION_ARN('host-2') });
    expect(h.registry.instanceByHostIdentifier(SESSION_ARN('host-2'))?.instanceName).toBe('host-2');
    expect(h.registry.instanceByHostIdentifier(USER_ARN('host-1'))?.instanceName).toBe('host-1');
    expect(h.registry.instanceByHostIdentifier(USER_ARN('stranger'))).toBeUndefined();
  });

  it('refuses bad registrations with the real codes', () => {
    const h = registryHarness();
    h.fails('RegisterOnPremisesInstance', { iamUserArn: USER_ARN('a') }, 'InstanceNameRequiredException');
    h.fails('RegisterOnPremisesInstance', { instanceName: 'has space', iamUserArn: USER_ARN('a') }, 'InvalidInstanceNameException');
    h.fails('RegisterOnPremisesInstance', { instanceName: 'a/b', iamUserArn: USER_ARN('a') }, 'InvalidInstanceNameException');
    h.fails('RegisterOnPremisesInstance', { instanceName: 'a' }, 'IamArnRequiredException');
    h.fails(
      'RegisterOnPremisesInstance',
      { instanceName: 'a', iamUserArn: USER_ARN('a'), iamSessionArn: SESSION_ARN('a') },
      'MultipleIamArnsProvidedException',
    );
    h.fails('RegisterOnPremisesInstance', { instanceName: 'a', iamUserArn: 'arn:aws:iam::123:user/a' }, 'InvalidIamUserArnException');
    h.fails(
      'RegisterOnPremisesInstance',
      { instanceName: 'a', iamUserArn: 'arn:aws:iam::123456789012:role/a' },
      'InvalidIamUserArnException',
    );
    h.fails(
      'RegisterOnPremisesInstance',
      { instanceName: 'a', iamSessionArn: 'arn:aws:sts::123456789012:federated-user/a' },
      'InvalidIamSessionArnException',
    );
    h.call('RegisterOnPremisesInstance', { instanceName: 'a', iamUserArn: USER_ARN('a') });
    h.call('RegisterOnPremisesInstance', { instanceName: 's', iamSessionArn: SESSION_ARN('s') });
    h.fails('RegisterOnPremisesInstance', { instanceName: 'a', iamUserArn: USER_ARN('other') }, 'InstanceNameAlreadyRegisteredException');
    expect(
      h.fails('RegisterOnPremisesInstance', { instanceName: 'b', iamUserArn: USER_ARN('a') }, 'IamUserArnAlreadyRegisteredException'),
    ).toContain('instance a');
    h.fails(
      'RegisterOnPremisesInstance',
      { instanceName: 'c', iamSessionArn: SESSION_ARN('s') },
      'IamSessionArnAlreadyRegisteredException',
    );
    h.fails('GetOnPremisesInstance', { instanceName: 'nope' }, 'InstanceNotRegisteredException');
    h.fails('GetOnPremisesInstance', {}, 'InstanceNameRequiredException');
  });

  it('deregisters: still visible with deregisterTime, name kept, ARN freed, no longer a target', () => {
    const h = registryHarness();
    seeded(h, { 'host-1': [{ Key: 'env', Value: 'prod' }] });
    const group = h.registry.getDeploymentGroup('web', 'prod');
    if (!group) throw new Error('group missing');
    expect(h.registry.resolveTargets(group).map((i) => i.instanceName)).toEqual(['host-1']);
    h.clock.now += 60_000;
    expect(h.call('DeregisterOnPremisesInstance', { instanceName: 'host-1' })).toEqual({});
    expect(h.call('GetOnPremisesInstance', { instanceName: 'host-1' }).instanceInfo).toMatchObject({
      instanceName: 'host-1',
      deregisterTime: 1_700_000_060,
    });
    expect(h.registry.resolveTargets(group)).toEqual([]);
    expect(h.registry.instanceByHostIdentifier(USER_ARN('host-1'))).toBeUndefined();
    h.fails('DeregisterOnPremisesInstance', { instanceName: 'host-1' }, 'InstanceNotRegisteredException');
    h.fails('AddTagsToOnPremisesInstances', { instanceNames: ['host-1'], tags: [{ Key: 'a' }] }, 'InstanceNotRegisteredException');
    h.fails(
      'RegisterOnPremisesInstance',
      { instanceName: 'host-1', iamUserArn: USER_ARN('host-1') },
      'InstanceNameAlreadyRegisteredException',
    );
    h.call('RegisterOnPremisesInstance', { instanceName: 'host-1b', iamUserArn: USER_ARN('host-1') });
    expect(h.registry.instanceByHostIdentifier(USER_ARN('host-1'))?.instanceName).toBe('host-1b');
    expect(h.call('ListOnPremisesInstances', { registrationStatus: 'Deregistered' })).toEqual({ instanceNames: ['host-1'] });
    expect(h.call('ListOnPremisesInstances', { registrationStatus: 'Registered' })).toEqual({ instanceNames: ['host-1b'] });
    expect(h.call('ListOnPremisesInstances')).toEqual({ instanceNames: ['host-1', 'host-1b'] });
    h.fails('ListOnPremisesInstances', { registrationStatus: 'Gone' }, 'InvalidRegistrationStatusException');
    h.fails('DeregisterOnPremisesInstance', { instanceName: 'nope' }, 'InstanceNotRegisteredException');
  });

  it('adds, replaces and removes tags; checks names, tags and the 10-tag limit', () => {
    const h = registryHarness();
    h.call('RegisterOnPremisesInstance', { instanceName: 'a', iamUserArn: USER_ARN('a') });
    h.call('RegisterOnPremisesInstance', { instanceName: 'b', iamUserArn: USER_ARN('b') });
    h.call('AddTagsToOnPremisesInstances', {
      instanceNames: ['a', 'b'],
      tags: [
        { Key: 'env', Value: 'dev' },
        { Key: 'role', Value: 'web' },
      ],
    });
    h.call('AddTagsToOnPremisesInstances', { instanceNames: ['a'], tags: [{ Key: 'env', Value: 'prod' }] });
    const tagsOf = (name: string) => (h.call('GetOnPremisesInstance', { instanceName: name }).instanceInfo as InstanceInfo).tags;
    expect(tagsOf('a')).toEqual([
      { Key: 'env', Value: 'prod' },
      { Key: 'role', Value: 'web' },
    ]);
    expect(tagsOf('b')).toEqual([
      { Key: 'env', Value: 'dev' },
      { Key: 'role', Value: 'web' },
    ]);
    h.call('RemoveTagsFromOnPremisesInstances', { instanceNames: ['a', 'b'], tags: [{ Key: 'role' }, { Key: 'env', Value: 'dev' }] });
    expect(tagsOf('a')).toEqual([{ Key: 'env', Value: 'prod' }]);
    expect(tagsOf('b')).toEqual([]);

    h.fails('AddTagsToOnPremisesInstances', { instanceNames: ['a'] }, 'TagRequiredException');
    h.fails('AddTagsToOnPremisesInstances', { instanceNames: ['a'], tags: [] }, 'TagRequiredException');
    h.fails('AddTagsToOnPremisesInstances', { tags: [{ Key: 'k' }] }, 'InstanceNameRequiredException');
    h.fails('RemoveTagsFromOnPremisesInstances', { instanceNames: [], tags: [{ Key: 'k' }] }, 'InstanceNameRequiredException');
    h.fails('AddTagsToOnPremisesInstances', { instanceNames: ['a', 'ghost'], tags: [{ Key: 'k' }] }, 'InstanceNotRegisteredException');
    h.fails('AddTagsToOnPremisesInstances', { instanceNames: ['a'], tags: [{ Value: 'v' }] }, 'InvalidTagException');
    // A failed call changes nothing, even on the instances that were fine.
    expect(tagsOf('a')).toEqual([{ Key: 'env', Value: 'prod' }]);
    const ten = Array.from({ length: 10 }, (_, i) => ({ Key: `k${i}`, Value: 'v' }));
    h.call('AddTagsToOnPremisesInstances', { instanceNames: ['b'], tags: ten });
    h.fails('AddTagsToOnPremisesInstances', { instanceNames: ['a', 'b'], tags: [{ Key: 'one-more' }] }, 'TagLimitExceededException');
    expect(tagsOf('a')).toEqual([{ Key: 'env', Value: 'prod' }]);
  });

  it('lists by tag filters and batch-gets, skipping unknown names', () => {
    const h = registryHarness();
    for (const [name, tags] of Object.entries({
      c: [{ Key: 'env', Value: 'prod' }],
      a: [{ Key: 'env', Value: 'dev' }],
      b: [{ Key: 'team', Value: 'prod' }],
    })) {
      h.call('RegisterOnPremisesInstance', { instanceName: name, iamUserArn: USER_ARN(name) });
      h.call('AddTagsToOnPremisesInstances', { instanceNames: [name], tags });
    }
    expect(h.call('ListOnPremisesInstances', { tagFilters: [{ Key: 'env', Type: 'KEY_ONLY' }] }).instanceNames).toEqual(['a', 'c']);
    expect(h.call('ListOnPremisesInstances', { tagFilters: [{ Value: 'prod', Type: 'VALUE_ONLY' }] }).instanceNames).toEqual(['b', 'c']);
    expect(h.call('ListOnPremisesInstances', { tagFilters: [{ Key: 'env', Value: 'dev', Type: 'KEY_AND_VALUE' }] }).instanceNames).toEqual([
      'a',
    ]);
    h.fails('ListOnPremisesInstances', { tagFilters: [{ Key: 'env', Type: 'SOMETHING' }] }, 'InvalidTagFilterException');
    const infos = h.call('BatchGetOnPremisesInstances', { instanceNames: ['c', 'ghost', 'a'] }).instanceInfos as InstanceInfo[];
    expect(infos.map((i) => i.instanceName)).toEqual(['c', 'a']);
    h.fails('BatchGetOnPremisesInstances', { instanceNames: [] }, 'InstanceNameRequiredException');
  });
});

describe('registry: targets and deployment records', () => {
  it('resolves targets: any filter matches, registered only, sorted; no filters select none', () => {
    const h = registryHarness();
    seeded(h, {
      'web-3': [{ Key: 'env', Value: 'prod' }],
      'web-1': [
        { Key: 'env', Value: 'prod' },
        { Key: 'role', Value: 'web' },
      ],
      'db-1': [{ Key: 'env', Value: 'staging' }],
      canary: [{ Key: 'canary' }],
      'other-value': [{ Key: 'tier', Value: 'gold' }],
    });
    h.call('UpdateDeploymentGroup', {
      applicationName: 'web',
      currentDeploymentGroupName: 'prod',
      onPremisesInstanceTagFilters: [
        { Key: 'env', Value: 'prod', Type: 'KEY_AND_VALUE' },
        { Key: 'canary', Type: 'KEY_ONLY' },
        { Value: 'gold', Type: 'VALUE_ONLY' },
      ],
    });
    const group = h.registry.getDeploymentGroup('web', 'prod');
    if (!group) throw new Error('group missing');
    expect(h.registry.resolveTargets(group).map((i) => i.instanceName)).toEqual(['canary', 'other-value', 'web-1', 'web-3']);
    expect(h.registry.resolveTargets({ ...group, onPremisesInstanceTagFilters: [] })).toEqual([]);
    expect(h.registry.getInstance('web-1')?.tags).toHaveLength(2);
  });

  it('records deployments on the group and registers the deployed revision', () => {
    const h = registryHarness();
    const { deploymentGroupId } = seeded(h);
    const rev = s3('v1.zip', { eTag: '"abc"' });
    h.registry.recordDeployment(deploymentGroupId, { deploymentId: 'd-AAAAAAAA1', status: 'Created', createTime: 1_700_000_000 }, rev);
    let group = h.registry.getDeploymentGroupById(deploymentGroupId);
    expect(group?.lastAttemptedDeployment).toEqual({ deploymentId: 'd-AAAAAAAA1', status: 'Created', createTime: 1_700_000_000 });
    expect(group?.lastSuccessfulDeployment).toBeUndefined();
    expect(group?.targetRevision).toEqual(rev);

    h.clock.now += 30_000;
    h.registry.recordDeployment(
      deploymentGroupId,
      { deploymentId: 'd-AAAAAAAA1', status: 'Succeeded', createTime: 1_700_000_000, endTime: 1_700_000_030 },
      rev,
    );
    group = h.registry.getDeploymentGroupById(deploymentGroupId);
    expect(group?.lastSuccessfulDeployment).toEqual({
      deploymentId: 'd-AAAAAAAA1',
      status: 'Succeeded',
      createTime: 1_700_000_000,
      endTime: 1_700_000_030,
    });
    expect(group?.lastAttemptedDeployment?.status).toBe('Succeeded');

    // The revision was registered implicitly, with its use noted; the eTag's quotes do not matter.
    const got = h.call('GetApplicationRevision', { applicationName: 'web', revision: s3('v1.zip', { eTag: 'abc' }) });
    expect(got).toEqual({
      applicationName: 'web',
      revision: rev,
      revisionInfo: { deploymentGroups: ['prod'], registerTime: 1_700_000_000, firstUsedTime: 1_700_000_000, lastUsedTime: 1_700_000_030 },
    });

    // A newer deployment fails; a late report about an older one does not replace it.
    h.registry.recordDeployment(
      deploymentGroupId,
      { deploymentId: 'd-BBBBBBBB2', status: 'Failed', createTime: 1_700_000_100, endTime: 1_700_000_110 },
      s3('v2.zip'),
    );
    h.registry.recordDeployment(
      deploymentGroupId,
      { deploymentId: 'd-AAAAAAAA1', status: 'Succeeded', createTime: 1_700_000_000, endTime: 1_700_000_030 },
      rev,
    );
    group = h.registry.getDeploymentGroupById(deploymentGroupId);
    expect(group?.lastAttemptedDeployment?.deploymentId).toBe('d-BBBBBBBB2');
    expect(group?.lastSuccessfulDeployment?.deploymentId).toBe('d-AAAAAAAA1');
    expect(group?.targetRevision).toEqual(s3('v2.zip'));
    // Unknown groups are ignored.
    expect(() =>
      h.registry.recordDeployment('no-such-group', { deploymentId: 'd-CCCCCCCC3', status: 'Created', createTime: 1 }, rev),
    ).not.toThrow();
  });

  it('keeps its state in the database file across a reopen', async () => {
    const file = join(await tempDir('cda-registry-'), 'cp.db');
    const first = registryHarness({ db: openDatabase(file) });
    seeded(first, { 'host-1': [{ Key: 'env', Value: 'prod' }] });
    first.db.close();
    const second = registryHarness({ db: openDatabase(file) });
    const group = second.registry.getDeploymentGroup('web', 'prod');
    expect(group && second.registry.resolveTargets(group).map((i) => i.instanceName)).toEqual(['host-1']);
    second.db.close();
  });
});

describe('registry: application revisions', () => {
  it('registers, gets and lists S3 and GitHub revisions with filters and sorting', () => {
    const h = registryHarness();
    // GitHub revisions name their commit by its full SHA-1 (the API refuses anything else).
    const SHA = 'abc1230000000000000000000000000000000000';
    const { deploymentGroupId } = seeded(h);
    h.call('RegisterApplicationRevision', { applicationName: 'web', revision: s3('app/v1.zip'), description: 'first' });
    h.clock.now += 1000;
    h.call('RegisterApplicationRevision', {
      applicationName: 'web',
      revision: { revisionType: 'GitHub', gitHubLocation: { repository: 'me/app', commitId: SHA } },
    });
    h.clock.now += 1000;
    h.call('RegisterApplicationRevision', {
      applicationName: 'web',
      revision: { revisionType: 'S3', s3Location: { bucket: 'other', key: 'app/v3.tgz', bundleType: 'tgz' } },
    });
    // Registering again only updates the description.
    h.call('RegisterApplicationRevision', { applicationName: 'web', revision: s3('app/v1.zip'), description: 'first, again' });
    expect(h.call('GetApplicationRevision', { applicationName: 'web', revision: s3('app/v1.zip') }).revisionInfo).toEqual({
      description: 'first, again',
      deploymentGroups: [],
      registerTime: 1_700_000_000,
    });

    const list = (input: Record<string, unknown>) =>
      (h.call('ListApplicationRevisions', { applicationName: 'web', ...input }).revisions as RevisionLocation[]).map(
        (r) => r.s3Location?.key ?? r.gitHubLocation?.commitId,
      );
    expect(list({})).toEqual(['app/v1.zip', SHA, 'app/v3.tgz']);
    expect(list({ sortBy: 'registerTime', sortOrder: 'descending' })).toEqual(['app/v3.tgz', SHA, 'app/v1.zip']);
    expect(list({ s3Bucket: 'releases' })).toEqual(['app/v1.zip']);
    expect(list({ s3Bucket: 'other', s3KeyPrefix: 'app/' })).toEqual(['app/v3.tgz']);
    expect(list({ s3Bucket: 'other', s3KeyPrefix: 'nope/' })).toEqual([]);
    h.clock.now += 1000;
    h.registry.recordDeployment(
      deploymentGroupId,
      { deploymentId: 'd-AAAAAAAA1', status: 'Created', createTime: 1_700_000_003 },
      { revisionType: 'GitHub', gitHubLocation: { repository: 'me/app', commitId: SHA } },
    );
    expect(list({ deployed: 'include' })).toEqual([SHA]);
    expect(list({ deployed: 'exclude' })).toEqual(['app/v1.zip', 'app/v3.tgz']);
    expect(list({ sortBy: 'lastUsedTime', sortOrder: 'descending' })[0]).toBe(SHA);

    const batch = h.call('BatchGetApplicationRevisions', { applicationName: 'web', revisions: [s3('app/v1.zip'), s3('missing.zip')] });
    expect(
      (batch.revisions as { revisionLocation: RevisionLocation; genericRevisionInfo: { description: string } }[]).map(
        (r) => r.genericRevisionInfo.description,
      ),
    ).toEqual(['first, again']);
    expect(batch.errorMessage).toContain('1 of the revisions');
  });

  it('refuses bad revision requests with the real codes', () => {
    const h = registryHarness();
    seeded(h);
    h.fails('RegisterApplicationRevision', { revision: s3('a.zip') }, 'ApplicationNameRequiredException');
    h.fails('RegisterApplicationRevision', { applicationName: 'nope', revision: s3('a.zip') }, 'ApplicationDoesNotExistException');
    h.fails('RegisterApplicationRevision', { applicationName: 'web' }, 'RevisionRequiredException');
    h.fails(
      'RegisterApplicationRevision',
      { applicationName: 'web', revision: { revisionType: 'S3', s3Location: { key: 'a.zip' } } },
      'InvalidRevisionException',
    );
    h.fails(
      'RegisterApplicationRevision',
      { applicationName: 'web', revision: { revisionType: 'S3', s3Location: { bucket: 'b', key: 'a', bundleType: 'rar' } } },
      'InvalidRevisionException',
    );
    h.fails(
      'RegisterApplicationRevision',
      { applicationName: 'web', revision: { revisionType: 'GitHub', gitHubLocation: { repository: 'no-slash', commitId: 'a' } } },
      'InvalidRevisionException',
    );
    h.fails(
      'RegisterApplicationRevision',
      { applicationName: 'web', revision: { revisionType: 'String', string: { content: 'x' } } },
      'InvalidRevisionException',
    );
    expect(
      h.fails('GetApplicationRevision', { applicationName: 'web', revision: s3('never.zip') }, 'RevisionDoesNotExistException'),
    ).toContain('web');
    h.fails('ListApplicationRevisions', { applicationName: 'web', sortBy: 'size' }, 'InvalidSortByException');
    h.fails('ListApplicationRevisions', { applicationName: 'web', sortOrder: 'up' }, 'InvalidSortOrderException');
    h.fails('ListApplicationRevisions', { applicationName: 'web', deployed: 'maybe' }, 'InvalidDeployedStateFilterException');
    h.fails('ListApplicationRevisions', { applicationName: 'web', s3KeyPrefix: 'a/' }, 'BucketNameFilterRequiredException');
    h.fails('ListApplicationRevisions', { applicationName: 'nope' }, 'ApplicationDoesNotExistException');
  });
});
