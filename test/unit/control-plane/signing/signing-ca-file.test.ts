import { execFileSync } from 'node:child_process';
import { access, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createPkcs7Verifier } from '../../../../agent/spec/pkcs7-verifier.js';
import { createSpecSigner } from '../../../../control-plane/signing/ca-signer.js';
import { captureLogger, silentLogger, tempDir } from '../../../helpers/temp.js';

const spec = JSON.stringify({ DeploymentId: 'd-OPERATOR1', DeploymentGroupId: 'dg-9', ApplicationName: 'api' });
const DAY = 24 * 60 * 60 * 1000;

const CONFIG = [
  '[req]',
  'distinguished_name = dn',
  'prompt = no',
  '[dn]',
  '[ca]',
  'basicConstraints = critical, CA:TRUE',
  'keyUsage = critical, keyCertSign, cRLSign',
  'subjectKeyIdentifier = hash',
  '[leaf]',
  'basicConstraints = critical, CA:FALSE',
  'keyUsage = critical, digitalSignature',
  '',
].join('\n');

const openssl = (cwd: string, args: string[], input?: string): string =>
  execFileSync('openssl', args, { cwd, input, stdio: ['pipe', 'pipe', 'pipe'] }).toString('utf8');

/** An operator's CA made with the openssl CLI: `<name>.pem` + `<name>.key` (PKCS#8) in `dir`. */
async function operatorCa(
  dir: string,
  name: string,
  o: { extensions?: 'ca' | 'leaf'; keyType?: 'rsa' | 'ec'; days?: number } = {},
): Promise<{ cert: string; key: string }> {
  await writeFile(join(dir, 'o.cnf'), CONFIG);
  const newkey = o.keyType === 'ec' ? ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'] : ['-newkey', 'rsa:2048'];
  openssl(dir, [
    'req',
    '-x509',
    '-config',
    'o.cnf',
    '-extensions',
    o.extensions ?? 'ca',
    ...newkey,
    '-nodes',
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.pem`,
    '-days',
    String(o.days ?? 365),
    '-subj',
    `/O=Operator/CN=${name}`,
    '-sha256',
  ]);
  return { cert: join(dir, `${name}.pem`), key: join(dir, `${name}.key`) };
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(Error);
  return err as Error;
}

describe('control plane spec signer: a CA the operator gives', () => {
  it('issues the signer from the given CA and keeps only the signer in its directory', async () => {
    const work = await tempDir();
    const ca = await operatorCa(work, 'ops-root');
    const dir = join(work, 'state', 'ca');
    const { logger, lines } = captureLogger();
    const signer = await createSpecSigner({ dir, caCertFile: ca.cert, caKeyFile: ca.key, logger });

    expect(signer.caCertificatePath).toBe(ca.cert);
    expect(signer.caCertificatePem).toBe(await readFile(ca.cert, 'utf8'));
    await expect(access(join(dir, 'ca.pem'))).rejects.toThrow(/ENOENT/);
    await expect(access(join(dir, 'ca.key'))).rejects.toThrow(/ENOENT/);
    expect(openssl(work, ['x509', '-in', join(dir, 'signer.pem'), '-noout', '-issuer'])).toBe('issuer=O = Operator, CN = ops-root\n');

    const payload = await signer.sign(spec);
    await expect(createPkcs7Verifier({ trustedCaPem: await readFile(ca.cert, 'utf8') })(payload)).resolves.toBe(spec);
    expect(openssl(work, ['cms', '-verify', '-inform', 'PEM', '-CAfile', ca.cert, '-binary'], payload)).toBe(spec);
    expect(lines().map((l) => l.msg)).toContain(
      `Signing deployment specifications with the given CA "/O=Operator/CN=ops-root" (${ca.cert})`,
    );
  });

  it('accepts an EC P-256 CA key and a PKCS#1 RSA key file', async () => {
    const work = await tempDir();
    const ec = await operatorCa(work, 'ec-root', { keyType: 'ec' });
    const ecSigner = await createSpecSigner({ dir: join(work, 'a'), caCertFile: ec.cert, caKeyFile: ec.key, logger: silentLogger() });
    expect(openssl(work, ['x509', '-in', join(work, 'a', 'signer.pem'), '-noout', '-text'])).toContain('ecdsa-with-SHA256');
    expect(openssl(work, ['cms', '-verify', '-inform', 'PEM', '-CAfile', ec.cert, '-binary'], await ecSigner.sign(spec))).toBe(spec);

    const rsa = await operatorCa(work, 'rsa-root');
    openssl(work, ['pkey', '-in', rsa.key, '-traditional', '-out', 'pkcs1.key']);
    expect(await readFile(join(work, 'pkcs1.key'), 'utf8')).toMatch(/^-----BEGIN RSA PRIVATE KEY-----/);
    const rsaSigner = await createSpecSigner({
      dir: join(work, 'b'),
      caCertFile: rsa.cert,
      caKeyFile: join(work, 'pkcs1.key'),
      logger: silentLogger(),
    });
    await expect(createPkcs7Verifier({ trustedCaPem: rsaSigner.caCertificatePem })(await rsaSigner.sign(spec))).resolves.toBe(spec);
  });

  it('sends the rest of the CA file as the chain, so agents trusting only the root accept it', async () => {
    const work = await tempDir();
    const root = await operatorCa(work, 'root');
    openssl(work, [
      'req',
      '-new',
      '-config',
      'o.cnf',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      'inter.key',
      '-out',
      'inter.csr',
      '-subj',
      '/O=Operator/CN=intermediate',
    ]);
    openssl(work, [
      'x509',
      '-req',
      '-in',
      'inter.csr',
      '-CA',
      root.cert,
      '-CAkey',
      root.key,
      '-CAcreateserial',
      '-out',
      'inter.pem',
      '-days',
      '100',
      '-sha256',
      '-extfile',
      'o.cnf',
      '-extensions',
      'ca',
    ]);
    const bundle = join(work, 'bundle.pem');
    await writeFile(bundle, (await readFile(join(work, 'inter.pem'), 'utf8')) + (await readFile(root.cert, 'utf8')));
    const signer = await createSpecSigner({
      dir: join(work, 'ca'),
      caCertFile: bundle,
      caKeyFile: join(work, 'inter.key'),
      logger: silentLogger(),
    });
    const payload = await signer.sign(spec);
    await expect(createPkcs7Verifier({ trustedCaPem: await readFile(root.cert, 'utf8') })(payload)).resolves.toBe(spec);
    expect(openssl(work, ['cms', '-verify', '-inform', 'PEM', '-CAfile', root.cert, '-binary'], payload)).toBe(spec);
  });

  it('limits the signer to the CA lifetime and warns when the CA expires within 30 days', async () => {
    const work = await tempDir();
    const ca = await operatorCa(work, 'short', { days: 20 });
    const { logger, lines } = captureLogger();
    await createSpecSigner({ dir: join(work, 'ca'), caCertFile: ca.cert, caKeyFile: ca.key, logger });
    const end = (file: string): string => openssl(work, ['x509', '-in', file, '-noout', '-enddate']);
    expect(end(join(work, 'ca', 'signer.pem'))).toBe(end(ca.cert));
    expect(lines().find((l) => l.level === 40)?.msg).toMatch(/^The CA "\/O=Operator\/CN=short" expires at .*; replace it/);
  });

  it('switches the signer to a newly given CA', async () => {
    const work = await tempDir();
    const dir = join(work, 'ca');
    await createSpecSigner({ dir, logger: silentLogger() });
    const ca = await operatorCa(work, 'new-root');
    const { logger, lines } = captureLogger();
    const signer = await createSpecSigner({ dir, caCertFile: ca.cert, caKeyFile: ca.key, logger });
    expect(lines().find((l) => String(l.msg).startsWith('Re-issued'))?.reason).toBe(
      'signer.pem was not issued by the CA "/O=Operator/CN=new-root"',
    );
    await expect(createPkcs7Verifier({ trustedCaPem: signer.caCertificatePem })(await signer.sign(spec))).resolves.toBe(spec);
  });

  it('says clearly what is wrong with an unusable CA', async () => {
    const work = await tempDir();
    const good = await operatorCa(work, 'good');
    const other = await operatorCa(work, 'other');
    const leaf = await operatorCa(work, 'leaf', { extensions: 'leaf' });
    const dir = join(work, 'ca');
    const start = (caCertFile?: string, caKeyFile?: string, now?: Date): Promise<Error> =>
      rejection(createSpecSigner({ dir, caCertFile, caKeyFile, logger: silentLogger(), clock: now ? () => now : undefined }));

    expect((await start(good.cert, other.key)).message).toBe(
      `${other.key}: this private key does not belong to the CA certificate "/O=Operator/CN=good" in ${good.cert} (the public keys differ); give the key the certificate was made for`,
    );
    expect((await start(leaf.cert, leaf.key)).message).toBe(
      `${leaf.cert}: "/O=Operator/CN=leaf" cannot sign deployment specification signers: it is not a CA certificate (basicConstraints CA:TRUE is missing)`,
    );
    expect((await start(good.cert, undefined)).message).toMatch(/needs both its certificate file and its private key file/);
    expect((await start(join(work, 'nope.pem'), good.key)).message).toBe(`CA certificate file ${join(work, 'nope.pem')} does not exist`);
    expect((await start(good.key, good.key)).message).toBe(
      `${good.key}: expected a PEM certificate ("-----BEGIN CERTIFICATE-----"), found PEM blocks "PRIVATE KEY"`,
    );
    expect((await start(good.cert, good.cert)).message).toBe(
      `${good.cert}: expected a PEM private key ("-----BEGIN PRIVATE KEY-----", PKCS#8), found PEM blocks "CERTIFICATE"`,
    );

    openssl(work, ['pkey', '-in', good.key, '-aes256', '-passout', 'pass:secret', '-out', 'encrypted.key']);
    expect((await start(good.cert, join(work, 'encrypted.key'))).message).toMatch(
      /encrypted.key: the private key is encrypted; give an unencrypted PKCS#8 key/,
    );

    const future = new Date(Date.now() + 400 * DAY);
    expect((await start(good.cert, good.key, future)).message).toMatch(
      new RegExp(
        `^${good.cert}: the CA certificate "/O=Operator/CN=good" is not valid now \\(${future.toISOString().replace(/[.]/g, '\\.')}\\): valid from `,
      ),
    );
  });
});
