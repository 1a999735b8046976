import { afterEach, describe, expect, it } from 'vitest';
import { createImdsClient, type ImdsClient } from '../../../agent/identity/imds-client.js';
import { imdsCredentialsProvider } from '../../../agent/identity/imds-credentials.js';
import { domainForRegion, ec2HostIdentity } from '../../../agent/identity/instance-metadata.js';
import { startFakeImds, type FakeImds, type FakeImdsOptions } from '../../helpers/fake-imds.js';
import { silentLogger } from '../../helpers/temp.js';

let fake: FakeImds | undefined;
afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

async function client(options: FakeImdsOptions = {}): Promise<ImdsClient> {
  fake = await startFakeImds(options);
  return createImdsClient({ endpoint: fake.url, disableV1: false, logger: silentLogger(), sleep: () => Promise.resolve() });
}

const credentials = {
  AccessKeyId: 'ASIAROLEKEY',
  SecretAccessKey: 'role-secret',
  Token: 'role-session-token',
  Expiration: '2031-01-01T00:00:00Z',
};

describe('EC2 host identity', () => {
  it('builds the official host ARN (reference test: arn:aws:ec2:us-east-1:123456789012:instance/i-deadbeef)', async () => {
    const identity = await ec2HostIdentity(await client());
    expect(identity).toEqual({
      hostIdentifier: 'arn:aws:ec2:us-east-1:123456789012:instance/i-deadbeef',
      region: 'us-east-1',
      domain: 'amazonaws.com',
      partition: 'aws',
      accountId: '123456789012',
      instanceId: 'i-deadbeef',
    });
  });

  it('uses the partition and domain IMDS reports, with values trimmed', async () => {
    const imds = await client({
      padValues: true,
      partition: 'aws-cn',
      region: 'cn-north-1',
      domain: 'amazonaws.com.cn',
      instanceId: 'i-0abc',
      accountId: '210987654321',
    });
    const identity = await ec2HostIdentity(imds);
    expect(identity.hostIdentifier).toBe('arn:aws-cn:ec2:cn-north-1:210987654321:instance/i-0abc');
    expect(identity.domain).toBe('amazonaws.com.cn');
  });

  it('defaults the domain to amazonaws.com when services/domain does not exist', async () => {
    const identity = await ec2HostIdentity(await client({ domain: null }));
    expect(identity.domain).toBe('amazonaws.com');
    expect(fake?.callsTo('/latest/meta-data/services/domain').map((c) => c.status)).toEqual([404]);
  });

  it('propagates other failures instead of guessing', async () => {
    const imds = await client();
    fake?.failNext(3, { pathPrefix: '/latest/meta-data/services/domain', status: 500 });
    await expect(ec2HostIdentity(imds)).rejects.toThrow('HTTP error from metadata service: 500 for /latest/meta-data/services/domain');
  });

  it.each([
    ['us-west-2', 'amazonaws.com'],
    ['cn-northwest-1', 'amazonaws.com.cn'],
    ['eusc-de-east-1', 'amazonaws.eu'],
    ['us-gov-west-1', 'amazonaws.com'],
  ])('domainForRegion(%s) is %s', (region, domain) => {
    expect(domainForRegion(region)).toBe(domain);
  });
});

describe('instance-profile credentials from IMDS', () => {
  it('reads the role, then its credentials, and caches them until near expiry', async () => {
    const imds = await client({ role: { name: 'app-role', credentials } });
    let clock = Date.parse('2030-12-31T23:00:00Z');
    const provider = imdsCredentialsProvider(imds, { now: () => clock });
    const first = await provider();
    expect(first).toEqual({
      accessKeyId: 'ASIAROLEKEY',
      secretAccessKey: 'role-secret',
      sessionToken: 'role-session-token',
      expiration: new Date('2031-01-01T00:00:00Z'),
    });
    await provider();
    expect(fake?.callsTo('/latest/meta-data/iam/security-credentials/app-role')).toHaveLength(1);
    fake?.setRole({ name: 'app-role', credentials: { ...credentials, AccessKeyId: 'ASIANEWKEY', Expiration: '2031-01-01T06:00:00Z' } });
    clock = Date.parse('2030-12-31T23:56:00Z');
    expect((await provider()).accessKeyId).toBe('ASIANEWKEY');
    expect(fake?.callsTo('/latest/meta-data/iam/security-credentials/app-role')).toHaveLength(2);
  });

  it('skips the cache on { forceRefresh: true }', async () => {
    const imds = await client({ role: { name: 'app-role', credentials } });
    const provider = imdsCredentialsProvider(imds, { now: () => Date.parse('2030-01-01T00:00:00Z') });
    await provider();
    fake?.setRole({ name: 'app-role', credentials: { ...credentials, AccessKeyId: 'ASIAFORCED' } });
    expect((await provider()).accessKeyId).toBe('ASIAROLEKEY');
    expect((await provider({ forceRefresh: true })).accessKeyId).toBe('ASIAFORCED');
  });

  it('says so when no instance profile is attached', async () => {
    const provider = imdsCredentialsProvider(await client());
    const err = await provider().catch((e: unknown) => e);
    expect((err as Error).message).toBe(
      'No IAM instance profile is attached to this instance: the metadata service has no security credentials',
    );
    expect((err as { code?: string }).code).toBe('CDA_ERR_CREDENTIALS');
  });
});
