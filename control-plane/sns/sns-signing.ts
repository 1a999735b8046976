/**
 * The key the local SNS signs its HTTP deliveries with, and the certificate subscribers verify
 * them with (served at SIGNING_CERT_PATH, the SigningCertURL of every message). Made once, on
 * first start, in `<dataDir>/sns/` (written atomically: key 0600, certificate 0644) and reused after, so a
 * subscriber that caches the certificate keeps verifying across restarts. The certificate is
 * self-signed (RSA 2048, made with the same builder as the spec signer's, signing/x509-builder.ts);
 * message signatures are SHA1withRSA (SignatureVersion 1) with node:crypto.
 */
import { createPrivateKey, sign, X509Certificate, type KeyObject } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { PUBLIC_MODE, readOptional, SECRET_MODE, tightenKeyMode, writeKeyFile } from '../signing/key-files.js';
import { toPem } from '../signing/pem.js';
import { generateRsaKey } from '../signing/signing-keys.js';
import { issueCertificate, localName } from '../signing/x509-builder.js';

export const SIGNING_CERT_PATH = '/_sns/SimpleNotificationService.pem';
const KEY_FILE = 'signing-key.pem';
const CERT_FILE = 'SimpleNotificationService.pem';

export interface SnsSigningKey {
  /** Base64 SHA1withRSA signature of `text` (UTF-8). */
  sign(text: string): string;
  certificatePem: string;
}

export async function loadSnsSigningKey(opts: { dir: string; logger: Logger; now?: Date }): Promise<SnsSigningKey> {
  await mkdir(opts.dir, { recursive: true, mode: 0o700 });
  const keyPath = join(opts.dir, KEY_FILE);
  const certPath = join(opts.dir, CERT_FILE);
  const [keyPem, certPem] = await Promise.all([readOptional(keyPath), readOptional(certPath)]);
  if (keyPem !== undefined && certPem !== undefined) {
    await tightenKeyMode(keyPath, opts.logger);
    const key = createPrivateKey(keyPem);
    if (!new X509Certificate(certPem).checkPrivateKey(key))
      throw new Error(
        `${certPath} is not the certificate of ${keyPath}; remove both to have the control plane make a new pair (subscribers then fetch the new certificate)`,
      );
    return signingKey(key, certPem);
  }
  const { key, publicKey, pkcs8 } = await generateRsaKey();
  const der = await issueCertificate({
    profile: 'signer',
    subject: localName('sns.local-control-plane'),
    publicKey,
    selfKey: key,
    now: opts.now ?? new Date(),
  });
  const newKeyPem = toPem('PRIVATE KEY', pkcs8);
  const newCertPem = toPem('CERTIFICATE', der);
  await writeKeyFile(keyPath, newKeyPem, SECRET_MODE);
  await writeKeyFile(certPath, newCertPem, PUBLIC_MODE);
  opts.logger.info({ certificate: certPath }, `Created the local SNS message signing key and certificate (${certPath})`);
  return signingKey(createPrivateKey(newKeyPem), newCertPem);
}

function signingKey(key: KeyObject, certificatePem: string): SnsSigningKey {
  return {
    sign: (text) => sign('sha1', Buffer.from(text, 'utf8'), key).toString('base64'),
    certificatePem,
  };
}
