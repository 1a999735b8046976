import { execFileSync } from 'node:child_process';
import { chmod, readFile, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as pkijs from 'pkijs';
import { describe, expect, it } from 'vitest';
import { AgentError, ErrorCodes } from '../../../../agent/errors.js';
import { createPkcs7Verifier } from '../../../../agent/spec/pkcs7-verifier.js';
import { createSpecSigner } from '../../../../control-plane/signing/ca-signer.js';
import { captureLogger, silentLogger, tempDir } from '../../../helpers/temp.js';

const spec = JSON.stringify({
  DeploymentId: 'd-ABCDEFGHI',
  DeploymentGroupId: 'dg-1',
  DeploymentGroupName: 'prod',
  ApplicationName: 'web — café ✓',
  Revision: { RevisionType: 'S3', S3Revision: { Bucket: 'b', Key: 'k.zip', BundleType: 'zip' } },
});
const BAD_SIGNATURE = "The deployment specification's PKCS7 signature does not verify";
const DAY = 24 * 60 * 60 * 1000;

const openssl = (args: string[], input?: string): string =>
  execFileSync('openssl', args, { input, stdio: ['pipe', 'pipe', 'pipe'] }).toString('utf8');
const opensslFails = (args: string[], input?: string): string => {
  try {
    execFileSync('openssl', args, { input, stdio: ['pipe', 'pipe', 'pipe'] });
  } catch (err) {
    return String((err as { stderr?: Buffer }).stderr ?? '');
  }
  throw new Error(`openssl ${args.join(' ')} succeeded`);
};

const pemToDer = (pem: string): Buffer => Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
const derToPem = (der: Buffer): string =>
  `-----BEGIN PKCS7-----\n${(der.toString('base64').match(/.{1,64}/g) ?? []).join('\n')}\n-----END PKCS7-----\n`;
const mode = async (path: string): Promise<number> => (await stat(path)).mode & 0o777;

async function rejection(promise: Promise<unknown>): Promise<Error> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(Error);
  return err as Error;
}

function parseSignedData(pem: string): pkijs.SignedData {
  const info = pkijs.ContentInfo.fromBER(new Uint8Array(pemToDer(pem)));
  return new pkijs.SignedData({ schema: info.content });
}

