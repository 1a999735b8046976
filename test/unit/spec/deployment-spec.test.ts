import { describe, expect, it } from 'vitest';
import { parseDeploymentSpec, specFromJson } from '../../../agent/spec/deployment-spec.js';

const base = {
  DeploymentId: 'd-ABCDEFGHI',
  DeploymentGroupId: 'dg-1',
  DeploymentGroupName: 'prod',
  ApplicationName: 'web',
  Revision: { RevisionType: 'S3', S3Revision: { Bucket: 'b', Key: 'k.zip', BundleType: 'zip', Version: 'v1', ETag: '"abc"' } },
};
const text = (o: unknown) => ({ Format: 'TEXT/JSON', Payload: JSON.stringify(o) });
const parse = (o: unknown) => parseDeploymentSpec(text(o), { allowUnsigned: true });
const without = (key: string) => Object.fromEntries(Object.entries(base).filter(([k]) => k !== key));

describe('deployment specification', () => {
  it('reads the fields and applies the defaults', () => {
    const spec = parse({ ...base, Extra: 'ignored' });
    expect(spec).toMatchObject({
      deploymentId: 'd-ABCDEFGHI',
      deploymentGroupId: 'dg-1',
      deploymentCreator: 'user',
      deploymentType: 'IN_PLACE',
      appSpecFilename: 'appspec.yml',
      revision: { type: 'S3', bucket: 'b', key: 'k.zip', bundleType: 'zip', version: 'v1', etag: '"abc"' },
    });
    expect(spec.fileExistsBehavior).toBeUndefined();
  });

  it('strips an ARN deployment id to the part after deployment/', () => {
    expect(parse({ ...base, DeploymentId: 'arn:aws:codedeploy:us-east-1:123:deployment/d-XYZ' }).deploymentId).toBe('d-XYZ');
  });

  it('upper-cases the FileExistsBehavior override and keeps AppSpecFilename and AllPossibleLifecycleEvents', () => {
    const spec = parse({
      ...base,
      AppSpecFilename: 'foo.yaml',
      AllPossibleLifecycleEvents: ['A', 'B'],
      AgentActionOverrides: { AgentOverrides: { FileExistsBehavior: 'retain' } },
    });
    expect(spec.fileExistsBehavior).toBe('RETAIN');
    expect(spec.appSpecFilename).toBe('foo.yaml');
    expect(spec.allPossibleLifecycleEvents).toEqual(['A', 'B']);
  });

  it.each([
    [{ Format: 'XML', Payload: '{}' }, 'Unsupported DeploymentSpecification format: XML'],
    [{ Format: null, Payload: '{}' }, 'Unsupported DeploymentSpecification format: '],
  ])('rejects envelope %j', (env, message) => {
    expect(() => parseDeploymentSpec(env, { allowUnsigned: true })).toThrow(message);
  });

  it('rejects a nil spec and TEXT/JSON when unsigned specs are not allowed', () => {
    expect(() => parseDeploymentSpec(null, { allowUnsigned: true })).toThrow('Provided deployment spec was nil');
    expect(() => parseDeploymentSpec(text(base), { allowUnsigned: false })).toThrow(
      'Unsupported DeploymentSpecification format: TEXT/JSON',
    );
  });

  it.each(['DeploymentId', 'DeploymentGroupId', 'DeploymentGroupName', 'ApplicationName'])(
    'requires %s (missing, null or empty)',
    (field) => {
      const message = `Deployment Spec has no ${field}`;
      expect(() => parse(without(field))).toThrow(message);
      expect(() => parse({ ...base, [field]: null })).toThrow(message);
      expect(() => parse({ ...base, [field]: '' })).toThrow(message);
    },
  );

  it.each([
    [undefined, 'Must specify a revison'],
    [null, 'Must specify a revison'],
    ['', 'Must specify a revision source'],
    [{ RevisionType: 'FTP' }, 'Exactly one of S3Revision, GitHubRevision, or LocalRevision must be specified'],
    [
      { RevisionType: 'S3', S3Revision: { Bucket: 'b', Key: 'k' } },
      'S3Revision in Deployment Spec must specify Bucket, Key and BundleType',
    ],
    [{ RevisionType: 'S3', S3Revision: { Bucket: 'b', Key: 'k', BundleType: 'bar' } }, 'BundleType in S3Revision must be tar, tgz or zip'],
    [
      { RevisionType: 'Local File', LocalRevision: { Location: '/x' } },
      'LocalRevision in Deployment Spec must specify Location and BundleType',
    ],
    [
      { RevisionType: 'Local File', LocalRevision: { Location: '/x', BundleType: 'bar' } },
      'BundleType in LocalRevision must be tar, tgz, zip, or directory',
    ],
    [
      { RevisionType: 'GitHub', GitHubRevision: { Account: 'a', Repository: 'r' } },
      'GitHubRevision in Deployment Spec must specify Account, Repository and CommitId',
    ],
  ])('revision %j -> %s', (revision, message) => {
    const spec = revision === undefined ? without('Revision') : { ...base, Revision: revision };
    expect(() => parse(spec)).toThrow(message);
  });

  it('defaults a GitHub bundle type to tar and keeps the access token', () => {
    const spec = specFromJson({
      ...base,
      GitHubAccessToken: 'tok',
      Revision: { RevisionType: 'GitHub', GitHubRevision: { Account: 'a', Repository: 'r', CommitId: 'c0ffee' } },
    });
    expect(spec.revision).toEqual({ type: 'GitHub', account: 'a', repository: 'r', commitId: 'c0ffee', bundleType: 'tar' });
    expect(spec.gitHubAccessToken).toBe('tok');
  });

  it.each(['../etc', 'a/b', '..', '', ' x'])('refuses a DeploymentGroupId that is not a plain directory name: %j', (id) => {
    expect(() => parse({ ...base, DeploymentGroupId: id })).toThrow(/DeploymentGroupId/);
  });

  it('refuses a DeploymentId with a path separator', () => {
    expect(() => parse({ ...base, DeploymentId: 'd-1/../../x' })).toThrow(/invalid DeploymentId/);
  });
});
