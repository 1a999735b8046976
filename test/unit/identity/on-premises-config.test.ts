import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AgentError } from '../../../agent/errors.js';
import { loadOnPremisesConfig, parseOnPremisesConfig } from '../../../agent/identity/on-premises-config.js';
import { captureLogger, tempDir } from '../../helpers/temp.js';

const USER_ARN = 'arn:aws:iam::123456789012:user/onprem';
const SESSION_ARN = 'arn:aws:sts::123456789012:assumed-role/onprem-role/host-1';

async function write(text: string): Promise<string> {
  const dir = await tempDir();
  const path = join(dir, 'codedeploy.onpremises.yml');
  await writeFile(path, text);
  return path;
}

describe('on-premises config', () => {
  it('is undefined when the file does not exist', async () => {
    const dir = await tempDir();
    expect(await loadOnPremisesConfig(join(dir, 'absent.yml'))).toBeUndefined();
  });

  it('reads IAM user mode in the official file layout', async () => {
    const path = await write(
      [
        '---',
        `region: us-west-2`,
        `iam_user_arn: ${USER_ARN}`,
        'aws_access_key_id: AKIAEXAMPLE',
        'aws_secret_access_key: s3cr3t/Key+',
        '',
      ].join('\n'),
    );
    expect(await loadOnPremisesConfig(path)).toEqual({
      mode: 'iam-user',
      path,
      region: 'us-west-2',
      iamUserArn: USER_ARN,
      accessKeyId: 'AKIAEXAMPLE',
      secretAccessKey: 's3cr3t/Key+',
    });
  });

  it('reads IAM session mode with :key: symbol-style keys, resolving a relative credentials file', async () => {
    const path = await write(
      [`:region: eu-west-1`, `:iam_session_arn: ${SESSION_ARN}`, ':aws_credentials_file: creds/credentials', ''].join('\n'),
    );
    expect(await loadOnPremisesConfig(path)).toEqual({
      mode: 'iam-session',
      path,
      region: 'eu-west-1',
      iamSessionArn: SESSION_ARN,
      credentialsFile: join(path, '..', 'creds', 'credentials'),
    });
  });

  it('keeps an absolute credentials file path as written', () => {
    const config = parseOnPremisesConfig(
      `region: us-east-1\niam_session_arn: ${SESSION_ARN}\naws_credentials_file: /etc/codedeploy-agent/conf/credentials\n`,
      '/x/on.yml',
    );
    expect(config).toMatchObject({ mode: 'iam-session', credentialsFile: '/etc/codedeploy-agent/conf/credentials' });
  });

  it('configures nothing (undefined, with a debug note) when neither ARN is present', async () => {
    const { logger, lines } = captureLogger();
    const path = await write('region: us-east-1\naws_access_key_id: AKIA\n');
    expect(await loadOnPremisesConfig(path, { logger })).toBeUndefined();
    expect(lines().some((l) => l.level === 20 && String(l.msg).includes('configures nothing'))).toBe(true);
  });

  it('rejects both ARNs with the official message', () => {
    expect(() =>
      parseOnPremisesConfig(`region: us-east-1\niam_user_arn: ${USER_ARN}\niam_session_arn: ${SESSION_ARN}\n`, '/c.yml'),
    ).toThrow("On Premises config cannot contain both 'iam_user_arn' and 'iam_session_arn' keys.");
  });

  it.each([
    ['region', `iam_user_arn: ${USER_ARN}\naws_access_key_id: A\naws_secret_access_key: S\n`],
    ['aws_access_key_id', `region: us-east-1\niam_user_arn: ${USER_ARN}\naws_secret_access_key: S\n`],
    ['aws_secret_access_key', `region: us-east-1\niam_user_arn: ${USER_ARN}\naws_access_key_id: A\n`],
    ['aws_secret_access_key', `region: us-east-1\niam_user_arn: ${USER_ARN}\naws_access_key_id: A\naws_secret_access_key: "  "\n`],
    // The official order: region is reported first.
    ['region', `iam_user_arn: ${USER_ARN}\n`],
  ])("IAM user mode without '%s' fails with the official message", (field, text) => {
    expect(() => parseOnPremisesConfig(text, '/c.yml')).toThrow(`'${field}' key is required when 'iam_user_arn' is provided.`);
  });

  it.each([
    ['region', `iam_session_arn: ${SESSION_ARN}\naws_credentials_file: /c\n`],
    ['aws_credentials_file', `region: us-east-1\niam_session_arn: ${SESSION_ARN}\n`],
    ['aws_credentials_file', `:region: us-east-1\n:iam_session_arn: ${SESSION_ARN}\n:aws_credentials_file:\n`],
  ])("IAM session mode without '%s' fails with the official message", (field, text) => {
    expect(() => parseOnPremisesConfig(text, '/c.yml')).toThrow(`'${field}' key is required when 'iam_session_arn' is provided.`);
  });

  it.each([
    ['invalid YAML', 'region: "unterminated\n'],
    ['a list', '- region\n- us-east-1\n'],
    ['a scalar', 'just text\n'],
    ['an empty file', ''],
  ])('rejects %s with the official format message and error code', async (_name, text) => {
    const path = await write(text);
    const err = await loadOnPremisesConfig(path).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AgentError);
    expect((err as AgentError).code).toBe('CDA_ERR_ONPREMISES_CONFIG_INVALID');
    expect((err as AgentError).message).toBe(
      `The deployment failed because the format of the following on-premises configuration file is invalid: ${path}`,
    );
  });

  it('never puts the secret into error details', () => {
    try {
      parseOnPremisesConfig(`iam_user_arn: ${USER_ARN}\naws_access_key_id: A\naws_secret_access_key: TOPSECRET\n`, '/c.yml');
      expect.unreachable();
    } catch (err) {
      expect(JSON.stringify((err as AgentError).details)).not.toContain('TOPSECRET');
      expect((err as AgentError).message).not.toContain('TOPSECRET');
    }
  });
});