describe('control plane spec signer: own CA', () => {
  it('creates the CA and signer with the right modes, and signs what the agent verifier accepts', async () => {
    const dir = join(await tempDir(), 'ca');
    const { logger, lines } = captureLogger();
    const signer = await createSpecSigner({ dir, logger });

    expect(await mode(dir)).toBe(0o700);
    expect(await mode(join(dir, 'ca.pem'))).toBe(0o644);
    expect(await mode(join(dir, 'ca.key'))).toBe(0o600);
    expect(await mode(join(dir, 'signer.pem'))).toBe(0o644);
    expect(await mode(join(dir, 'signer.key'))).toBe(0o600);
    expect(signer.caCertificatePath).toBe(join(dir, 'ca.pem'));
    expect(await readFile(signer.caCertificatePath, 'utf8')).toBe(signer.caCertificatePem);
    expect(await readFile(join(dir, 'ca.key'), 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);

    const payload = await signer.sign(spec);
    expect(payload).toMatch(/^-----BEGIN PKCS7-----\n[A-Za-z0-9+/=\n]+\n-----END PKCS7-----\n$/);
    await expect(createPkcs7Verifier({ trustedCaPem: signer.caCertificatePem })(payload)).resolves.toBe(spec);

    const msgs = lines().map((l) => String(l.msg));
    expect(
      msgs.some((m) => m.startsWith('Created the control plane CA "/O=codedeploy-agent-ts/CN=CodeDeploy local control plane CA"')),
    ).toBe(true);
    expect(
      msgs.some((m) => m.startsWith('Issued the deployment specification signer "/O=codedeploy-agent-ts/CN=codedeploy-signer-local"')),
    ).toBe(true);
  });

  it('writes a CMS with attached id-data content, signed attributes, SHA-256 and both certificates', async () => {
    const when = new Date('2031-05-06T07:08:09.500Z');
    const signer = await createSpecSigner({ dir: await tempDir(), logger: silentLogger(), clock: () => when });
    const sd = parseSignedData(await signer.sign(spec));
    expect(sd.version).toBe(1);
    expect(sd.encapContentInfo.eContentType).toBe('1.2.840.113549.1.7.1');
    // DER: the content is one primitive OCTET STRING, not BER chunks.
    expect(sd.encapContentInfo.eContent?.idBlock.isConstructed).toBe(false);
    expect(Buffer.from(sd.encapContentInfo.eContent?.getValue() ?? new ArrayBuffer(0)).toString('utf8')).toBe(spec);
    expect(sd.digestAlgorithms.map((a) => a.algorithmId)).toEqual(['2.16.840.1.101.3.4.2.1']);
    expect(sd.signerInfos).toHaveLength(1);
    const si = sd.signerInfos[0] as pkijs.SignerInfo;
    expect(si.signatureAlgorithm.algorithmId).toBe('1.2.840.113549.1.1.11'); // sha256WithRSAEncryption
    const attrs = si.signedAttrs?.attributes ?? [];
    expect(attrs.map((a) => a.type).sort()).toEqual(['1.2.840.113549.1.9.3', '1.2.840.113549.1.9.4', '1.2.840.113549.1.9.5']);
    const signingTime = attrs.find((a) => a.type === '1.2.840.113549.1.9.5')?.values[0] as { toDate(): Date };
    expect(signingTime.toDate().toISOString()).toBe('2031-05-06T07:08:09.000Z');
    const subjects = (sd.certificates ?? []).map((c) =>
      (c as pkijs.Certificate).subject.typesAndValues.map((tv) => tv.value.valueBlock.value).join('/'),
    );
    expect(subjects).toEqual(['codedeploy-agent-ts/codedeploy-signer-local', 'codedeploy-agent-ts/CodeDeploy local control plane CA']);
  });

  it('is accepted by openssl cms and smime, whose x509 shows the CA and signer extensions', async () => {
    const dir = await tempDir();
    const signer = await createSpecSigner({ dir, logger: silentLogger() });
    const payload = await signer.sign(spec);
    const ca = join(dir, 'ca.pem');
    expect(openssl(['cms', '-verify', '-inform', 'PEM', '-CAfile', ca, '-binary'], payload)).toBe(spec);
    expect(openssl(['smime', '-verify', '-inform', 'PEM', '-CAfile', ca, '-binary'], payload)).toBe(spec);
    const certs = openssl(['pkcs7', '-inform', 'PEM', '-print_certs', '-noout'], payload);
    expect(certs).toContain('subject=O = codedeploy-agent-ts, CN = codedeploy-signer-local');
    expect(certs).toContain('subject=O = codedeploy-agent-ts, CN = CodeDeploy local control plane CA');

    const caText = openssl(['x509', '-in', ca, '-noout', '-text']);
    expect(caText).toContain('Version: 3 (0x2)');
    expect(caText).toContain('Subject: O = codedeploy-agent-ts, CN = CodeDeploy local control plane CA');
    expect(caText).toMatch(/X509v3 Basic Constraints: critical\s+CA:TRUE/);
    expect(caText).toMatch(/X509v3 Key Usage: critical\s+Certificate Sign, CRL Sign/);
    expect(caText).toContain('X509v3 Subject Key Identifier');
    expect(caText).toContain('sha256WithRSAEncryption');
    expect(caText).toContain('Public-Key: (2048 bit)');
    const serial = /Serial Number:\s*\n\s*([0-9a-f:]+)/.exec(caText)?.[1] ?? '';
    expect(serial.split(':')).toHaveLength(16);
    const days = (Date.parse(openssl(['x509', '-in', ca, '-noout', '-enddate']).trim().replace('notAfter=', '')) - Date.now()) / DAY;
    expect(days).toBeGreaterThan(3640);
    expect(days).toBeLessThan(3660);

    const signerText = openssl(['x509', '-in', join(dir, 'signer.pem'), '-noout', '-text']);
    expect(signerText).toMatch(/X509v3 Key Usage: critical\s+Digital Signature\n/);
    expect(signerText).toContain('X509v3 Authority Key Identifier');
    expect(signerText).not.toContain('Extended Key Usage');
    expect(openssl(['verify', '-CAfile', ca, join(dir, 'signer.pem')])).toContain('OK');
  });

  it('rejects a tampered payload and a CA it was not signed by', async () => {
    const dir = await tempDir();
    const signer = await createSpecSigner({ dir, logger: silentLogger() });
    const other = await createSpecSigner({ dir: await tempDir(), logger: silentLogger() });
    const payload = await signer.sign(spec);

    const der = pemToDer(payload);
    const at = der.indexOf(Buffer.from('"prod"'));
    expect(at).toBeGreaterThan(0);
    der[at + 3] = 'u'.charCodeAt(0);
    const tampered = derToPem(der);
    const bad = await rejection(createPkcs7Verifier({ trustedCaPem: signer.caCertificatePem })(tampered));
    expect(bad).toBeInstanceOf(AgentError);
    expect((bad as AgentError).code).toBe(ErrorCodes.SPEC_INVALID);
    expect(bad.message.startsWith(BAD_SIGNATURE)).toBe(true);
    expect(opensslFails(['cms', '-verify', '-inform', 'PEM', '-CAfile', join(dir, 'ca.pem'), '-binary'], tampered)).toMatch(
      /digest failure|verification failure/i,
    );

    const untrusted = await rejection(createPkcs7Verifier({ trustedCaPem: other.caCertificatePem, trustedCaSource: 'other.pem' })(payload));
    expect(untrusted.message).toContain('which is not issued by a trusted CA (:deployment_spec_ca_file: other.pem)');
    expect(opensslFails(['cms', '-verify', '-inform', 'PEM', '-CAfile', other.caCertificatePath, '-binary'], payload)).toMatch(
      /certificate verify error|unable to get local issuer/i,
    );
  });

  it('reuses the same CA and signer on restart', async () => {
    const dir = await tempDir();
    const first = await createSpecSigner({ dir, logger: silentLogger() });
    const files = await Promise.all(['ca.pem', 'ca.key', 'signer.pem', 'signer.key'].map((f) => readFile(join(dir, f))));
    const { logger, lines } = captureLogger();
    const second = await createSpecSigner({ dir, logger });
    const again = await Promise.all(['ca.pem', 'ca.key', 'signer.pem', 'signer.key'].map((f) => readFile(join(dir, f))));
    expect(again).toEqual(files);
    expect(second.caCertificatePem).toBe(first.caCertificatePem);
    await expect(createPkcs7Verifier({ trustedCaPem: first.caCertificatePem })(await second.sign(spec))).resolves.toBe(spec);
    expect(lines().filter((l) => l.level === 30)).toEqual([]); // nothing created or re-issued
    expect(lines().map((l) => l.msg)).toContain('Loaded the control plane CA');
  });

  it('re-issues the signer when it expires within 30 days, keeping the CA', async () => {
    const dir = await tempDir();
    const start = new Date();
    const first = await createSpecSigner({ dir, logger: silentLogger(), clock: () => start });
    const signerPem = await readFile(join(dir, 'signer.pem'), 'utf8');
    const later = new Date(start.getTime() + 710 * DAY);
    const { logger, lines } = captureLogger();
    const second = await createSpecSigner({ dir, logger, clock: () => later });
    expect(second.caCertificatePem).toBe(first.caCertificatePem);
    expect(await readFile(join(dir, 'signer.pem'), 'utf8')).not.toBe(signerPem);
    const line = lines().find((l) => String(l.msg).startsWith('Re-issued the deployment specification signer'));
    expect(line?.reason).toMatch(/^signer\.pem expires at .*, within 30 days$/);
    const verify = createPkcs7Verifier({ trustedCaPem: first.caCertificatePem, now: () => later });
    await expect(verify(await second.sign(spec))).resolves.toBe(spec);
  });

  it('re-issues a signer whose key is missing or that another CA issued', async () => {
    const dir = await tempDir();
    await createSpecSigner({ dir, logger: silentLogger() });
    await unlink(join(dir, 'signer.key'));
    const { logger, lines } = captureLogger();
    const signer = await createSpecSigner({ dir, logger });
    expect(lines().find((l) => String(l.msg).startsWith('Re-issued'))?.reason).toBe('signer.key does not exist');
    await expect(createPkcs7Verifier({ trustedCaPem: signer.caCertificatePem })(await signer.sign(spec))).resolves.toBe(spec);

    const otherDir = await tempDir();
    await createSpecSigner({ dir: otherDir, logger: silentLogger() });
    for (const f of ['signer.pem', 'signer.key']) await writeFile(join(dir, f), await readFile(join(otherDir, f)));
    const capture = captureLogger();
    const fixed = await createSpecSigner({ dir, logger: capture.logger });
    expect(capture.lines().find((l) => String(l.msg).startsWith('Re-issued'))?.reason).toBe(
      'signer.pem was not issued by the CA "/O=codedeploy-agent-ts/CN=CodeDeploy local control plane CA"',
    );
    await expect(createPkcs7Verifier({ trustedCaPem: fixed.caCertificatePem })(await fixed.sign(spec))).resolves.toBe(spec);
  });

  it('refuses a CA certificate without its key, and makes a loose key file 0600 again', async () => {
    const dir = await tempDir();
    await createSpecSigner({ dir, logger: silentLogger() });
    await chmod(join(dir, 'ca.key'), 0o644);
    const { logger, lines } = captureLogger();
    await createSpecSigner({ dir, logger });
    expect(await mode(join(dir, 'ca.key'))).toBe(0o600);
    expect(lines().find((l) => l.level === 40)?.msg).toContain('ca.key was readable by other users (mode 0644)');

    await unlink(join(dir, 'ca.key'));
    const err = await rejection(createSpecSigner({ dir, logger: silentLogger() }));
    expect(err.message).toBe(
      `${join(dir, 'ca.pem')} exists but ${join(dir, 'ca.key')} does not; restore the missing file, or move both away to create a new CA (agents must then trust the new ca.pem)`,
    );
  });

  it('signs fast enough for a fleet (measured)', async () => {
    const signer = await createSpecSigner({ dir: await tempDir(), logger: silentLogger() });
    const verify = createPkcs7Verifier({ trustedCaPem: signer.caCertificatePem });
    const n = 200;
    const t0 = performance.now();
    const payloads = [];
    for (let i = 0; i < n; i++) payloads.push(await signer.sign(`{"i":${i}}`));
    const seconds = (performance.now() - t0) / 1000;
    console.log(`spec signer: ${n} signatures in ${seconds.toFixed(3)} s = ${Math.round(n / seconds)} signs/second`);
    expect(n / seconds).toBeGreaterThan(50);
    await expect(verify(payloads[n - 1] as string)).resolves.toBe(`{"i":${n - 1}}`);
  });

  it('signs large content (over 64 KiB) as one DER octet string that openssl accepts', async () => {
    const dir = await tempDir();
    const signer = await createSpecSigner({ dir, logger: silentLogger() });
    const big = JSON.stringify({ pad: 'x'.repeat(200_000) });
    const payload = await signer.sign(big);
    expect(parseSignedData(payload).encapContentInfo.eContent?.idBlock.isConstructed).toBe(false);
    await expect(createPkcs7Verifier({ trustedCaPem: signer.caCertificatePem })(payload)).resolves.toBe(big);
    expect(openssl(['cms', '-verify', '-inform', 'PEM', '-CAfile', join(dir, 'ca.pem'), '-binary'], payload)).toBe(big);
  });
});
