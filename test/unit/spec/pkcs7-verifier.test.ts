import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentError, ErrorCodes } from '../../../agent/errors.js';
import { parseDeploymentSpecAsync } from '../../../agent/spec/deployment-spec.js';
import { createPkcs7Verifier, verifyPkcs7Payload } from '../../../agent/spec/pkcs7-verifier.js';
import { createSpecSigner, type SpecSigner } from '../../helpers/spec-signer.js';
import { captureLogger } from '../../helpers/temp.js';

const spec = {
  DeploymentId: 'd-ABCDEFGHI',
  DeploymentGroupId: 'dg-1',
  DeploymentGroupName: 'prod',
  ApplicationName: 'web',
  Revision: { RevisionType: 'S3', S3Revision: { Bucket: 'b', Key: 'k.zip', BundleType: 'zip' } },
};
const body = JSON.stringify(spec);
const BAD_SIGNATURE = "The deployment specification's PKCS7 signature does not verify: the content was modified or signed by another key";

const toPem = (der: Buffer, label = 'CMS'): string =>
  `-----BEGIN ${label}-----\n${(der.toString('base64').match(/.{1,64}/g) ?? []).join('\n')}\n-----END ${label}-----\n`;

async function specError(promise: Promise<unknown>): Promise<AgentError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AgentError);
  expect((err as AgentError).code).toBe(ErrorCodes.SPEC_INVALID);
  return err as AgentError;
}

let pki: SpecSigner;
let otherPki: SpecSigner;
let expiredPki: SpecSigner;

beforeAll(() => {
  pki = createSpecSigner({ signerSubject: '/C=US/O=Amazon.com, Inc./CN=codedeploy-signer-us-east-1.amazonaws.com' });
  otherPki = createSpecSigner({ caName: 'Other' });
  expiredPki = createSpecSigner({ caName: 'Expired', signerValidity: { start: '20200101000000Z', end: '20210101000000Z' } });
});

afterAll(() => {
  for (const p of [pki, otherPki, expiredPki]) p?.cleanup();
});

