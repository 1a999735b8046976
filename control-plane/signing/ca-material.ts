/**
 * Reads and checks the CA and signer certificates with their keys.
 *
 * A CA that cannot be used is a start-up error with a message that names the file and says what is
 * wrong (not a CA, key of another certificate, expired), because agents trust that CA by file and
 * silently replacing it would break every one of them. A signer that cannot be used is only a
 * reason to issue a new one: it is derived material, and the reason is returned for the log.
 */
import { X509Certificate } from 'node:crypto';
import * as pkijs from 'pkijs';
import { formatName } from '../../common/x509-name.js';
import { pemBlocks, pemLabels, toPem } from './pem.js';
import { readPrivateKeyPem, type SigningKey } from './signing-keys.js';
import { caProblems, keyIdentifierOf, type Issuer } from './x509-builder.js';

/** Re-issue the signer when it expires within this many days. */
export const SIGNER_RENEW_DAYS = 30;
const DAY_MS = 24 * 60 * 60 * 1000;

export interface CaMaterial {
  cert: pkijs.Certificate;
  /** DER of the CA certificate, then any further certificates of the CA file (its chain). */
  chainDer: Uint8Array[];
  /** PEM of those certificates: what agents put in :deployment_spec_ca_file:. */
  pem: string;
  /** `/O=…/CN=…` */
  subject: string;
  notAfter: Date;
  issuer: Issuer;
}

export interface SignerMaterial {
  certDer: Uint8Array;
  key: SigningKey;
  subject: string;
  notAfter: Date;
}

export function parseCertificates(pem: string, source: string): Uint8Array[] {
  const blocks = pemBlocks(pem, 'CERTIFICATE');
  if (blocks.length === 0) {
    const labels = pemLabels(pem);
    const found = labels.length === 0 ? 'no PEM block' : `PEM blocks ${labels.map((l) => `"${l}"`).join(', ')}`;
    throw new Error(`${source}: expected a PEM certificate ("-----BEGIN CERTIFICATE-----"), found ${found}`);
  }
  return blocks;
}

function parseCertificate(der: Uint8Array, source: string): pkijs.Certificate {
  try {
    return pkijs.Certificate.fromBER(der);
  } catch (err) {
    throw new Error(`${source}: the certificate cannot be parsed: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * The CA from its certificate and key texts. Throws when the certificate is not a CA, the key is not
 * the certificate's, or the CA is not valid at `now`.
 */
export async function loadCa(o: {
  certPem: string;
  keyPem: string;
  certSource: string;
  keySource: string;
  now: Date;
}): Promise<CaMaterial> {
  const chainDer = parseCertificates(o.certPem, o.certSource);
  const first = chainDer[0] as Uint8Array;
  const cert = parseCertificate(first, o.certSource);
  const subject = formatName(cert.subject);
  const notCa = caProblems(cert);
  if (notCa) throw new Error(`${o.certSource}: "${subject}" cannot sign deployment specification signers: ${notCa}`);

  const { key } = await readPrivateKeyPem(o.keyPem, o.keySource);
  const x509 = new X509Certificate(Buffer.from(first));
  if (!x509.checkPrivateKey(key.keyObject)) {
    throw new Error(
      `${o.keySource}: this private key does not belong to the CA certificate "${subject}" in ${o.certSource} (the public keys differ); give the key the certificate was made for`,
    );
  }
  const notBefore = cert.notBefore.value;
  const notAfter = cert.notAfter.value;
  if (o.now < notBefore || o.now > notAfter) {
    throw new Error(
      `${o.certSource}: the CA certificate "${subject}" is not valid now (${o.now.toISOString()}): valid from ${notBefore.toISOString()} to ${notAfter.toISOString()}`,
    );
  }
  return {
    cert,
    chainDer,
    pem: chainDer.map((der) => toPem('CERTIFICATE', der)).join(''),
    subject,
    notAfter,
    issuer: { name: cert.subject, key, keyIdentifier: await keyIdentifierOf(cert) },
  };
}

export type SignerCheck = { ok: true; signer: SignerMaterial } | { ok: false; reason: string };

/**
 * Whether the saved signer can be used with this CA: readable, issued and signed by it, its key
 * matching, and not expiring within SIGNER_RENEW_DAYS.
 */
export async function checkSigner(o: {
  certPem: string | undefined;
  keyPem: string | undefined;
  ca: CaMaterial;
  now: Date;
}): Promise<SignerCheck> {
  if (o.certPem === undefined || o.keyPem === undefined)
    return { ok: false, reason: `${o.certPem === undefined ? 'signer.pem' : 'signer.key'} does not exist` };
  let certDer: Uint8Array;
  let key: SigningKey;
  let x509: X509Certificate;
  try {
    certDer = parseCertificates(o.certPem, 'signer.pem')[0] as Uint8Array;
    x509 = new X509Certificate(Buffer.from(certDer));
    key = (await readPrivateKeyPem(o.keyPem, 'signer.key')).key;
  } catch (err) {
    return { ok: false, reason: (err as Error).message };
  }
  const caX509 = new X509Certificate(Buffer.from(o.ca.chainDer[0] as Uint8Array));
  if (!x509.checkIssued(caX509) || !x509.verify(caX509.publicKey))
    return { ok: false, reason: `signer.pem was not issued by the CA "${o.ca.subject}"` };
  if (!x509.checkPrivateKey(key.keyObject)) return { ok: false, reason: 'signer.key does not belong to signer.pem' };
  if (key.keyObject.asymmetricKeyType !== 'rsa')
    return { ok: false, reason: `signer.key is an ${key.description} key; deployment specifications are signed with RSA` };
  const cert = pkijs.Certificate.fromBER(certDer);
  const notAfter = cert.notAfter.value;
  const notBefore = cert.notBefore.value;
  if (o.now < notBefore) return { ok: false, reason: `signer.pem is not valid before ${notBefore.toISOString()}` };
  const daysLeft = (notAfter.getTime() - o.now.getTime()) / DAY_MS;
  if (daysLeft < SIGNER_RENEW_DAYS) {
    return {
      ok: false,
      reason:
        daysLeft <= 0
          ? `signer.pem expired at ${notAfter.toISOString()}`
          : `signer.pem expires at ${notAfter.toISOString()}, within ${SIGNER_RENEW_DAYS} days`,
    };
  }
  return { ok: true, signer: { certDer, key, subject: formatName(cert.subject), notAfter } };
}
