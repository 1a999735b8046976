/**
 * The certificate and key the control plane serves HTTPS with (`--tls`).
 *
 * By default it is issued by the control plane's CA (the one that signs deployment specifications,
 * ca-signer.ts), so agents, the aws CLI and SDKs need to trust one file, `<dataDir>/ca/ca.pem` (or
 * the operator's --ca-cert). It lives in `<dataDir>/tls/` (created 0700): server.pem 0644 (the
 * certificate, then the CA chain), server.key 0600. It is issued again, with a new key, when
 * missing, unreadable, not issued by the current CA, not for exactly the wanted names, or expiring
 * within RENEW_DAYS: it is derived material, so replacing it costs nothing (clients trust the CA).
 *
 * The names (subjectAltName, what TLS clients check) are localhost, 127.0.0.1, ::1, the listen
 * address when it is a specific name or address, and any `--tls-name` (a container or DNS name
 * other hosts reach the control plane by).
 *
 * Or the operator gives a certificate and key (`--tls-cert`/`--tls-key`): they are checked (the
 * key is the certificate's, the certificate valid now) and served as they are; clients then trust
 * whatever CA issued it.
 */
import { X509Certificate } from 'node:crypto';
import { chmod, mkdir } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import * as pkijs from 'pkijs';
import type { Logger } from 'pino';
import { parseCertificates, type CaMaterial } from './ca-material.js';
import { PUBLIC_MODE, readOptional, readRequired, SECRET_MODE, tightenKeyMode, writeKeyFile } from './key-files.js';
import { toPem } from './pem.js';
import { generateRsaKey, readPrivateKeyPem } from './signing-keys.js';
import { ipAddressBytes, ipAddressText, issueCertificate, localName, subjectAltNames } from './x509-builder.js';

/** Issue a new server certificate when the current one expires within this many days. */
export const RENEW_DAYS = 30;
export const TLS_DIR = 'tls';
export const SERVER_CERT_FILE = 'server.pem';
export const SERVER_KEY_FILE = 'server.key';

const DAY_MS = 24 * 60 * 60 * 1000;
const DNS_NAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/** What node:https is given, and what to tell clients. */
export interface TlsCredentials {
  /** PEM private key. */
  key: string;
  /** PEM certificate, then its chain. */
  cert: string;
  certificatePath: string;
  keyPath: string;
  /** The CA file clients trust (`:ca_bundle:`, `--ca-bundle`) when we issued the certificate; undefined for an operator's. */
  caBundlePath?: string;
  /** The subjectAltName entries, for the log. */
  names: string[];
}

export interface ServerTlsOptions {
  dataDir: string;
  ca: CaMaterial;
  /** Where the CA certificate is (ca.pem or the operator's --ca-cert). */
  caCertificatePath: string;
  /** The listen address (--host). */
  host: string;
  /** Further names (--tls-name), DNS names or IP addresses. */
  extraNames?: readonly string[];
  /** An operator's certificate and key; both or neither. */
  certFile?: string;
  keyFile?: string;
  logger: Logger;
  clock?: () => Date;
}

/** Why a --tls-name (or --host) cannot be a certificate name, or undefined when it can. */
export function tlsNameProblem(name: string): string | undefined {
  if (isIP(name) !== 0) return undefined;
  if (name.startsWith('*')) return `"${name}" is a wildcard; give each name the control plane is reached by`;
  if (!DNS_NAME.test(name)) return `"${name}" is neither an IP address nor a DNS name (letters, digits, hyphens, dot-separated)`;
  return undefined;
}

/** localhost, 127.0.0.1, ::1, the listen address unless it is a wildcard, the extra names: deduplicated, canonical. */
export function serverNames(host: string, extra: readonly string[] = []): { dns: string[]; ips: string[] } {
  const dns = new Set<string>(['localhost']);
  const ips = new Set<string>(['127.0.0.1', ipAddressText(ipAddressBytes('::1'))]);
  const wildcard = host === '0.0.0.0' || host === '::' || host === '';
  for (const name of [...(wildcard ? [] : [host]), ...extra]) {
    const bare = name.startsWith('[') && name.endsWith(']') ? name.slice(1, -1) : name;
    const problem = tlsNameProblem(bare);
    if (problem) throw new Error(`cannot put ${problem} in the TLS certificate`);
    if (isIP(bare) !== 0) ips.add(ipAddressText(ipAddressBytes(bare)));
    else dns.add(bare.toLowerCase());
  }
  return { dns: [...dns], ips: [...ips] };
}

export async function serverTlsCredentials(o: ServerTlsOptions): Promise<TlsCredentials> {
  if ((o.certFile === undefined) !== (o.keyFile === undefined))
    throw new Error('A TLS certificate needs both its certificate file and its private key file; give both or neither');
  const now = (o.clock ?? (() => new Date()))();
  if (o.certFile !== undefined && o.keyFile !== undefined) return givenCertificate(o.certFile, o.keyFile, now, o.logger);
  return ownCertificate(o, now);
}

