import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { chmod, readFile, stat, writeFile } from 'node:fs/promises';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createSpecSigner } from '../../../../control-plane/signing/ca-signer.js';
import { serverNames, serverTlsCredentials, tlsNameProblem } from '../../../../control-plane/signing/tls-certificate.js';
import { ipAddressBytes, ipAddressText } from '../../../../control-plane/signing/x509-builder.js';
import { captureLogger, silentLogger, tempDir } from '../../../helpers/temp.js';

const DAY = 24 * 60 * 60 * 1000;
const mode = async (path: string): Promise<number> => (await stat(path)).mode & 0o777;

async function setup() {
  const dataDir = await tempDir();
  const signer = await createSpecSigner({ dir: join(dataDir, 'ca'), logger: silentLogger() });
  const base = { dataDir, ca: signer.ca, caCertificatePath: signer.caCertificatePath, logger: silentLogger() };
  return { dataDir, signer, base };
}

/** GET / over TLS trusting only `ca`, connecting to 127.0.0.1 with `servername`; the status or the error code. */
async function handshake(creds: { key: string; cert: string }, ca: string, servername: string): Promise<string> {
  const server = https.createServer({ key: creds.key, cert: creds.cert }, (_req, res) => res.end('ok'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  try {
    return await new Promise<string>((resolve) => {
      const req = https.get({ host: '127.0.0.1', port, ca, servername, path: '/', agent: false }, (res) => {
        res.resume();
        resolve(String(res.statusCode));
      });
      req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    });
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
}

describe('IP address encoding for subjectAltName', () => {
  it.each([
    ['127.0.0.1', '127.0.0.1'],
    ['::1', '0:0:0:0:0:0:0:1'],
    ['fd00::a:1', 'fd00:0:0:0:0:0:a:1'],
    ['::ffff:10.0.0.1', '0:0:0:0:0:ffff:a00:1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8:0:0:1:0:0:1'],
  ])('%s', (text, canonical) => {
    expect(ipAddressText(ipAddressBytes(text))).toBe(canonical);
  });
  it.each(['1.2.3', '1:2:3', '::1::', '1.2.3.256', 'g::1'])('refuses %s', (text) => {
    expect(() => ipAddressBytes(text)).toThrow(/not an IP address/);
  });
});

describe('server names', () => {
  it('always has localhost and the loopback addresses, adds a specific --host and --tls-name, skips wildcards', () => {
    expect(serverNames('0.0.0.0')).toEqual({ dns: ['localhost'], ips: ['127.0.0.1', '0:0:0:0:0:0:0:1'] });
    expect(serverNames('::', ['control-plane', 'CP.example.com', '10.1.2.3'])).toEqual({
      dns: ['localhost', 'control-plane', 'cp.example.com'],
      ips: ['127.0.0.1', '0:0:0:0:0:0:0:1', '10.1.2.3'],
    });
    expect(serverNames('192.168.1.5', ['localhost'])).toEqual({ dns: ['localhost'], ips: ['127.0.0.1', '0:0:0:0:0:0:0:1', '192.168.1.5'] });
  });
  it('refuses names a certificate cannot carry', () => {
    expect(tlsNameProblem('*.example.com')).toMatch(/wildcard/);
    expect(tlsNameProblem('bad_name')).toMatch(/neither an IP address nor a DNS name/);
    expect(tlsNameProblem('-x')).toMatch(/neither/);
    expect(() => serverNames('127.0.0.1', ['a b'])).toThrow(/cannot put "a b" is neither/);
  });
});

describe('the HTTPS server certificate', () => {
  it('is issued by the CA for the wanted names, with the right modes, and verifies in a real TLS handshake', async () => {
    const { dataDir, signer, base } = await setup();
    const { logger, lines } = captureLogger();
    const creds = await serverTlsCredentials({ ...base, logger, host: '127.0.0.1', extraNames: ['control-plane'] });
    expect(creds.certificatePath).toBe(join(dataDir, 'tls', 'server.pem'));
    expect(creds.caBundlePath).toBe(signer.caCertificatePath);
    expect(await mode(join(dataDir, 'tls'))).toBe(0o700);
    expect(await mode(join(dataDir, 'tls', 'server.key'))).toBe(0o600);
    expect(await mode(join(dataDir, 'tls', 'server.pem'))).toBe(0o644);
    expect(await readFile(creds.keyPath, 'utf8')).toBe(creds.key);

    const leaf = new X509Certificate(creds.cert);
    expect(leaf.subjectAltName).toBe('DNS:localhost, DNS:control-plane, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
    expect(leaf.checkIssued(new X509Certificate(signer.caCertificatePem))).toBe(true);
    expect(leaf.ca).toBe(false);
    // openssl agrees it is a TLS server certificate of this CA.
    const leafFile = join(dataDir, 'leaf.pem');
    await writeFile(leafFile, leaf.toString());
    const verify = execFileSync('openssl', ['verify', '-purpose', 'sslserver', '-CAfile', signer.caCertificatePath, leafFile]).toString();
    expect(verify).toContain('OK');
    expect(lines().some((l) => String(l.msg).startsWith('Issued the HTTPS server certificate'))).toBe(true);

    expect(await handshake(creds, signer.caCertificatePem, 'localhost')).toBe('200');
    expect(await handshake(creds, signer.caCertificatePem, 'control-plane')).toBe('200');
    expect(await handshake(creds, signer.caCertificatePem, 'elsewhere.example')).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
    const otherCa = await createSpecSigner({ dir: join(await tempDir(), 'ca'), logger: silentLogger() });
    expect(await handshake(creds, otherCa.caCertificatePem, 'localhost')).toMatch(/SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER/);
  });

  it('is kept across starts, and issued again when the names, the CA or the key change, or it nears expiry', async () => {
    const { dataDir, base } = await setup();
    const first = await serverTlsCredentials({ ...base, host: '0.0.0.0' });
    const again = await serverTlsCredentials({ ...base, host: '0.0.0.0' });
    expect(again.cert).toBe(first.cert);

    const { logger, lines } = captureLogger();
    const renamed = await serverTlsCredentials({ ...base, logger, host: '0.0.0.0', extraNames: ['cp'] });
    expect(renamed.cert).not.toBe(first.cert);
    expect(String(lines().find((l) => String(l.msg).startsWith('Re-issued'))?.reason)).toMatch(/names .* are not the wanted/);

    const later = await serverTlsCredentials({
      ...base,
      host: '0.0.0.0',
      extraNames: ['cp'],
      clock: () => new Date(Date.now() + 340 * DAY),
    });
    expect(later.cert).not.toBe(renamed.cert);

    const otherCa = await createSpecSigner({ dir: join(await tempDir(), 'ca'), logger: silentLogger() });
    const reissued = await serverTlsCredentials({
      ...base,
      ca: otherCa.ca,
      caCertificatePath: otherCa.caCertificatePath,
      host: '0.0.0.0',
      extraNames: ['cp'],
    });
    expect(new X509Certificate(reissued.cert).checkIssued(new X509Certificate(otherCa.caCertificatePem))).toBe(true);

    // A key that is not the certificate's.
    await writeFile(join(dataDir, 'tls', 'server.key'), first.key);
    await chmod(join(dataDir, 'tls', 'server.key'), 0o644);
    const capture = captureLogger();
    const fixed = await serverTlsCredentials({
      ...base,
      ca: otherCa.ca,
      caCertificatePath: otherCa.caCertificatePath,
      logger: capture.logger,
      host: '0.0.0.0',
      extraNames: ['cp'],
    });
    expect(fixed.key).not.toBe(first.key);
    expect(capture.lines().map((l) => String(l.msg))).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/was readable by other users/),
        expect.stringMatching(/server.key does not belong to server.pem/),
      ]),
    );
    expect(await mode(join(dataDir, 'tls', 'server.key'))).toBe(0o600);
  });

  it('serves an operator certificate as given, after checking it', async () => {
    const { dataDir, base } = await setup();
    const own = await serverTlsCredentials({ ...base, host: '127.0.0.1' });
    const certFile = join(dataDir, 'given.pem');
    const keyFile = join(dataDir, 'given.key');
    await writeFile(certFile, own.cert);
    await writeFile(keyFile, own.key);
    const given = await serverTlsCredentials({ ...base, host: '127.0.0.1', certFile, keyFile });
    expect(given).toMatchObject({ cert: own.cert, key: own.key, certificatePath: certFile });
    expect(given.caBundlePath).toBeUndefined();

    const stranger = await serverTlsCredentials({ ...base, dataDir: await tempDir(), host: '127.0.0.1' });
    await writeFile(keyFile, stranger.key);
    await expect(serverTlsCredentials({ ...base, host: '127.0.0.1', certFile, keyFile })).rejects.toThrow(
      /given.key: this private key does not belong to the TLS certificate/,
    );
    await expect(serverTlsCredentials({ ...base, host: '127.0.0.1', certFile: join(dataDir, 'nope.pem'), keyFile })).rejects.toThrow(
      /TLS certificate file .*nope.pem does not exist/,
    );
    await expect(serverTlsCredentials({ ...base, host: '127.0.0.1', certFile })).rejects.toThrow(/both or neither/);
  });
});