describe('PKCS7 deployment specification verifier', () => {
  it('returns the signed JSON from a PEM payload (-----BEGIN CMS-----) and logs the signer subject at debug', async () => {
    const { logger, lines } = captureLogger();
    const payload = pki.sign(body);
    expect(payload.startsWith('-----BEGIN CMS-----')).toBe(true);
    await expect(createPkcs7Verifier({ logger })(payload)).resolves.toBe(body);
    const line = lines().find((l) => l.msg === 'deployment specification signature verified');
    expect(line).toMatchObject({ level: 20, signer: '/C=US/O=Amazon.com, Inc./CN=codedeploy-signer-us-east-1.amazonaws.com' });
  });

  it.each([
    ['PEM labelled PKCS7', (der: Buffer) => toPem(der, 'PKCS7')],
    ['base64 DER', (der: Buffer) => der.toString('base64')],
    ['base64 DER with line breaks', (der: Buffer) => (der.toString('base64').match(/.{1,76}/g) ?? []).join('\r\n')],
    ['raw DER as a binary string', (der: Buffer) => der.toString('latin1')],
  ])('accepts %s', async (_name, encode) => {
    await expect(verifyPkcs7Payload(encode(pki.signDer(body)))).resolves.toBe(body);
  });

  it('keeps multi-byte UTF-8 content intact', async () => {
    const text = JSON.stringify({ ...spec, DeploymentGroupName: 'prod-ü-✓' });
    await expect(verifyPkcs7Payload(pki.sign(text))).resolves.toBe(text);
  });

  it('rejects content modified after signing', async () => {
    const der = pki.signDer(body);
    const at = der.indexOf(Buffer.from('"prod"'));
    expect(at).toBeGreaterThan(0);
    const tampered = Buffer.from(der);
    tampered[at + 3] = 'u'.charCodeAt(0); // "prod" -> "prud"
    const err = await specError(verifyPkcs7Payload(toPem(tampered)));
    expect(err.message.startsWith(BAD_SIGNATURE)).toBe(true);
  });

  it('rejects a signature that does not match the embedded certificate', async () => {
    const der = Buffer.from(pki.signDer(body));
    // The signer info is the last element of SignedData and its signature value its last field.
    der[der.length - 1] = (der[der.length - 1] ?? 0) ^ 0xff;
    const err = await specError(verifyPkcs7Payload(der.toString('base64')));
    expect(err.message).toBe(BAD_SIGNATURE);
  });

  it.each([
    ['raw JSON', body],
    ['an empty payload', ''],
    ['a PEM certificate', ''],
  ])('rejects %s with the official "Could not parse the PKCS7" prefix', async (name, payload) => {
    const input = name === 'a PEM certificate' ? pki.caCertPem : payload;
    const err = await specError(verifyPkcs7Payload(input));
    expect(err.message).toMatch(/^Could not parse the PKCS7: \S/);
  });

  it('rejects a detached signature (no encapsulated content)', async () => {
    const detached = execFileSync(
      'openssl',
      ['cms', '-sign', '-binary', '-md', 'sha256', '-signer', pki.signerCertPath, '-inkey', pki.signerKeyPath, '-outform', 'PEM'],
      {
        input: body,
        stdio: ['pipe', 'pipe', 'pipe'],
      },
    ).toString('utf8');
    const err = await specError(verifyPkcs7Payload(detached));
    expect(err.message).toContain('no encapsulated content');
  });

  describe('with a trusted CA (deployment_spec_ca_file)', () => {
    it('accepts a signer issued through the intermediate in the CMS certificate set', async () => {
      const verify = createPkcs7Verifier({ trustedCaPem: pki.caCertPem, trustedCaSource: pki.caCertPath });
      await expect(verify(pki.sign(body))).resolves.toBe(body);
    });

    it('accepts when the trust store holds several CAs, one of them ours', async () => {
      const verify = createPkcs7Verifier({ trustedCaPem: otherPki.caCertPem + pki.caCertPem });
      await expect(verify(pki.sign(body))).resolves.toBe(body);
    });

    it('rejects a signer issued by another CA and names the signer and the CA file', async () => {
      const verify = createPkcs7Verifier({ trustedCaPem: pki.caCertPem, trustedCaSource: '/etc/codedeploy-agent/conf/spec-ca.pem' });
      const err = await specError(verify(otherPki.sign(body)));
      expect(err.message).toMatch(
        /^The deployment specification was signed by "\/CN=codedeploy-signer-us-east-1\.amazonaws\.com", which is not issued by a trusted CA \(:deployment_spec_ca_file: \/etc\/codedeploy-agent\/conf\/spec-ca\.pem\)/,
      );
    });

    it('does not trust a root CA smuggled into the CMS certificate set', async () => {
      const certs = join(otherPki.dir, 'chain-with-root.pem');
      writeFileSync(certs, execFileSync('cat', [otherPki.intermediateCertPath, otherPki.caCertPath]));
      const payload = execFileSync(
        'openssl',
        [
          'cms',
          '-sign',
          '-binary',
          '-nodetach',
          '-md',
          'sha256',
          '-signer',
          otherPki.signerCertPath,
          '-inkey',
          otherPki.signerKeyPath,
          '-certfile',
          certs,
          '-outform',
          'PEM',
        ],
        { input: body, stdio: ['pipe', 'pipe', 'pipe'] },
      ).toString('utf8');
      await expect(verifyPkcs7Payload(payload)).resolves.toBe(body);
      const err = await specError(verifyPkcs7Payload(payload, { trustedCaPem: pki.caCertPem }));
      expect(err.message).toContain(
        'which is not issued by a trusted CA (:deployment_spec_ca_file: /O=CodeDeploy Test/CN=CodeDeploy Test Root CA)',
      );
    });

    it('rejects an expired signer certificate', async () => {
      const payload = expiredPki.sign(body);
      // Without a trust store only the signature is checked (as the official agent's PKCS7#verify does).
      await expect(verifyPkcs7Payload(payload)).resolves.toBe(body);
      const err = await specError(verifyPkcs7Payload(payload, { trustedCaPem: expiredPki.caCertPem }));
      expect(err.message).toMatch(
        /^The deployment specification was signed by "\/CN=codedeploy-signer-us-east-1\.amazonaws\.com", whose certificate is not valid at .* \(valid from 2020-01-01T00:00:00\.000Z to 2021-01-01T00:00:00\.000Z\)$/,
      );
    });

    it("checks the CA certificates' dates too (injected clock inside the signer validity, before the CAs existed)", async () => {
      const verify = createPkcs7Verifier({ trustedCaPem: expiredPki.caCertPem, now: () => new Date('2020-06-01T00:00:00Z') });
      const err = await specError(verify(expiredPki.sign(body)));
      expect(err.message).toBe(
        'The deployment specification was signed by "/CN=codedeploy-signer-us-east-1.amazonaws.com", whose certificate chain is not valid at 2020-06-01T00:00:00.000Z: The certificate is either not yet valid or expired',
      );
    });

    it('fails at creation when the CA text holds no certificate', () => {
      expect(() => createPkcs7Verifier({ trustedCaPem: 'not a pem', trustedCaSource: '/x/ca.pem' })).toThrow(
        expect.objectContaining({
          code: ErrorCodes.CONFIG_INVALID,
          message: 'deployment_spec_ca_file: no PEM certificate found in /x/ca.pem',
        }),
      );
    });
  });
});