async function givenCertificate(certFile: string, keyFile: string, now: Date, log: Logger): Promise<TlsCredentials> {
  const cert = await readRequired(certFile, 'TLS certificate');
  const key = await readRequired(keyFile, 'TLS private key');
  const leaf = new X509Certificate(Buffer.from(parseCertificates(cert, certFile)[0] as Uint8Array));
  const { key: parsed } = await readPrivateKeyPem(key, keyFile);
  if (!leaf.checkPrivateKey(parsed.keyObject))
    throw new Error(`${keyFile}: this private key does not belong to the TLS certificate in ${certFile} (the public keys differ)`);
  const from = new Date(leaf.validFrom);
  const to = new Date(leaf.validTo);
  if (now < from || now > to)
    throw new Error(
      `${certFile}: the TLS certificate is not valid now (${now.toISOString()}): valid from ${from.toISOString()} to ${to.toISOString()}`,
    );
  const names = (leaf.subjectAltName ?? '').split(', ').filter(Boolean);
  log.info({ certificate: certFile, names, notAfter: to.toISOString() }, `Serving HTTPS with the given certificate ${certFile}`);
  return { key, cert, certificatePath: certFile, keyPath: keyFile, names };
}

async function ownCertificate(o: ServerTlsOptions, now: Date): Promise<TlsCredentials> {
  const log = o.logger;
  const dir = join(o.dataDir, TLS_DIR);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  const certPath = join(dir, SERVER_CERT_FILE);
  const keyPath = join(dir, SERVER_KEY_FILE);
  const wanted = serverNames(o.host, o.extraNames);
  const names = [...wanted.dns, ...wanted.ips];
  const result = (key: string, cert: string): TlsCredentials => ({
    key,
    cert,
    certificatePath: certPath,
    keyPath,
    caBundlePath: o.caCertificatePath,
    names,
  });

  const certPem = await readOptional(certPath);
  const keyPem = await readOptional(keyPath);
  if (keyPem !== undefined) await tightenKeyMode(keyPath, log);
  const reason = await reasonToReissue({ certPem, keyPem, ca: o.ca, wanted, now });
  if (reason === undefined && certPem !== undefined && keyPem !== undefined) {
    log.debug({ certificate: certPath, names }, 'Loaded the HTTPS server certificate');
    return result(keyPem, certPem);
  }

  const { publicKey, pkcs8 } = await generateRsaKey();
  const der = await issueCertificate({
    profile: 'server',
    subject: localName(wanted.dns[0] ?? 'localhost'),
    publicKey,
    issuer: o.ca.issuer,
    altNames: wanted,
    now,
    notAfterLimit: o.ca.notAfter,
  });
  const newKey = toPem('PRIVATE KEY', pkcs8);
  // The CA chain follows the certificate, so a client that trusts only the root of an operator's
  // CA chain can still build the path.
  const newCert = toPem('CERTIFICATE', der) + o.ca.pem;
  await writeKeyFile(keyPath, newKey, SECRET_MODE);
  await writeKeyFile(certPath, newCert, PUBLIC_MODE);
  const notAfter = pkijs.Certificate.fromBER(der).notAfter.value;
  log.info(
    { certificate: certPath, names, ca: o.ca.subject, notAfter: notAfter.toISOString(), reason },
    `${certPem === undefined ? 'Issued' : `Re-issued (${reason})`} the HTTPS server certificate for ${names.join(', ')}, signed by "${o.ca.subject}" (clients trust ${o.caCertificatePath})`,
  );
  return result(newKey, newCert);
}

/** Why the saved certificate cannot be served as it is, or undefined when it can. */
async function reasonToReissue(o: {
  certPem: string | undefined;
  keyPem: string | undefined;
  ca: CaMaterial;
  wanted: { dns: string[]; ips: string[] };
  now: Date;
}): Promise<string | undefined> {
  if (o.certPem === undefined || o.keyPem === undefined)
    return `${o.certPem === undefined ? SERVER_CERT_FILE : SERVER_KEY_FILE} does not exist`;
  let leafDer: Uint8Array;
  let x509: X509Certificate;
  try {
    leafDer = parseCertificates(o.certPem, SERVER_CERT_FILE)[0] as Uint8Array;
    x509 = new X509Certificate(Buffer.from(leafDer));
    const { key } = await readPrivateKeyPem(o.keyPem, SERVER_KEY_FILE);
    if (!x509.checkPrivateKey(key.keyObject)) return `${SERVER_KEY_FILE} does not belong to ${SERVER_CERT_FILE}`;
  } catch (err) {
    return (err as Error).message;
  }
  const caX509 = new X509Certificate(Buffer.from(o.ca.chainDer[0] as Uint8Array));
  if (!x509.checkIssued(caX509) || !x509.verify(caX509.publicKey)) return `it was not issued by the CA "${o.ca.subject}"`;
  const cert = pkijs.Certificate.fromBER(leafDer);
  const has = subjectAltNames(cert) ?? { dns: [], ips: [] };
  const same = (a: string[], b: string[]) => a.length === b.length && [...a].sort().join('\n') === [...b].sort().join('\n');
  if (!same(has.dns, o.wanted.dns) || !same(has.ips, o.wanted.ips))
    return `its names (${[...has.dns, ...has.ips].join(', ')}) are not the wanted ${[...o.wanted.dns, ...o.wanted.ips].join(', ')}`;
  if (o.now < cert.notBefore.value) return `it is not valid before ${cert.notBefore.value.toISOString()}`;
  const daysLeft = (cert.notAfter.value.getTime() - o.now.getTime()) / DAY_MS;
  if (daysLeft < RENEW_DAYS)
    return daysLeft <= 0 ? `it expired at ${cert.notAfter.value.toISOString()}` : `it expires within ${RENEW_DAYS} days`;
  // The chain after the certificate must be the current CA's (an operator's CA file may have changed).
  if (!o.certPem.endsWith(o.ca.pem)) return 'the CA chain after it changed';
  return undefined;
}
