import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  formatConfigIssue,
  loadPushConfig,
  parsePushConfig,
  PushConfigError,
  SECRET_ENV,
} from '../../../../control-plane/github/push-config.js';
import { tempDir } from '../../../helpers/temp.js';

const FILE = '/etc/cp/push-deployments.yml';

const VALID = `secret: s3cr3t
follow:
  - repository: demo/hello-app
    branch: main
    applicationName: HelloApp
    deploymentGroupName: Staging
  - repository: demo/hello-app
    branch: release/v2
    applicationName: HelloApp
    deploymentGroupName: Production
    deploymentConfigName: CodeDeployDefault.OneAtATime
`;

function problems(text: string): string[] {
  const result = parsePushConfig(text, FILE);
  if (result.ok) throw new Error('expected issues');
  return result.issues.map(formatConfigIssue);
}

describe('parsePushConfig', () => {
  it('reads the secret and the follow rules', () => {
    expect(parsePushConfig(VALID, FILE)).toEqual({
      ok: true,
      settings: {
        secret: 's3cr3t',
        follow: [
          { repository: 'demo/hello-app', branch: 'main', applicationName: 'HelloApp', deploymentGroupName: 'Staging' },
          {
            repository: 'demo/hello-app',
            branch: 'release/v2',
            applicationName: 'HelloApp',
            deploymentGroupName: 'Production',
            deploymentConfigName: 'CodeDeployDefault.OneAtATime',
          },
        ],
      },
    });
  });

  it('reads JSON too, and a secretFile relative to the file', () => {
    const text = JSON.stringify({ secretFile: 'webhook.secret', follow: [] });
    expect(parsePushConfig(text, FILE)).toEqual({ ok: true, settings: { secretFile: '/etc/cp/webhook.secret', follow: [] } });
  });

  it('accepts a file with no follow rules and no secret (the secret may come from the environment)', () => {
    expect(parsePushConfig('follow:\n', FILE)).toEqual({ ok: true, settings: { follow: [] } });
  });

  it.each([
    ['an empty file', '', [`${FILE}:1:1: expected a mapping with secret (or secretFile) and follow`]],
    ['a list at the top', '- a\n', [`${FILE}:1:1: expected a mapping with secret (or secretFile) and follow`]],
    [
      'a typo in a key',
      'secret: x\nfollow:\n  - repository: a/b\n    brnach: main\n    applicationName: A\n    deploymentGroupName: G\n',
      [
        `${FILE}:4:5: follow[0].brnach: unknown key "brnach"; the keys here are repository, branch, applicationName, deploymentGroupName, deploymentConfigName`,
        `${FILE}:3:5: follow[0].branch: missing; required`,
      ],
    ],
    [
      'an unknown top-level key',
      'secret: x\nfollows: []\n',
      [`${FILE}:2:1: follows: unknown key "follows"; the keys here are secret, secretFile, follow`],
    ],
    [
      'a number where a string is needed',
      'follow:\n  - repository: a/b\n    branch: 1\n    applicationName: A\n    deploymentGroupName: G\n',
      [`${FILE}:3:13: follow[0].branch: expected a non-empty string (got 1)`],
    ],
    [
      'a repository that is not owner/repo',
      'follow:\n  - repository: just-a-name\n    branch: main\n    applicationName: A\n    deploymentGroupName: G\n',
      [`${FILE}:2:17: follow[0].repository: "just-a-name" is not owner/repo (letters, digits, _ . -)`],
    ],
    [
      'a full ref as the branch',
      'follow:\n  - repository: a/b\n    branch: refs/heads/main\n    applicationName: A\n    deploymentGroupName: G\n',
      [`${FILE}:3:13: follow[0].branch: a branch name such as main, without refs/heads/`],
    ],
    [
      'follow that is not a list',
      'follow: a/b\n',
      [`${FILE}:1:9: follow: expected a list of {repository, branch, applicationName, deploymentGroupName}`],
    ],
    [
      'a follow entry that is not a mapping',
      'follow:\n  - a/b\n',
      [`${FILE}:2:5: follow[0]: expected a mapping with repository, branch, applicationName and deploymentGroupName`],
    ],
    ['both secret and secretFile', 'secret: x\nsecretFile: /s\n', [`${FILE}:2:13: secretFile: give secret or secretFile, not both`]],
    ['a duplicate key', 'secret: x\nsecret: y\n', [`${FILE}:2:1: not valid YAML: Map keys must be unique`]],
    ['broken YAML', 'follow: [\n', [expect.stringMatching(new RegExp(`^${FILE}:2:1: not valid YAML: `))]],
    [
      'the same rule twice',
      'follow:\n  - {repository: a/b, branch: main, applicationName: A, deploymentGroupName: G}\n  - {repository: A/B, branch: main, applicationName: A, deploymentGroupName: G}\n',
      [`${FILE}:3:5: follow[1]: the same repository, branch and deployment group as follow[0]`],
    ],
  ])('reports %s with file, line, column and key', (_name, text, expected) => {
    expect(problems(text)).toEqual(expected);
  });

  it('never echoes the secret in an issue', () => {
    const messages = problems('secret: 123456789\n').join('\n');
    expect(messages).toBe(`${FILE}:1:9: secret: expected a non-empty string`);
  });
});

describe('loadPushConfig', () => {
  it('is undefined (deploy-on-push off) when the file does not exist', async () => {
    expect(await loadPushConfig(join(await tempDir(), 'push-deployments.yml'), { env: {} })).toBeUndefined();
  });

  it('reads the secret from secretFile (without its final newline)', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'secret.txt'), 'from-file\n');
    const file = join(dir, 'push.yml');
    await writeFile(file, 'secretFile: secret.txt\nfollow: []\n');
    expect(await loadPushConfig(file, { env: { [SECRET_ENV]: 'from-env' } })).toEqual({ file, secret: 'from-file', follow: [] });
  });

  it('falls back to the environment variable', async () => {
    const file = join(await tempDir(), 'push.yml');
    await writeFile(file, 'follow: []\n');
    expect(await loadPushConfig(file, { env: { [SECRET_ENV]: 'from-env' } })).toMatchObject({ secret: 'from-env' });
  });

  it('refuses a configuration without any secret, naming the file and the ways to give one', async () => {
    const file = join(await tempDir(), 'push.yml');
    await writeFile(file, 'follow: []\n');
    const err = await loadPushConfig(file, { env: {} }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PushConfigError);
    expect((err as Error).message).toContain(`${file}:1:1: no webhook secret: add "secret:" or "secretFile:", or set the ${SECRET_ENV}`);
  });

  it('refuses a missing secretFile and an invalid file, without the secret in the message', async () => {
    const dir = await tempDir();
    const file = join(dir, 'push.yml');
    await writeFile(file, 'secretFile: nope.txt\n');
    await expect(loadPushConfig(file, { env: {} })).rejects.toThrow(`secretFile ${join(dir, 'nope.txt')} cannot be read`);
    await writeFile(file, 'secret: hunter2-secret\nfollow: {}\n');
    const err = (await loadPushConfig(file, { env: {} }).catch((e: unknown) => e)) as Error;
    expect(err.message).toContain(`${file}:2:9: follow: expected a list`);
    expect(err.message).not.toContain('hunter2');
  });
});
