import { describe, expect, it } from 'vitest';
import {
  checkBundleLocation,
  locationKind,
  revisionJson,
  type BundleLocation,
  type PathFacts,
} from '../../../agent/deployment/bundle-location.js';
import type { BundleType } from '../../../agent/spec/bundle-type.js';

const facts = (entries: Record<string, 'file' | 'directory'>): PathFacts => ({ kind: async (p) => entries[p] });
const at = (bundleLocation: string, type = 'directory', appSpecFilename?: string): BundleLocation => ({
  bundleLocation,
  type: type as BundleType,
  ...(appSpecFilename !== undefined ? { appSpecFilename } : {}),
});

describe('codedeploy-local bundle locations (docs/reference.md section 9.2)', () => {
  const cases: Array<[BundleLocation, Record<string, 'file' | 'directory'>, string | null]> = [
    [at('/b', 'rar'), {}, 'type rar is not a valid type. Must be one of tgz,tar,zip,directory'],
    [at('https://invalidurl.com/file[/].html', 'zip'), {}, 'location https://invalidurl.com/file[/].html is not a valid uri'],
    [
      at('http://example.com/b.zip', 'zip'),
      {},
      'location http://example.com/b.zip cannot be http, only encrypted (https) url endpoints supported',
    ],
    [at('/nope', 'zip'), {}, 'location /nope is specified as a file or directory which does not exist'],
    [at('/b.zip'), { '/b.zip': 'file' }, 'location /b.zip is specified with type directory but it is a file'],
    [at('/dir', 'tgz'), { '/dir': 'directory' }, 'location /dir is specified as a compressed local file but it is a directory'],
    [
      at('/dir'),
      { '/dir': 'directory' },
      'Expecting appspec file at location /dir/appspec.yml or /dir/appspec.yaml but it is not found there. Please either run the CLI from within a directory containing the appspec.yml or appspec.yaml file or specify a bundle location containing an appspec.yml or appspec.yaml file in its root directory',
    ],
    [
      at('/dir', 'directory', 'custom.yml'),
      { '/dir': 'directory', '/dir/appspec.yml': 'file' },
      'Expecting appspec file at location /dir/custom.yml but it is not found there. Please either run the CLI from within a directory containing the custom.yml file or specify a bundle location containing an custom.yml file in its root directory',
    ],
    [at('/dir'), { '/dir': 'directory', '/dir/appspec.yaml': 'file' }, null],
    [at('rel'), { '/cwd/rel': 'directory', '/cwd/rel/appspec.yml': 'file' }, null],
    [at('/b.zip', 'zip'), { '/b.zip': 'file' }, null],
    [at('https://github.com/o/r', 'zip'), {}, null],
    [at('s3://bucket/key.zip?versionId=1&etag=2', 'zip'), {}, null],
  ];
  it.each(cases)('checks %j', async (location, known, message) => {
    const result = checkBundleLocation(location, facts(known), '/cwd');
    if (message === null) await expect(result).resolves.toBeUndefined();
    else await expect(result).rejects.toThrow(message);
  });

  it.each([
    ['s3://b/k.zip', 's3'],
    ['S3://b/k.zip', 's3'],
    ['https://github.com/o/r', 'github'],
    ['./bundle', 'local'],
    ['/abs/bundle.tgz', 'local'],
  ])('%s is a %s location', (location, kind) => {
    expect(locationKind(location)).toBe(kind);
  });

  it('names the revision of each kind of location', () => {
    expect(revisionJson(at('s3://bucket/dir/k%20ey.zip?versionId=v1&etag=e1', 'zip'), '/cwd')).toEqual({
      RevisionType: 'S3',
      S3Revision: { Bucket: 'bucket', Key: 'dir/k ey.zip', BundleType: 'zip', Version: 'v1', ETag: 'e1' },
    });
    expect(revisionJson(at('https://github.com/owner/repo.git', 'tgz'), '/cwd')).toEqual({
      RevisionType: 'GitHub',
      GitHubRevision: { Account: 'owner', Repository: 'repo', CommitId: 'HEAD', BundleType: 'zip' },
    });
    expect(revisionJson(at('https://api.github.com/repos/owner/repo/tarball/v1.2', 'zip'), '/cwd')).toEqual({
      RevisionType: 'GitHub',
      GitHubRevision: { Account: 'owner', Repository: 'repo', CommitId: 'v1.2', BundleType: 'tar' },
    });
    expect(revisionJson(at('b.tgz', 'tgz'), '/cwd')).toEqual({
      RevisionType: 'Local File',
      LocalRevision: { Location: '/cwd/b.tgz', BundleType: 'tgz' },
    });
    expect(revisionJson(at('app'), '/cwd')).toEqual({
      RevisionType: 'Local Directory',
      LocalRevision: { Location: '/cwd/app', BundleType: 'directory' },
    });
  });

  it('refuses an https location that is not a GitHub repository or archive', () => {
    expect(() => revisionJson(at('https://example.com/b.zip', 'zip'), '/cwd')).toThrow(
      'location https://example.com/b.zip is not a supported https location: use https://github.com/<owner>/<repo> or https://api.github.com/repos/<owner>/<repo>/(tarball|zipball)/<ref>',
    );
  });
});
