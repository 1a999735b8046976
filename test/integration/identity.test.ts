/**
 * Host identity end to end: resolveIdentity wired only from an AgentConfig (its own IMDS client
 * over config.imdsEndpoint, pointed at the fake IMDS), the credentials used by a real SigV4
 * signer, token expiry in the middle of a run, a rotated on-premises credentials file, and a
 * child process (standing in for a hook) that inherits the agent's environment and sees no key.
 */
import { execFile } from 'node:child_process';
import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Sha256 } from '@aws-crypto/sha256-js';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentityProvider } from '@smithy/types';
import { afterEach, describe, expect, it } from 'vitest';
import { configWithOverrides } from '../../agent/config/agent-config.js';
import { V2_FALLBACK_WARNING } from '../../agent/identity/imds-client.js';
import { resolveIdentity } from '../../agent/identity/resolve-identity.js';
import { startFakeImds, type FakeImds } from '../helpers/fake-imds.js';
import { captureLogger, silentLogger, tempDir } from '../helpers/temp.js';

const run = promisify(execFile);

let fake: FakeImds | undefined;
afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

async function signedAuthorization(credentials: AwsCredentialIdentityProvider, region: string): Promise<Record<string, string>> {
  const signer = new SignatureV4({ credentials, region, service: 'codedeploy-commands', sha256: Sha256 });
  const request = new HttpRequest({
    method: 'POST',
    protocol: 'https:',
    hostname: `codedeploy-commands.${region}.amazonaws.com`,
    path: '/',
    headers: { host: `codedeploy-commands.${region}.amazonaws.com`, 'content-type': 'application/x-amz-json-1.1' },
    body: '{}',
  });
  const signed = await signer.sign(request);
  return signed.headers as Record<string, string>;
}

describe('host identity (integration)', () => {
  it('EC2 over IMDSv2: identity, instance-profile credentials that sign requests, and a token expiring mid-run', async () => {
    fake = await startFakeImds({
      mode: 'v2-only',
      region: 'eu-west-1',
      instanceId: 'i-0feedface',
      role: {
        name: 'agent-role',
        credentials: {
          AccessKeyId: 'ASIAINSTANCE',
          SecretAccessKey: 'instance-secret',
          Token: 'instance-token',
          Expiration: '2099-01-01T00:00:00Z',
        },
      },
    });
    const onPremisesConfigFile = join(await tempDir(), 'codedeploy.onpremises.yml');
    const identity = await resolveIdentity({
      config: configWithOverrides({ imdsEndpoint: fake.url, onPremisesConfigFile }),
      env: {},
      logger: silentLogger(),
    });
    expect(identity.hostIdentifier).toBe('arn:aws:ec2:eu-west-1:123456789012:instance/i-0feedface');
    expect(identity.summary).toBe('identity: EC2 instance i-0feedface (IMDSv2), region eu-west-1, domain amazonaws.com');

    // The token expires (or IMDS restarts) before the credentials are first needed.
    fake.expireTokens();
    const headers = await signedAuthorization(identity.credentials, identity.region);
    expect(headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=ASIAINSTANCE\/\d{8}\/eu-west-1\/codedeploy-commands\/aws4_request/);
    expect(headers['x-amz-security-token']).toBe('instance-token');

    const roleCalls = fake.callsTo('/latest/meta-data/iam/security-credentials/');
    expect(roleCalls.map((c) => c.status)).toEqual([401, 200]);
    expect(fake.callsTo('/latest/api/token', 'PUT')).toHaveLength(2);
    // Every GET carried a token (v2-only would have refused the rest).
    expect(fake.calls.filter((c) => c.method === 'GET' && c.status === 200).every((c) => c.token !== undefined)).toBe(true);
  });

  it('EC2 over IMDSv1 when the token PUT is refused, with the official warning', async () => {
    fake = await startFakeImds({ mode: 'v1-only', tokenRefusalStatus: 404 });
    const { logger, lines } = captureLogger();
    const identity = await resolveIdentity({
      config: configWithOverrides({ imdsEndpoint: fake.url, onPremisesConfigFile: join(await tempDir(), 'none.yml') }),
      env: {},
      logger,
    });
    expect(identity.hostIdentifier).toBe('arn:aws:ec2:us-east-1:123456789012:instance/i-deadbeef');
    expect(identity.summary).toContain('(IMDSv1)');
    expect(
      lines()
        .filter((l) => l.level === 40)
        .map((l) => l.msg),
    ).toEqual([V2_FALLBACK_WARNING]);
  });

  it('with :disable_imds_v1: and a v1-only IMDS there is no identity, and the error says why', async () => {
    fake = await startFakeImds({ mode: 'v1-only' });
    await expect(
      resolveIdentity({
        config: configWithOverrides({
          imdsEndpoint: fake.url,
          disableImdsV1: true,
          onPremisesConfigFile: join(await tempDir(), 'none.yml'),
        }),
        env: {},
        logger: silentLogger(),
      }),
    ).rejects.toThrow(/does not answer \(to IMDSv2: :disable_imds_v1: is true\)/);
    expect(fake.calls.filter((c) => c.method === 'GET')).toEqual([]);
  });

  it('on-premises IAM session: rotated credentials are picked up, IMDS is not asked, and a hook-like child sees no key', async () => {
    fake = await startFakeImds({ region: 'us-east-1' });
    const dir = await tempDir();
    const creds = join(dir, 'credentials');
    await writeFile(
      creds,
      '[default]\naws_access_key_id = ASIAFIRST\naws_secret_access_key = first-secret\naws_session_token = first-token\n',
    );
    const onPremisesConfigFile = join(dir, 'codedeploy.onpremises.yml');
    await writeFile(
      onPremisesConfigFile,
      [
        '---',
        ':region: us-west-2',
        ':iam_session_arn: arn:aws:sts::123456789012:assumed-role/onprem/host-7',
        ':aws_credentials_file: credentials',
        '',
      ].join('\n'),
    );
    const envBefore = { ...process.env };
    const identity = await resolveIdentity({
      config: configWithOverrides({ imdsEndpoint: fake.url, onPremisesConfigFile }),
      env: process.env,
      logger: silentLogger(),
    });
    expect(identity.kind).toBe('on-premises');
    expect(identity.region).toBe('us-west-2');
    expect(identity.hostIdentifier).toBe('arn:aws:sts::123456789012:assumed-role/onprem/host-7');

    const first = await signedAuthorization(identity.credentials, identity.region);
    expect(first.authorization).toContain('Credential=ASIAFIRST/');

    // A rotation tool writes a new file and renames it into place.
    await writeFile(
      `${creds}.new`,
      '[default]\naws_access_key_id = ASIASECOND\naws_secret_access_key = second-secret\naws_session_token = second-token\n',
    );
    await rename(`${creds}.new`, creds);
    const second = await signedAuthorization(identity.credentials, identity.region);
    expect(second.authorization).toContain('Credential=ASIASECOND/');
    expect(second['x-amz-security-token']).toBe('second-token');

    expect(fake.calls).toEqual([]);
    expect(process.env).toEqual(envBefore);
    const { stdout } = await run(process.execPath, ['-e', 'process.stdout.write(JSON.stringify(process.env))'], { env: process.env });
    for (const secret of ['ASIASECOND', 'second-secret', 'second-token', 'ASIAFIRST', creds]) {
      expect(stdout).not.toContain(secret);
    }
  });
});
