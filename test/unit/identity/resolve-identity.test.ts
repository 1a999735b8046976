import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { configWithOverrides } from '../../../agent/config/agent-config.js';
import { AgentError } from '../../../agent/errors.js';
import { createImdsClient, type ImdsClient } from '../../../agent/identity/imds-client.js';
import { resolveIdentity } from '../../../agent/identity/resolve-identity.js';
import { closedEndpoint, startFakeImds, type FakeImds, type FakeImdsOptions } from '../../helpers/fake-imds.js';
import { captureLogger, silentLogger, tempDir } from '../../helpers/temp.js';

const USER_ARN = 'arn:aws:iam::123456789012:user/onprem';
const SESSION_ARN = 'arn:aws:sts::123456789012:assumed-role/onprem-role/host-1';
const ROLE_CREDENTIALS = {
  AccessKeyId: 'ASIAROLE',
  SecretAccessKey: 'role-secret-value',
  Token: 'role-token',
  Expiration: '2099-01-01T00:00:00Z',
};

let fake: FakeImds | undefined;
afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

async function withImds(options: FakeImdsOptions = {}): Promise<{ imds: ImdsClient; fake: FakeImds }> {
  fake = await startFakeImds({ role: { name: 'app-role', credentials: ROLE_CREDENTIALS }, ...options });
  return { fake, imds: createImdsClient({ endpoint: fake.url, disableV1: false, logger: silentLogger(), sleep: () => Promise.resolve() }) };
}

async function onPremFile(lines: string[]): Promise<string> {
  const dir = await tempDir();
  const path = join(dir, 'codedeploy.onpremises.yml');
  await writeFile(path, lines.join('\n') + '\n');
  return path;
}

async function absentFile(): Promise<string> {
  return join(await tempDir(), 'codedeploy.onpremises.yml');
}

