/**
 * The official codedeploy-local scenarios (docs/reference.md section 10.7) on real bundles in temp roots.
 */
import { cp, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FIXTURES, localHost, makeTarball, makeZip, sampleAppGitRepo } from '../helpers/local-deploy.js';
import { startGitHubServer } from '../helpers/github-server.js';
import { startS3Server } from '../helpers/s3-server.js';
import { tempDir } from '../helpers/temp.js';

const SAMPLE = join(FIXTURES, 'sample-app');
const CUSTOM = join(FIXTURES, 'custom-event-app');
const GROUP = 'test-local-deployments-folder';
const FIRST_RUN = ['BeforeInstall', 'AfterInstall', 'ApplicationStart', 'ValidateService', 'BeforeAllowTraffic', 'AfterAllowTraffic'];
const SAMPLE_ENTRIES = [
  'app',
  'appspec.yml',
  'appspec_override.yaml',
  'appspec_override_file_exists_behavior_disallow.yaml',
  'appspec_override_file_exists_behavior_overwrite.yaml',
  'appspec_override_file_exists_behavior_retain.yaml',
  'scripts',
];

async function bundle(kind: string): Promise<{ location: string; type: string }> {
  const dir = await tempDir('cda-bundle-');
  switch (kind) {
    case 'directory':
      return { location: SAMPLE, type: 'directory' };
    case 'zip':
      return { location: await makeZip(SAMPLE, join(dir, 'bundle.zip')), type: 'zip' };
    case 'zipped_directory':
      return { location: await makeZip(SAMPLE, join(dir, 'bundle.zip'), 'sample-app'), type: 'zip' };
    case 'tgz':
      return { location: await makeTarball(SAMPLE, join(dir, 'bundle.tgz'), true), type: 'tgz' };
    case 'tar':
      return { location: await makeTarball(SAMPLE, join(dir, 'bundle.tar'), false), type: 'tar' };
    default:
      throw new Error(kind);
  }
}

async function onlyDeploymentDir(rootDir: string): Promise<string> {
  const ids = await readdir(join(rootDir, GROUP));
  expect(ids).toHaveLength(1);
  return join(rootDir, GROUP, ids[0] as string);
}

