import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ApiError } from '../../../../control-plane/api/api-error.js';
import { mergeTags, parseResourceArn } from '../../../../control-plane/registry/tag-operations.js';
import { createRegistryStore } from '../../../../control-plane/registry/registry-store.js';
import { openDatabase } from '../../../../control-plane/store/database.js';
import { tempDir } from '../../../helpers/temp.js';

const identity = { region: 'us-east-1', accountId: '000000000000' };

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof ApiError) return err.code;
    throw err;
  }
  throw new Error('did not throw');
}

describe('parseResourceArn', () => {
  it('reads the three taggable resource kinds, with the account given or empty', () => {
    expect(parseResourceArn('arn:aws:codedeploy:us-east-1:000000000000:application:web', identity)).toEqual({
      type: 'application',
      applicationName: 'web',
    });
    expect(parseResourceArn('arn:aws:codedeploy:us-east-1::deploymentgroup:web/prod', identity)).toEqual({
      type: 'deploymentgroup',
      applicationName: 'web',
      deploymentGroupName: 'prod',
    });
    expect(parseResourceArn('arn:aws:codedeploy:us-east-1::deploymentconfig:Two.At.Once', identity)).toEqual({
      type: 'deploymentconfig',
      deploymentConfigName: 'Two.At.Once',
    });
  });

  it('refuses what is not a CodeDeploy ARN of this region and account', () => {
    expect(codeOf(() => parseResourceArn('web', identity))).toBe('InvalidArnException');
    expect(codeOf(() => parseResourceArn(`arn:aws:codedeploy:us-east-1::application:${'a'.repeat(1100)}`, identity))).toBe(
      'InvalidArnException',
    );
    expect(codeOf(() => parseResourceArn('arn:aws:sns:us-east-1::application:web', identity))).toBe('ArnNotSupportedException');
    expect(codeOf(() => parseResourceArn('arn:aws:codedeploy:eu-west-1::application:web', identity))).toBe('ArnNotSupportedException');
    expect(codeOf(() => parseResourceArn('arn:aws:codedeploy:us-east-1:111122223333:application:web', identity))).toBe(
      'ArnNotSupportedException',
    );
    expect(codeOf(() => parseResourceArn('arn:aws:codedeploy:us-east-1::instance:host-1', identity))).toBe('ArnNotSupportedException');
    expect(codeOf(() => parseResourceArn('arn:aws:codedeploy:us-east-1::deploymentgroup:web/', identity))).toBe('InvalidArnException');
  });
});

describe('mergeTags', () => {
  it('replaces by key, keeps order of first appearance, and holds the 50-tag limit', () => {
    expect(
      mergeTags(
        [
          { Key: 'a', Value: '1' },
          { Key: 'b', Value: '2' },
        ],
        [{ Key: 'a', Value: '3' }, { Key: 'c' }],
        'x',
        'InvalidTagsToAddException',
      ),
    ).toEqual([{ Key: 'a', Value: '3' }, { Key: 'b', Value: '2' }, { Key: 'c' }]);
    const fifty = Array.from({ length: 50 }, (_, i) => ({ Key: `k${i}` }));
    expect(mergeTags(fifty, [{ Key: 'k0', Value: 'v' }], 'x', 'C')).toHaveLength(50);
    expect(codeOf(() => mergeTags(fifty, [{ Key: 'one-more' }], 'x', 'InvalidTagsToAddException'))).toBe('InvalidTagsToAddException');
  });
});

describe('registry store: tags', () => {
  it('moves the tags applications kept in their record into the tag table, once', async () => {
    const db = openDatabase(join(await tempDir('cda-tags-'), 'cp.db'));
    try {
      createRegistryStore(db);
      // An application as earlier versions stored it, and the tag step not applied yet.
      db.prepare('INSERT INTO registry_applications (name, doc) VALUES (?, ?)').run(
        'old',
        JSON.stringify({ applicationId: 'app-1', applicationName: 'old', tags: [{ Key: 'team', Value: 'a' }] }),
      );
      db.prepare('INSERT INTO registry_applications (name, doc) VALUES (?, ?)').run(
        'untagged',
        JSON.stringify({ applicationId: 'app-2', applicationName: 'untagged' }),
      );
      db.exec("DROP TABLE registry_resource_tags; DELETE FROM schema_migrations WHERE module = 'registry' AND step = 1;");
      const store = createRegistryStore(db);
      expect(store.tagsOf('app-1')).toEqual([{ Key: 'team', Value: 'a' }]);
      expect(store.tagsOf('app-2')).toEqual([]);
      expect(store.getApplication('old')).toEqual({ applicationId: 'app-1', applicationName: 'old' });
      store.deleteApplication('old');
      expect(store.tagsOf('app-1')).toEqual([]);
    } finally {
      db.close();
    }
  });
});