describe('PKCS7 verifier cache (identical payloads are verified once)', () => {
  const VERIFIED = 'deployment specification signature verified';
  const REUSED = 'deployment specification signature verified before (identical payload)';
  const count = (lines: () => Array<Record<string, unknown>>, msg: string) => lines().filter((l) => l.msg === msg).length;

  it('answers a repeat of the exact payload from the cache, and verifies any other payload', async () => {
    const { logger, lines } = captureLogger();
    const verify = createPkcs7Verifier({ logger, trustedCaPem: pki.caCertPem });
    const payload = pki.sign(body);
    for (let i = 0; i < 3; i++) await expect(verify(payload)).resolves.toBe(body);
    expect(count(lines, VERIFIED)).toBe(1);
    expect(count(lines, REUSED)).toBe(2);

    const other = JSON.stringify({ ...spec, DeploymentId: 'd-OTHER' });
    await expect(verify(pki.sign(other))).resolves.toBe(other);
    expect(count(lines, VERIFIED)).toBe(2);
  });

  it('verifies a payload that differs by one byte from a cached one (and rejects it when tampered)', async () => {
    const { logger, lines } = captureLogger();
    const verify = createPkcs7Verifier({ logger });
    const der = pki.signDer(body);
    await expect(verify(toPem(der))).resolves.toBe(body);
    const at = der.indexOf(Buffer.from('"prod"'));
    const tampered = Buffer.from(der);
    tampered[at + 3] = 'u'.charCodeAt(0);
    const err = await specError(verify(toPem(tampered)));
    expect(err.message.startsWith(BAD_SIGNATURE)).toBe(true);
    // The same valid bytes in another encoding are another key: verified, not looked up.
    await expect(verify(der.toString('base64'))).resolves.toBe(body);
    expect(count(lines, VERIFIED)).toBe(2);
    expect(count(lines, REUSED)).toBe(0);
  });

  it('never caches a failure: a bad signature fails every time', async () => {
    const { logger, lines } = captureLogger();
    const verify = createPkcs7Verifier({ logger, trustedCaPem: pki.caCertPem });
    const bad = Buffer.from(pki.signDer(body));
    bad[bad.length - 1] = (bad[bad.length - 1] ?? 0) ^ 0xff;
    const untrusted = otherPki.sign(body);
    for (let i = 0; i < 2; i++) {
      expect((await specError(verify(bad.toString('base64')))).message).toBe(BAD_SIGNATURE);
      expect((await specError(verify(untrusted))).message).toContain('which is not issued by a trusted CA');
    }
    expect(count(lines, REUSED)).toBe(0);
  });

  it('re-verifies once the clock leaves the certificates’ validity, or goes back before the first verification', async () => {
    let now = new Date();
    const verify = createPkcs7Verifier({ trustedCaPem: pki.caCertPem, now: () => now });
    const payload = pki.sign(body);
    await expect(verify(payload)).resolves.toBe(body);
    now = new Date('2199-01-01T00:00:00Z');
    expect((await specError(verify(payload))).message).toMatch(/whose certificate is not valid at 2199-01-01T00:00:00\.000Z/);
    now = new Date();
    await expect(verify(payload)).resolves.toBe(body);
    now = new Date('2001-01-01T00:00:00Z');
    expect((await specError(verify(payload))).message).toMatch(/whose certificate is not valid at 2001-01-01T00:00:00\.000Z/);
  });

  it('keeps at most CACHE_ENTRIES payloads, and none with cacheEntries: 0', async () => {
    const { logger, lines } = captureLogger();
    const verify = createPkcs7Verifier({ logger, cacheEntries: 0 });
    const payload = pki.sign(body);
    await verify(payload);
    await verify(payload);
    expect(count(lines, VERIFIED)).toBe(2);

    const small = captureLogger();
    const bounded = createPkcs7Verifier({ logger: small.logger, cacheEntries: 2 });
    const payloads = ['d-1', 'd-2', 'd-3'].map((id) => pki.sign(JSON.stringify({ ...spec, DeploymentId: id })));
    for (const p of payloads) await bounded(p);
    await bounded(payloads[0] ?? ''); // evicted: verified again
    await bounded(payloads[2] ?? ''); // still there
    expect(count(small.lines, VERIFIED)).toBe(4);
    expect(count(small.lines, REUSED)).toBe(1);
  });
});

