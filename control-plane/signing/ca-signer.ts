/**
 * The control plane's deployment-specification signer and the CA behind it (docs/design.md section 3:
 * the local control plane signs specs so the agent's production PKCS7/JSON path runs in every
 * local deployment).
 *
 * Files in `dir` (created 0700), each written atomically (temp, fsync, rename):
 *   ca.pem 0644, ca.key 0600      the CA, made on first start (10 years) and never replaced by us,
 *                                 since agents trust it by file (`:deployment_spec_ca_file:`);
 *   signer.pem 0644, signer.key 0600  the signing certificate (2 years), issued again with a new key
 *                                 when missing, unusable, issued by another CA, or expiring within
 *                                 30 days.
 * An operator may give its own CA (caCertFile + caKeyFile); then ca.pem/ca.key in `dir` are not
 * used, the CA file's path is the one agents trust, and only the signer lives in `dir`.
 */
import { chmod, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import * as pkijs from 'pkijs';
import type { Logger } from 'pino';
import { formatName } from '../../common/x509-name.js';
import { checkSigner, loadCa, SIGNER_RENEW_DAYS, type CaMaterial, type SignerMaterial } from './ca-material.js';
import { createCmsSigner } from './cms-signer.js';
import { PUBLIC_MODE, readOptional, readRequired, SECRET_MODE, tightenKeyMode, writeKeyFile } from './key-files.js';
import { toPem } from './pem.js';
import { generateRsaKey } from './signing-keys.js';
import type { SpecSigner } from './spec-signer.js';
import { CA_COMMON_NAME, issueCertificate, localName, SIGNER_COMMON_NAME } from './x509-builder.js';

export interface SpecSignerOptions {
  /** `<data-dir>/ca`. */
  dir: string;
  /** An operator's CA certificate (PEM; further certificates in the file are sent as its chain)... */
  caCertFile?: string;
  /** ...and its private key (PEM, PKCS#8 preferred). Both or neither. */
  caKeyFile?: string;
  logger: Logger;
  clock?: () => Date;
}

export const CA_CERT_FILE = 'ca.pem';
export const CA_KEY_FILE = 'ca.key';
export const SIGNER_CERT_FILE = 'signer.pem';
export const SIGNER_KEY_FILE = 'signer.key';

const DAY_MS = 24 * 60 * 60 * 1000;

/** The spec signer, plus the CA behind it for the composition root (which also issues the HTTPS certificate with it). */
export interface ControlPlaneSigner extends SpecSigner {
  readonly ca: CaMaterial;
}

export async function createSpecSigner(opts: SpecSignerOptions): Promise<ControlPlaneSigner> {
  const clock = opts.clock ?? (() => new Date());
  const log = opts.logger;
  const dir = opts.dir;
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);

  if ((opts.caCertFile === undefined) !== (opts.caKeyFile === undefined)) {
    throw new Error(
      'A CA for signing deployment specifications needs both its certificate file and its private key file; give both or neither',
    );
  }
  const now = clock();
  let ca: CaMaterial;
  let caCertificatePath: string;
  if (opts.caCertFile !== undefined && opts.caKeyFile !== undefined) {
    caCertificatePath = opts.caCertFile;
    ca = await loadCa({
      certPem: await readRequired(opts.caCertFile, 'CA certificate'),
      keyPem: await readRequired(opts.caKeyFile, 'CA private key'),
      certSource: opts.caCertFile,
      keySource: opts.caKeyFile,
      now,
    });
    log.info(
      { ca: ca.subject, caFile: caCertificatePath, notAfter: ca.notAfter.toISOString() },
      `Signing deployment specifications with the given CA "${ca.subject}" (${caCertificatePath})`,
    );
  } else {
    caCertificatePath = join(dir, CA_CERT_FILE);
    ca = await ownCa(dir, now, log);
  }
  const daysLeft = (ca.notAfter.getTime() - now.getTime()) / DAY_MS;
  if (daysLeft < SIGNER_RENEW_DAYS) {
    log.warn(
      { ca: ca.subject, notAfter: ca.notAfter.toISOString() },
      `The CA "${ca.subject}" expires at ${ca.notAfter.toISOString()}; replace it (and agents' :deployment_spec_ca_file:) before then`,
    );
  }

  const signer = await ensureSigner(dir, ca, now, log);
  const cms = createCmsSigner({ signerCertDer: signer.certDer, key: signer.key, chainDer: ca.chainDer, clock });
  return {
    sign: async (json) => toPem('PKCS7', await cms(json)),
    caCertificatePem: ca.pem,
    caCertificatePath,
    ca,
  };
}