describe('resolveIdentity', () => {
  it('prefers the on-premises file over a reachable IMDS, and never touches process.env', async () => {
    const { imds, fake } = await withImds({ region: 'us-east-1' });
    const path = await onPremFile([
      `region: us-west-2`,
      `iam_user_arn: ${USER_ARN}`,
      'aws_access_key_id: AKIAONPREM',
      'aws_secret_access_key: TOPSECRETKEY',
    ]);
    const before = { ...process.env };
    const env: NodeJS.ProcessEnv = { PATH: '/usr/bin' };
    const identity = await resolveIdentity({
      config: configWithOverrides({ onPremisesConfigFile: path }),
      env,
      logger: silentLogger(),
      imds,
    });

    expect(identity).toMatchObject({
      kind: 'on-premises',
      hostIdentifier: USER_ARN,
      region: 'us-west-2',
      domain: 'amazonaws.com',
      credentialSource: 'on-premises-iam-user',
    });
    expect(await identity.credentials()).toEqual({ accessKeyId: 'AKIAONPREM', secretAccessKey: 'TOPSECRETKEY' });
    expect(identity.summary).toBe(
      `identity: on-premises (codedeploy.onpremises.yml at ${join(path, '..')}, IAM user ${USER_ARN}, keys from the file), region us-west-2, domain amazonaws.com`,
    );
    expect(identity.summary).not.toContain('TOPSECRETKEY');
    expect(identity.summary).not.toContain('AKIAONPREM');
    // The official takes the endpoint region from IMDS here (11.2 #21); we do not ask IMDS at all.
    expect(fake.calls).toEqual([]);
    expect(process.env).toEqual(before);
    expect(env).toEqual({ PATH: '/usr/bin' });
    for (const name of ['AWS_ACCESS_KEY', 'AWS_SECRET_KEY', 'AWS_HOST_IDENTIFIER', 'AWS_CREDENTIALS_FILE']) {
      expect(process.env[name]).toBe(before[name]);
    }
  });

  it('uses a refreshing credentials file in IAM session mode', async () => {
    const dir = await tempDir();
    const creds = join(dir, 'credentials');
    await writeFile(
      creds,
      '[default]\naws_access_key_id = ASIASESSION\naws_secret_access_key = session-secret\naws_session_token = session-token\n',
    );
    const path = await onPremFile([`:region: cn-north-1`, `:iam_session_arn: ${SESSION_ARN}`, `:aws_credentials_file: ${creds}`]);
    const identity = await resolveIdentity({
      config: configWithOverrides({ onPremisesConfigFile: path }),
      env: {},
      logger: silentLogger(),
    });
    expect(identity).toMatchObject({
      kind: 'on-premises',
      hostIdentifier: SESSION_ARN,
      region: 'cn-north-1',
      domain: 'amazonaws.com.cn',
      credentialSource: 'credentials-file',
    });
    expect(await identity.credentials()).toMatchObject({ accessKeyId: 'ASIASESSION', sessionToken: 'session-token' });
    expect(identity.summary).toContain(`IAM session ${SESSION_ARN}, credentials file ${creds}`);
    expect(identity.summary).not.toContain('session-secret');
    expect(identity.summary).not.toContain('session-token');
  });

  it('fails at start-up when the session credentials file is missing', async () => {
    const creds = join(await tempDir(), 'missing-credentials');
    const path = await onPremFile([`region: us-east-1`, `iam_session_arn: ${SESSION_ARN}`, `aws_credentials_file: ${creds}`]);
    await expect(
      resolveIdentity({ config: configWithOverrides({ onPremisesConfigFile: path }), env: {}, logger: silentLogger() }),
    ).rejects.toThrow(`Failed to load credentials from path ${creds}`);
  });

  it('lets the on-premises file win over AWS_REGION and AWS_HOST_IDENTIFIER, with a warning', async () => {
    const path = await onPremFile([`region: us-west-2`, `iam_user_arn: ${USER_ARN}`, 'aws_access_key_id: A', 'aws_secret_access_key: S']);
    const { logger, lines } = captureLogger();
    const identity = await resolveIdentity({
      config: configWithOverrides({ onPremisesConfigFile: path }),
      env: { AWS_REGION: 'eu-central-1', AWS_HOST_IDENTIFIER: 'arn:aws:iam::1:user/other' },
      logger,
    });
    expect(identity.region).toBe('us-west-2');
    expect(identity.hostIdentifier).toBe(USER_ARN);
    const warnings = lines()
      .filter((l) => l.level === 40)
      .map((l) => String(l.msg));
    expect(warnings).toEqual([
      'AWS_REGION=eu-central-1 in the environment is ignored: the on-premises file sets region us-west-2',
      `AWS_HOST_IDENTIFIER in the environment is ignored: the on-premises file sets ${USER_ARN}`,
    ]);
  });

  it('is the EC2 instance, from IMDS, with instance-profile credentials', async () => {
    const { imds } = await withImds({ region: 'ap-southeast-2', instanceId: 'i-0123456789abcdef0' });
    const identity = await resolveIdentity({
      config: configWithOverrides({ onPremisesConfigFile: await absentFile() }),
      env: {},
      logger: silentLogger(),
      imds,
    });
    expect(identity).toMatchObject({
      kind: 'ec2',
      hostIdentifier: 'arn:aws:ec2:ap-southeast-2:123456789012:instance/i-0123456789abcdef0',
      region: 'ap-southeast-2',
      domain: 'amazonaws.com',
      credentialSource: 'instance-profile',
    });
    expect(identity.summary).toBe('identity: EC2 instance i-0123456789abcdef0 (IMDSv2), region ap-southeast-2, domain amazonaws.com');
    expect(await identity.credentials()).toMatchObject({
      accessKeyId: 'ASIAROLE',
      secretAccessKey: 'role-secret-value',
      sessionToken: 'role-token',
    });
  });

  it('says IMDSv1 in the summary after a fallback', async () => {
    const { imds } = await withImds({ mode: 'v1-only' });
    const identity = await resolveIdentity({
      config: configWithOverrides({ onPremisesConfigFile: await absentFile() }),
      env: {},
      logger: silentLogger(),
      imds,
    });
    expect(identity.summary).toBe('identity: EC2 instance i-deadbeef (IMDSv1), region us-east-1, domain amazonaws.com');
  });

  it('applies AWS_REGION and AWS_HOST_IDENTIFIER overrides on EC2', async () => {
    const { imds } = await withImds({ region: 'us-east-1' });
    const identity = await resolveIdentity({
      config: configWithOverrides({ onPremisesConfigFile: await absentFile() }),
      env: { AWS_REGION: ' cn-northwest-1 ', AWS_HOST_IDENTIFIER: 'arn:aws:ec2:us-east-1:1:instance/i-override' },
      logger: silentLogger(),
      imds,
    });
    expect(identity).toMatchObject({
      kind: 'ec2',
      hostIdentifier: 'arn:aws:ec2:us-east-1:1:instance/i-override',
      region: 'cn-northwest-1',
      domain: 'amazonaws.com.cn',
    });
    expect(identity.summary).toBe(
      'identity: EC2 instance i-deadbeef (IMDSv2), host identifier arn:aws:ec2:us-east-1:1:instance/i-override (from AWS_HOST_IDENTIFIER), region cn-northwest-1 (from AWS_REGION), domain amazonaws.com.cn',
    );
  });

  it('fails clearly and quickly with neither an on-premises file nor IMDS', async () => {
    const endpoint = await closedEndpoint();
    const path = await absentFile();
    const started = Date.now();
    const err = await resolveIdentity({
      config: configWithOverrides({ onPremisesConfigFile: path, imdsEndpoint: endpoint }),
      env: { AWS_REGION: 'us-east-1' },
      logger: silentLogger(),
    }).catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(3000);
    expect(err).toBeInstanceOf(AgentError);
    expect((err as AgentError).code).toBe('CDA_ERR_IDENTITY');
    expect((err as AgentError).message).toContain(`no on-premises configuration file at ${path}`);
    expect((err as AgentError).message).toContain(`the instance metadata service at ${endpoint} does not answer`);
  });

  it('accepts an identity from AWS_HOST_IDENTIFIER and AWS_REGION alone when IMDS is absent', async () => {
    const endpoint = await closedEndpoint();
    const identity = await resolveIdentity({
      config: configWithOverrides({ onPremisesConfigFile: await absentFile(), imdsEndpoint: endpoint }),
      env: { AWS_REGION: 'eusc-de-east-1', AWS_HOST_IDENTIFIER: 'arn:aws:iam::1:user/env-host' },
      logger: silentLogger(),
    });
    expect(identity).toMatchObject({
      kind: 'ec2',
      hostIdentifier: 'arn:aws:iam::1:user/env-host',
      region: 'eusc-de-east-1',
      domain: 'amazonaws.eu',
    });
    expect(identity.summary).toBe(
      'identity: host arn:aws:iam::1:user/env-host (from AWS_HOST_IDENTIFIER; no instance metadata), region eusc-de-east-1 (from AWS_REGION), domain amazonaws.eu',
    );
  });

  it('ignores AWS_ACCESS_KEY_ID in the agent environment in the prod profile (instance profile used, warned)', async () => {
    const { imds } = await withImds();
    const { logger, lines } = captureLogger();
    const identity = await resolveIdentity({
      config: configWithOverrides({ onPremisesConfigFile: await absentFile() }),
      env: { AWS_ACCESS_KEY_ID: 'AKIAENV', AWS_SECRET_ACCESS_KEY: 'env-secret' },
      logger,
      imds,
    });
    expect(identity.credentialSource).toBe('instance-profile');
    expect((await identity.credentials()).accessKeyId).toBe('ASIAROLE');
    expect(lines().some((l) => l.level === 40 && String(l.msg).startsWith("AWS_ACCESS_KEY_ID in the agent's environment is ignored"))).toBe(
      true,
    );
  });

  it('uses keys from the environment only in the beta/gamma test profiles', async () => {
    const { imds, fake } = await withImds();
    const identity = await resolveIdentity({
      config: configWithOverrides({ onPremisesConfigFile: await absentFile(), codedeployTestProfile: 'beta' }),
      env: { AWS_ACCESS_KEY_ID: 'AKIAENV', AWS_SECRET_ACCESS_KEY: 'env-secret', AWS_SESSION_TOKEN: 'env-token' },
      logger: silentLogger(),
      imds,
    });
    expect(identity.credentialSource).toBe('environment');
    expect(await identity.credentials()).toEqual({ accessKeyId: 'AKIAENV', secretAccessKey: 'env-secret', sessionToken: 'env-token' });
    expect(identity.summary).toContain('credentials from the environment (test profile beta)');
    expect(identity.summary).not.toContain('env-secret');
    expect(fake.calls.some((c) => c.path.startsWith('/latest/meta-data/iam/'))).toBe(false);
  });
});