describe('codedeploy-local (docs/reference.md section 10.7)', () => {
  it.each(['directory', 'zip', 'zipped_directory', 'tgz', 'tar'])('deploys a %s bundle', async (kind) => {
    const host = await localHost();
    const b = await bundle(kind);
    const result = await host.run(['-l', b.location, '-t', b.type, '-g', GROUP]);
    expect(result.stdout).toContain('AppSpec file valid. Local deployment successful');
    expect(result.code).toBe(0);
    expect(await host.proof()).toEqual(FIRST_RUN);

    // The on-disk layout of docs/reference.md section 6.6.
    expect((await readdir(host.rootDir)).sort()).toEqual(['deployment-instructions', 'deployment-logs', GROUP].sort());
    expect(await readdir(join(host.rootDir, 'deployment-logs'))).toEqual(['codedeploy-agent-deployments.log']);
    const dep = await onlyDeploymentDir(host.rootDir);
    expect((await readdir(dep)).filter((e) => e !== 'bundle.tar').sort()).toEqual(['deployment-archive', 'logs']);
    expect((await readdir(join(dep, 'deployment-archive'))).sort()).toEqual(SAMPLE_ENTRIES);
    expect(result.stdout).toContain(`Starting to execute deployment from within folder ${dep}\n`);
    expect(result.stdout).toContain(`See the deployment log at ${join(dep, 'logs', 'scripts.log')} for more details`);
    expect(await readFile(join(host.workDir, 'target', 'hello.txt'), 'utf8')).toBe('hello from the bundle\n');
    const instructions = await readdir(join(host.rootDir, 'deployment-instructions'));
    expect(instructions.sort()).toEqual(
      [`${GROUP}-cleanup`, `${GROUP}-install.json`, `${GROUP}_last_successful_install`, `${GROUP}_most_recent_install`].sort(),
    );
    expect(await readFile(join(host.rootDir, 'deployment-instructions', `${GROUP}_last_successful_install`), 'utf8')).toBe(dep);
  });

  it('deploys a relative directory', async () => {
    const host = await localHost();
    await cp(SAMPLE, join(host.root, 'rel-bundle'), { recursive: true });
    const result = await host.run(['-l', 'rel-bundle', '-t', 'directory', '-g', GROUP]);
    expect(result.code).toBe(0);
    expect(await host.proof()).toEqual(FIRST_RUN);
  });

  it('writes scripts.log and the deployments log in the official formats', async () => {
    const host = await localHost();
    expect((await host.run(['-l', SAMPLE, '-g', GROUP])).code).toBe(0);
    const dep = await onlyDeploymentDir(host.rootDir);
    const scriptsLog = (await readFile(join(dep, 'logs', 'scripts.log'), 'utf8')).split('\n');
    expect(scriptsLog[0]).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d LifecycleEvent - BeforeInstall$/);
    expect(scriptsLog[1]).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d Script - scripts\/hook\.sh$/);
    const did = relative(join(host.rootDir, GROUP), dep);
    const deploymentsLog = await readFile(join(host.rootDir, 'deployment-logs', 'codedeploy-agent-deployments.log'), 'utf8');
    expect(deploymentsLog).toMatch(
      new RegExp(`^\\[\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\\.\\d{3}\\] \\[${did}\\]LifecycleEvent - BeforeInstall$`, 'm'),
    );
  });

  it("runs the previous revision's stop hooks on the second deployment", async () => {
    const host = await localHost();
    expect((await host.run(['-l', SAMPLE, '-g', GROUP])).code).toBe(0);
    await writeFile(host.proofFile, '');
    const second = await host.run(['-l', SAMPLE, '-g', GROUP]);
    expect(second.code).toBe(0);
    expect(await host.proof()).toEqual(['BeforeBlockTraffic', 'AfterBlockTraffic', 'ApplicationStop', ...FIRST_RUN]);
    expect(await readdir(join(host.rootDir, GROUP))).toHaveLength(2);
  });

  it('runs custom events given with --events', async () => {
    const host = await localHost();
    const result = await host.run(['-l', CUSTOM, '-g', GROUP, '--events', 'ApplicationStart,CustomEvent']);
    expect(result.code).toBe(0);
    expect(await host.proof()).toEqual(['ApplicationStart', 'CustomEvent']);
    const dep = await onlyDeploymentDir(host.rootDir);
    expect((await readdir(join(dep, 'deployment-archive'))).sort()).toEqual(['app', 'appspec.yml', 'scripts']);
  });

  it('runs only the listed events', async () => {
    const host = await localHost();
    const result = await host.run(['-l', SAMPLE, '-g', GROUP, '--events', 'BeforeInstall,ApplicationStart']);
    expect(result.code).toBe(0);
    expect(await host.proof()).toEqual(['BeforeInstall', 'ApplicationStart']);
  });

  describe('file exists behaviour', () => {
    async function hostWithExistingFile() {
      const host = await localHost();
      await mkdir(join(host.workDir, 'target'), { recursive: true });
      await writeFile(join(host.workDir, 'target', 'hello.txt'), 'original\n');
      return host;
    }
    const content = (host: { workDir: string }) => readFile(join(host.workDir, 'target', 'hello.txt'), 'utf8');

    it('fails by default (DISALLOW) and says which file', async () => {
      const host = await hostWithExistingFile();
      const result = await host.run(['-l', SAMPLE, '-g', GROUP]);
      expect(result.code).toBe(1);
      expect(result.stdout).toContain(
        `The deployment failed because a specified file already exists at this location: ${join(host.workDir, 'target', 'hello.txt')}`,
      );
      expect(await content(host)).toBe('original\n');
    });

    it.each([
      ['OVERWRITE', 'hello from the bundle\n'],
      ['RETAIN', 'original\n'],
    ])('--file-exists-behavior %s', async (behavior, expected) => {
      const host = await hostWithExistingFile();
      const result = await host.run(['-l', SAMPLE, '-g', GROUP, '--file-exists-behavior', behavior]);
      expect(result.code).toBe(0);
      expect(await content(host)).toBe(expected);
    });

    it.each([
      ['disallow', 1, 'original\n'],
      ['overwrite', 0, 'hello from the bundle\n'],
      ['retain', 0, 'original\n'],
    ])('file_exists_behavior %s in the appspec', async (variant, code, expected) => {
      const host = await hostWithExistingFile();
      const result = await host.run([
        '-l',
        SAMPLE,
        '-g',
        GROUP,
        '--appspec-filename',
        `appspec_override_file_exists_behavior_${variant}.yaml`,
      ]);
      expect(result.code).toBe(code);
      expect(await content(host)).toBe(expected);
    });
  });

  it('honours a custom appspec file name, and fails for a missing one', async () => {
    const host = await localHost();
    expect((await host.run(['-l', SAMPLE, '-g', GROUP, '--appspec-filename', 'appspec_override.yaml'])).code).toBe(0);
    const missing = await host.run(['-l', SAMPLE, '-g', 'other-group', '--appspec-filename', 'appspec_nonexistent.yaml']);
    expect(missing.code).toBe(1);
    expect(missing.stdout).toContain(
      `ERROR: Expecting appspec file at location ${SAMPLE}/appspec_nonexistent.yaml but it is not found there.`,
    );
  });

  it('reports a failing script with its location, message and the scripts.log path', async () => {
    const host = await localHost();
    const src = join(host.root, 'failing');
    await cp(SAMPLE, src, { recursive: true });
    await writeFile(join(src, 'scripts', 'hook.sh'), '#!/bin/sh\necho "about to fail" >&2\nexit 3\n', { mode: 0o755 });
    const result = await host.run(['-l', src, '-g', GROUP]);
    expect(result.code).toBe(1);
    const dep = await onlyDeploymentDir(host.rootDir);
    expect(result.stdout).toContain(
      `Your local deployment failed while trying to execute your script at ${join(dep, 'deployment-archive', 'scripts/hook.sh')}`,
    );
    expect(result.stdout).toContain('Script at specified location: scripts/hook.sh failed with exit code 3');
    expect(result.stdout).toContain(`See the deployment log at ${join(dep, 'logs', 'scripts.log')} for more details`);
    expect(result.stdout).not.toContain('Local deployment successful');
    expect(await readFile(join(dep, 'logs', 'scripts.log'), 'utf8')).toMatch(/\[stderr\]about to fail/);
  });

  it('reports an invalid appspec with the official message and its location', async () => {
    const host = await localHost();
    const src = join(host.root, 'bad');
    await cp(SAMPLE, src, { recursive: true });
    await writeFile(
      join(src, 'appspec.yml'),
      'version: 0.0\nos: linux\nhooks:\n  BeforeInstall:\n    - location: scripts/hook.sh\n      timeout: foo\n',
    );
    const result = await host.run(['-l', src, '-g', GROUP]);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain(
      'The deployment failed because an invalid timeout value was provided for a script in the application specification file.',
    );
    expect(result.stdout).toMatch(/appspec\.yml:6:\d+/);
  });

  it('deploys an S3 location (s3://bucket/key?etag=..) with the on-premises credentials', async () => {
    const s3 = await startS3Server('bucket');
    try {
      const zip = await makeZip(SAMPLE, join(s3.dir, 'app.zip'));
      const putEtag = await s3.putFile('releases/app.zip', zip);
      const s3root = s3.dir;
      const endpoint = s3.endpoint;
      const onPrem = join(s3root, 'onprem.yml');
      await writeFile(
        onPrem,
        'region: us-east-1\niam_user_arn: arn:aws:iam::123456789012:user/dev\naws_access_key_id: S3RVER\naws_secret_access_key: S3RVER\n',
      );
      const host = await localHost([`:s3_endpoint_override: ${endpoint}`, `:on_premises_config_file: ${onPrem}`]);
      const etag = putEtag.replace(/"/g, '');
      const result = await host.run(['-l', `s3://bucket/releases/app.zip?etag=${etag}`, '-t', 'zip', '-g', GROUP]);
      expect(result.stdout).toContain('Local deployment successful');
      expect(await host.proof()).toEqual(FIRST_RUN);
      const bad = await host.run(['-l', 's3://bucket/releases/app.zip?etag=0000', '-t', 'zip', '-g', 'other']);
      expect(bad.code).toBe(1);
      expect(bad.stdout).toContain(`ERROR: Expected deployment artifact bundle etag 0000 but was actually "${etag}"`);
    } finally {
      await s3.close();
    }
  });

  it('deploys a GitHub location (api.github.com tarball URL) from a local git-archive server', async () => {
    const { dir: repoDir, sha } = await sampleAppGitRepo();
    const gh = await startGitHubServer({ repos: { 'octo/app': repoDir } });
    try {
      const host = await localHost([`:github_api_url: ${gh.apiUrl}`, `:on_premises_config_file: ${join(repoDir, 'none.yml')}`]);
      const result = await host.run(['-l', `https://api.github.com/repos/octo/app/tarball/${sha}`, '-t', 'tar', '-g', GROUP]);
      expect(result.stdout).toContain('Local deployment successful');
      expect(await host.proof()).toEqual(FIRST_RUN);
      expect(await readFile(join(host.workDir, 'target', 'hello.txt'), 'utf8')).toBe('hello from the bundle\n');
    } finally {
      await gh.close();
    }
  });

  it('requires a readable configuration file', async () => {
    const host = await localHost();
    let stdout = '';
    const { runCodedeployLocal } = await import('../../agent/cli/local-command.js');
    const code = await runCodedeployLocal(['-l', SAMPLE, '-c', join(host.root, 'missing.yml')], {
      io: { stdout: (s) => void (stdout += s), stderr: () => undefined },
      cwd: host.root,
      env: {},
    });
    expect(code).toBe(1);
    expect(stdout).toBe(`ERROR: configuration file ${join(host.root, 'missing.yml')} does not exist or is not readable\n`);
  });

  it('prints usage for --help and exits 2 on an unknown flag', async () => {
    const host = await localHost();
    const help = await host.run(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('--bundle-location');
    expect(help.stdout).toContain('--appspec-filename');
    const bad = await host.run(['--nope']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('Usage: codedeploy-local');
  });
});