describe('parseDeploymentSpecAsync', () => {
  it('verifies a PKCS7/JSON envelope and parses its content', async () => {
    const verifyPkcs7 = createPkcs7Verifier({ trustedCaPem: pki.caCertPem });
    const parsed = await parseDeploymentSpecAsync(pki.envelope(spec), { allowUnsigned: false, verifyPkcs7 });
    expect(parsed).toMatchObject({
      deploymentId: 'd-ABCDEFGHI',
      deploymentGroupId: 'dg-1',
      revision: { type: 'S3', bucket: 'b', key: 'k.zip', bundleType: 'zip' },
    });
  });

  it('applies the field rules to the verified content', async () => {
    const envelope = pki.envelope({ ...spec, DeploymentGroupName: '' });
    const err = await specError(parseDeploymentSpecAsync(envelope, { allowUnsigned: false, verifyPkcs7: createPkcs7Verifier() }));
    expect(err.message).toBe('Deployment Spec has no DeploymentGroupName');
  });

  it('propagates a verification failure', async () => {
    const envelope = { Format: 'PKCS7/JSON', Payload: body };
    const err = await specError(parseDeploymentSpecAsync(envelope, { allowUnsigned: true, verifyPkcs7: createPkcs7Verifier() }));
    expect(err.message).toMatch(/^Could not parse the PKCS7: /);
  });

  it('rejects TEXT/JSON unless unsigned specs are allowed', async () => {
    const envelope = { Format: 'TEXT/JSON', Payload: body };
    const err = await specError(parseDeploymentSpecAsync(envelope, { allowUnsigned: false, verifyPkcs7: createPkcs7Verifier() }));
    expect(err.message).toBe('Unsupported DeploymentSpecification format: TEXT/JSON');
    await expect(parseDeploymentSpecAsync(envelope, { allowUnsigned: true })).resolves.toMatchObject({ deploymentId: 'd-ABCDEFGHI' });
  });

  it('rejects PKCS7/JSON when no verifier is configured', async () => {
    const err = await specError(parseDeploymentSpecAsync(pki.envelope(spec), { allowUnsigned: true }));
    expect(err.message).toContain('no signature verifier configured');
  });

  it('rejects a nil envelope with the official message', async () => {
    const err = await specError(parseDeploymentSpecAsync(null, { allowUnsigned: true }));
    expect(err.message).toBe('Provided deployment spec was nil');
  });
});
