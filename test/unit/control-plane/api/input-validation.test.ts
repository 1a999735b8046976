/**
 * Input the control plane refuses the way the service does (issue 9, item 10): names outside
 * CodeDeploy's 1-100 characters of letters, digits and . _ + = , @ -; GitHub revisions that are
 * not `owner/name` at a 40-hex commit; S3 revision fields that no bucket or key could be; and
 * GitHub archive refs written in git's revision syntax (a 404, as GitHub answers).
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiError } from '../../../../control-plane/api/api-error.js';
import { createGitHubHandler } from '../../../../control-plane/github/github-handler.js';
import { isRefName } from '../../../../control-plane/github/local-git.js';
import { checkGitHubLocation, checkS3Location } from '../../../../control-plane/registry/revision-fields.js';
import { createTestGitRepo } from '../../../helpers/github-server.js';
import { silentLogger, suiteTempDir } from '../../../helpers/temp.js';
import { createHarness } from '../fake-registry.js';
import { registryHarness, seeded } from '../registry-harness.js';

const SHA = '0123456789abcdef0123456789abcdef01234567';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    if (err instanceof ApiError) return err.code;
    throw err;
  }
  return undefined;
}

describe('names', () => {
  const bad = ['web\u0000evil', 'has space', 'slash/y', 'tab\t', 'ünïcode', 'semi;colon', 'x'.repeat(101)];

  it.each(bad)('an application named %j is InvalidApplicationNameException everywhere a name is read', (name) => {
    const h = registryHarness();
    seeded(h);
    h.fails('CreateApplication', { applicationName: name }, 'InvalidApplicationNameException');
    h.fails('GetApplication', { applicationName: name }, 'InvalidApplicationNameException');
    h.fails(
      'CreateDeploymentGroup',
      { applicationName: name, deploymentGroupName: 'g', serviceRoleArn: 'arn:aws:iam::1:role/r' },
      'InvalidApplicationNameException',
    );
    h.fails('UpdateApplication', { applicationName: 'web', newApplicationName: name }, 'InvalidApplicationNameException');
  });

  it.each(bad)('a deployment group named %j is InvalidDeploymentGroupNameException', (name) => {
    const h = registryHarness();
    seeded(h);
    h.fails(
      'CreateDeploymentGroup',
      { applicationName: 'web', deploymentGroupName: name, serviceRoleArn: 'arn:aws:iam::1:role/r' },
      'InvalidDeploymentGroupNameException',
    );
    h.fails('GetDeploymentGroup', { applicationName: 'web', deploymentGroupName: name }, 'InvalidDeploymentGroupNameException');
    h.fails(
      'UpdateDeploymentGroup',
      { applicationName: 'web', currentDeploymentGroupName: 'prod', newDeploymentGroupName: name },
      'InvalidDeploymentGroupNameException',
    );
  });

  it.each(bad)('a deployment config named %j is InvalidDeploymentConfigNameException', (name) => {
    const h = registryHarness();
    h.fails(
      'CreateDeploymentConfig',
      { deploymentConfigName: name, minimumHealthyHosts: { type: 'HOST_COUNT', value: 1 } },
      'InvalidDeploymentConfigNameException',
    );
    h.fails('GetDeploymentConfig', { deploymentConfigName: name }, 'InvalidDeploymentConfigNameException');
  });

  it('accepts every character the service allows, up to 100 of them', () => {
    const h = registryHarness();
    const name = 'My.App_1+2=3,4@5-6';
    h.call('CreateApplication', { applicationName: name });
    h.call('CreateApplication', { applicationName: 'a'.repeat(100) });
    h.call('CreateDeploymentGroup', {
      applicationName: name,
      deploymentGroupName: 'Blue.Green_+=,@-',
      serviceRoleArn: 'arn:aws:iam::1:role/r',
    });
    h.call('CreateDeploymentConfig', { deploymentConfigName: 'Custom.Two_+=,@-', minimumHealthyHosts: { type: 'HOST_COUNT', value: 1 } });
    expect((h.call('GetApplication', { applicationName: name }).application as { applicationName: string }).applicationName).toBe(name);
  });

  it('CreateDeployment refuses a NUL in the application, group or config name before looking it up', () => {
    const h = createHarness({ hosts: 1 });
    const revision = { revisionType: 'S3' as const, s3Location: { bucket: 'releases', key: 'app.zip', bundleType: 'zip' as const } };
    expect(codeOf(() => h.engine.createDeployment({ applicationName: 'web\u0000', deploymentGroupName: 'prod', revision }))).toBe(
      'InvalidApplicationNameException',
    );
    expect(codeOf(() => h.engine.createDeployment({ applicationName: 'web', deploymentGroupName: 'prod\u0000x', revision }))).toBe(
      'InvalidDeploymentGroupNameException',
    );
    expect(
      codeOf(() =>
        h.engine.createDeployment({ applicationName: 'web', deploymentGroupName: 'prod', deploymentConfigName: 'a b', revision }),
      ),
    ).toBe('InvalidDeploymentConfigNameException');
    expect(h.engine.createDeployment({ applicationName: 'web', deploymentGroupName: 'prod', revision }).status).toBe('InProgress');
  });
});

describe('revisions', () => {
  it.each([SHA, 'main', 'release/1.2', 'v1.2.3', SHA.slice(0, 12)])('GitHub: commitId %s (a SHA-1 or a ref) is accepted', (commitId) => {
    expect(checkGitHubLocation({ repository: 'acme/app', commitId }, 'revision.gitHubLocation')).toEqual({
      repository: 'acme/app',
      commitId,
    });
  });

  it.each([
    ['option-like commit', { repository: 'acme/app', commitId: '--output=/tmp/x' }, 'commitId'],
    ['revision expression', { repository: 'acme/app', commitId: 'HEAD^{tree}' }, 'commitId'],
    ['range', { repository: 'acme/app', commitId: 'main..dev' }, 'commitId'],
    ['a ref over 100 characters', { repository: 'acme/app', commitId: 'b'.repeat(101) }, 'commitId'],
    ['NUL in commit', { repository: 'acme/app', commitId: `${SHA.slice(0, 39)}\u0000` }, 'commitId'],
    ['no owner', { repository: 'justone', commitId: SHA }, 'repository'],
    ['traversal', { repository: '../app', commitId: SHA }, 'repository'],
    ['option-like owner', { repository: '-x/app', commitId: SHA }, 'repository'],
    ['three parts', { repository: 'a/b/c', commitId: SHA }, 'repository'],
    ['NUL in repository', { repository: 'acme/a\u0000pp', commitId: SHA }, 'repository'],
  ])('GitHub: %s is InvalidRevisionException', (_what, location, member) => {
    let caught: unknown;
    try {
      checkGitHubLocation(location, 'revision.gitHubLocation');
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ApiError);
    expect((caught as ApiError).code).toBe('InvalidRevisionException');
    expect((caught as ApiError).message).toContain(`revision.gitHubLocation.${member}`);
  });

  it('GitHub: owner/name at a full sha passes, in either case', () => {
    expect(checkGitHubLocation({ repository: 'acme-corp/web.app_2', commitId: SHA }, 'r')).toEqual({
      repository: 'acme-corp/web.app_2',
      commitId: SHA,
    });
    expect(checkGitHubLocation({ repository: 'a/b', commitId: SHA.toUpperCase() }, 'r').commitId).toBe(SHA.toUpperCase());
  });

  it.each([
    ['bucket with a slash', { bucket: 'a/b', key: 'k' }, 'bucket'],
    ['bucket with NUL', { bucket: 'rel\u0000eases', key: 'k' }, 'bucket'],
    ['option-like bucket', { bucket: '--x', key: 'k' }, 'bucket'],
    ['bucket over 255', { bucket: 'b'.repeat(256), key: 'k' }, 'bucket'],
    ['key with NUL', { bucket: 'releases', key: 'app\u0000.zip' }, 'key'],
    ['key with a newline', { bucket: 'releases', key: 'app\n.zip' }, 'key'],
    ['key over 1024 bytes', { bucket: 'releases', key: 'é'.repeat(513) }, 'key'],
    ['version with a space', { bucket: 'releases', key: 'k', version: 'a b' }, 'version'],
    ['eTag over 1024', { bucket: 'releases', key: 'k', eTag: 'e'.repeat(1025) }, 'eTag'],
    ['missing key', { bucket: 'releases' }, 'key'],
  ])('S3: %s is InvalidRevisionException', (_what, location, member) => {
    let caught: unknown;
    try {
      checkS3Location(location, 'revision.s3Location');
    } catch (err) {
      caught = err;
    }
    expect((caught as ApiError).code).toBe('InvalidRevisionException');
    expect((caught as ApiError).message).toContain(`revision.s3Location.${member}`);
  });

  it('S3: real bucket names, UTF-8 keys up to 1024 bytes, version ids and quoted ETags pass', () => {
    expect(
      checkS3Location(
        { bucket: 'my.legacy_Bucket-1', key: `dir/${'é'.repeat(510)}`, version: 'Zx.3_-abc', eTag: '"9b2cf535f27731c974343645a3985328"' },
        'r',
      ),
    ).toMatchObject({ bucket: 'my.legacy_Bucket-1' });
  });

  it('RegisterApplicationRevision and CreateDeployment both refuse an option-like commitId and a bad S3 key', () => {
    const h = registryHarness();
    seeded(h);
    const gh = (commitId: string) => ({ revisionType: 'GitHub', gitHubLocation: { repository: 'acme/app', commitId } });
    expect(
      h.fails('RegisterApplicationRevision', { applicationName: 'web', revision: gh('--output=/tmp/x') }, 'InvalidRevisionException'),
    ).toContain('40-character SHA-1 of the commit (git rev-parse <ref>) or a branch or tag name');
    h.call('RegisterApplicationRevision', { applicationName: 'web', revision: gh(SHA) });
    h.fails(
      'RegisterApplicationRevision',
      { applicationName: 'web', revision: { revisionType: 'S3', s3Location: { bucket: 'releases', key: 'a\u0000b', bundleType: 'zip' } } },
      'InvalidRevisionException',
    );

    const e = createHarness({ hosts: 1 });
    const create = (revision: Record<string, unknown>) => () =>
      e.engine.createDeployment({ applicationName: 'web', deploymentGroupName: 'prod', revision });
    expect(codeOf(create(gh('--output=/tmp/x')))).toBe('InvalidRevisionException');
    expect(codeOf(create({ revisionType: 'S3', s3Location: { bucket: 'releases', key: 'a\u0000b', bundleType: 'zip' } }))).toBe(
      'InvalidRevisionException',
    );
    expect(codeOf(create(gh(SHA)))).toBeUndefined();
  });
});

describe('GitHub archive refs', () => {
  let server: http.Server;
  let base: string;
  let sha: string;

  beforeAll(async () => {
    const reposDir = await suiteTempDir('cda-gh-refs-');
    const repo = join(reposDir, 'octo', 'app');
    sha = await createTestGitRepo(repo, { 'appspec.yml': 'version: 0.0\nos: linux\n', 'README.md': 'x\n' });
    // A tag that names a tree, not a commit: resolves, but to no commit.
    await promisify(execFile)('git', ['-C', repo, 'tag', 'treetag', `${sha}^{tree}`]);
    const handler = createGitHubHandler({ reposDir, logger: silentLogger() });
    server = http.createServer((req, res) => void handler(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/github`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it.each([
    'HEAD^{tree}',
    'HEAD~1',
    'HEAD:README.md',
    '@{-1}',
    'main^',
    'a..b',
    '.hidden',
    'x.lock',
    '--output=x',
    'treetag',
    'no-such-branch',
  ])('tarball/%s is a 404 like GitHub, not a 500', async (ref) => {
    for (const kind of ['tarball', 'zipball', 'commits']) {
      const res = await fetch(`${base}/repos/octo/app/${kind}/${encodeURIComponent(ref)}`, { redirect: 'manual' });
      expect(res.status, `${kind}/${ref}`).toBe(404);
      expect(await res.json()).toEqual({ message: 'Not Found', documentation_url: 'https://docs.github.com/rest' });
    }
  });

  it.each(['HEAD', 'main', () => 'sha', () => 'short sha'])('tarball/%s redirects to the commit', async (ref) => {
    const name = typeof ref === 'function' ? (ref() === 'sha' ? sha : sha.slice(0, 10)) : ref;
    const res = await fetch(`${base}/repos/octo/app/tarball/${name}`, { redirect: 'manual' });
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toMatch(new RegExp(`/legacy\\.tar\\.gz/${sha}$`));
  });

  it('isRefName follows git check-ref-format', () => {
    expect(['main', 'feature/x', 'v1.2.3', 'release-1_rc+3', 'HEAD', SHA].every(isRefName)).toBe(true);
    expect(['', 'a b', 'a\u0000', 'a//b', '/a', 'a/', 'a.', '@', 'x/.y', 'a\\b', 'a?', 'a*', 'a[', 'x'.repeat(1025)].some(isRefName)).toBe(
      false,
    );
  });
});