/** Loads ca.pem + ca.key from `dir`, or creates them on first start. */
async function ownCa(dir: string, now: Date, log: Logger): Promise<CaMaterial> {
  const certPath = join(dir, CA_CERT_FILE);
  const keyPath = join(dir, CA_KEY_FILE);
  const certPem = await readOptional(certPath);
  const keyPem = await readOptional(keyPath);
  if (certPem !== undefined && keyPem !== undefined) {
    await tightenKeyMode(keyPath, log);
    const ca = await loadCa({ certPem, keyPem, certSource: certPath, keySource: keyPath, now });
    log.debug({ ca: ca.subject, caFile: certPath, notAfter: ca.notAfter.toISOString() }, 'Loaded the control plane CA');
    return ca;
  }
  if (certPem !== undefined || keyPem !== undefined) {
    const [has, missing] = certPem !== undefined ? [certPath, keyPath] : [keyPath, certPath];
    throw new Error(
      `${has} exists but ${missing} does not; restore the missing file, or move both away to create a new CA (agents must then trust the new ${CA_CERT_FILE})`,
    );
  }

  const { key, publicKey, pkcs8 } = await generateRsaKey();
  const der = await issueCertificate({ profile: 'ca', subject: localName(CA_COMMON_NAME), publicKey, selfKey: key, now });
  const newCertPem = toPem('CERTIFICATE', der);
  await writeKeyFile(keyPath, toPem('PRIVATE KEY', pkcs8), SECRET_MODE);
  await writeKeyFile(certPath, newCertPem, PUBLIC_MODE);
  const ca = await loadCa({ certPem: newCertPem, keyPem: toPem('PRIVATE KEY', pkcs8), certSource: certPath, keySource: keyPath, now });
  log.info(
    { ca: ca.subject, caFile: certPath, notAfter: ca.notAfter.toISOString() },
    `Created the control plane CA "${ca.subject}" in ${certPath}; agents trust it with :deployment_spec_ca_file: ${certPath}`,
  );
  return ca;
}

/** The saved signer when still good for this CA, else a new one (new key) saved over it. */
async function ensureSigner(dir: string, ca: CaMaterial, now: Date, log: Logger): Promise<SignerMaterial> {
  const certPath = join(dir, SIGNER_CERT_FILE);
  const keyPath = join(dir, SIGNER_KEY_FILE);
  const certPem = await readOptional(certPath);
  const keyPem = await readOptional(keyPath);
  if (keyPem !== undefined) await tightenKeyMode(keyPath, log);
  const check = await checkSigner({ certPem, keyPem, ca, now });
  if (check.ok) {
    log.debug(
      { signer: check.signer.subject, notAfter: check.signer.notAfter.toISOString() },
      'Loaded the deployment specification signer',
    );
    return check.signer;
  }

  const { key, publicKey, pkcs8 } = await generateRsaKey();
  const der = await issueCertificate({
    profile: 'signer',
    subject: localName(SIGNER_COMMON_NAME),
    publicKey,
    issuer: ca.issuer,
    now,
    notAfterLimit: ca.notAfter,
  });
  await writeKeyFile(keyPath, toPem('PRIVATE KEY', pkcs8), SECRET_MODE);
  await writeKeyFile(certPath, toPem('CERTIFICATE', der), PUBLIC_MODE);
  const cert = pkijs.Certificate.fromBER(der);
  const signer: SignerMaterial = { certDer: der, key, subject: formatName(cert.subject), notAfter: cert.notAfter.value };
  const first = certPem === undefined && keyPem === undefined;
  log.info(
    { signer: signer.subject, ca: ca.subject, notAfter: signer.notAfter.toISOString(), reason: check.reason },
    first
      ? `Issued the deployment specification signer "${signer.subject}" (valid to ${signer.notAfter.toISOString()})`
      : `Re-issued the deployment specification signer "${signer.subject}" because ${check.reason} (valid to ${signer.notAfter.toISOString()})`,
  );
  return signer;
}
