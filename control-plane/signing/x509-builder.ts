/**
 * Issues the two certificates the control plane needs, with pkijs over Node's WebCrypto:
 *   - its CA: self-signed X.509 v3, basicConstraints CA:TRUE and keyUsage keyCertSign+cRLSign (both
 *     critical), subjectKeyIdentifier, 10 years;
 *   - the spec signer: issued by that CA (or an operator's), keyUsage digitalSignature (critical),
 *     basicConstraints CA:FALSE, subject and authority key identifiers, 2 years;
 *   - the HTTPS server certificate (`--tls`): issued by that CA, keyUsage digitalSignature and
 *     keyEncipherment (critical), extendedKeyUsage serverAuth, subjectAltName with the DNS names and
 *     IP addresses clients connect to (what TLS clients check; the CN is not), 1 year.
 * The signer has no extendedKeyUsage on purpose: `openssl cms -verify` checks the S/MIME signing
 * purpose by default and would refuse codeSigning, while an absent EKU means "any use".
 * Serials are 16 random bytes, kept positive and without a leading zero byte (minimal DER).
 * notBefore is set an hour back so agents whose clocks run a little behind still accept the chain.
 */
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { randomBytes } from 'node:crypto';
import type { CryptoKey, SigningKey } from './signing-keys.js';
import { toArrayBuffer } from './pem.js';

export const CA_ORGANIZATION = 'codedeploy-agent-ts';
export const CA_COMMON_NAME = 'CodeDeploy local control plane CA';
export const SIGNER_COMMON_NAME = 'codedeploy-signer-local';

export const CA_VALIDITY_DAYS = 3650;
export const SIGNER_VALIDITY_DAYS = 730;
export const SERVER_VALIDITY_DAYS = 365;
const BACKDATE_MS = 60 * 60 * 1000;
const DAY_MS = 24 * 60 * 60 * 1000;

const OID = {
  commonName: '2.5.4.3',
  organization: '2.5.4.10',
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  basicConstraints: '2.5.29.19',
  authorityKeyIdentifier: '2.5.29.35',
  subjectAltName: '2.5.29.17',
  extKeyUsage: '2.5.29.37',
  serverAuth: '1.3.6.1.5.5.7.3.1',
} as const;

/** keyUsage bits, numbered as in RFC 5280 (bit 0 is the most significant bit of the first byte). */
const KEY_USAGE = { digitalSignature: 0, keyEncipherment: 2, keyCertSign: 5, cRLSign: 6 } as const;

/** GeneralName tags (RFC 5280 4.2.1.6). */
const GENERAL_NAME = { dnsName: 2, ipAddress: 7 } as const;

/** The pkijs crypto engine over Node's WebCrypto, passed explicitly (no global engine is set). */
export function cryptoEngine(): pkijs.CryptoEngine {
  return new pkijs.CryptoEngine({ name: 'node-webcrypto', crypto: globalThis.crypto });
}

/**
 * Subject `CN=<cn>,O=codedeploy-agent-ts` (encoded O first, as OpenSSL prints `/O=…/CN=…`), one
 * attribute per RDN: pkijs would put all of them in a single multi-valued RDN (`O=… + CN=…`), so
 * the name is encoded here and parsed back, which also keeps its exact bytes for the issuer field.
 */
export function localName(commonName: string): pkijs.RelativeDistinguishedNames {
  const rdn = (type: string, value: string): asn1js.Set =>
    new asn1js.Set({ value: [new pkijs.AttributeTypeAndValue({ type, value: new asn1js.Utf8String({ value }) }).toSchema()] });
  const name = new asn1js.Sequence({ value: [rdn(OID.organization, CA_ORGANIZATION), rdn(OID.commonName, commonName)] });
  return pkijs.RelativeDistinguishedNames.fromBER(name.toBER(false));
}

/** UTCTime up to 2049, GeneralizedTime after (RFC 5280 4.1.2.5), whole seconds. */
export function certificateTime(date: Date): pkijs.Time {
  const value = new Date(Math.floor(date.getTime() / 1000) * 1000);
  return new pkijs.Time({ type: value.getUTCFullYear() < 2050 ? 0 : 1, value });
}

function randomSerial(): asn1js.Integer {
  const bytes = randomBytes(16);
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) | 0x40;
  return new asn1js.Integer({ valueHex: toArrayBuffer(bytes) });
}

/** A DER BIT STRING with the given keyUsage bits and the unused trailing bits counted. */
function keyUsageBits(bits: number[]): asn1js.BitString {
  const highest = Math.max(...bits);
  const bytes = new Uint8Array(Math.floor(highest / 8) + 1);
  for (const bit of bits) bytes[bit >> 3] = (bytes[bit >> 3] ?? 0) | (0x80 >> (bit & 7));
  return new asn1js.BitString({ valueHex: toArrayBuffer(bytes), unusedBits: 7 - (highest % 8) });
}

function extension(extnID: string, critical: boolean, value: { toBER(sizeOnly?: boolean): ArrayBuffer }): pkijs.Extension {
  return new pkijs.Extension({ extnID, critical, extnValue: value.toBER(false) });
}

export interface Issuer {
  name: pkijs.RelativeDistinguishedNames;
  key: SigningKey;
  /** The issuer's subjectKeyIdentifier, copied into authorityKeyIdentifier. */
  keyIdentifier: ArrayBuffer;
}

export interface IssueOptions {
  profile: 'ca' | 'signer' | 'server';
  /** The server profile's subjectAltName: DNS names and IP addresses (textual, v4 or v6). */
  altNames?: { dns: readonly string[]; ips: readonly string[] };
  subject: pkijs.RelativeDistinguishedNames;
  /** The subject's public key. */
  publicKey: CryptoKey;
  /** Who signs; undefined for a self-signed certificate (then `selfKey` signs). */
  issuer?: Issuer;
  selfKey?: SigningKey;
  now: Date;
  /** Upper bound on notAfter (a certificate should not outlive its issuer). */
  notAfterLimit?: Date;
}

/** Builds, signs and DER-encodes one certificate. */
export async function issueCertificate(o: IssueOptions): Promise<Uint8Array> {
  const engine = cryptoEngine();
  const cert = new pkijs.Certificate();
  cert.version = 2;
  cert.serialNumber = randomSerial();
  cert.subject = o.subject;
  cert.notBefore = certificateTime(new Date(o.now.getTime() - BACKDATE_MS));
  const days = o.profile === 'ca' ? CA_VALIDITY_DAYS : o.profile === 'server' ? SERVER_VALIDITY_DAYS : SIGNER_VALIDITY_DAYS;
  let notAfter = new Date(o.now.getTime() + days * DAY_MS);
  if (o.notAfterLimit && notAfter > o.notAfterLimit) notAfter = o.notAfterLimit;
  cert.notAfter = certificateTime(notAfter);
  await cert.subjectPublicKeyInfo.importKey(o.publicKey, engine);

  const subjectKeyId = await cert.getKeyHash('SHA-1', engine);
  const signerKey = o.issuer?.key ?? o.selfKey;
  if (!signerKey) throw new Error('issueCertificate: an issuer or a self-signing key is required');
  cert.issuer = o.issuer?.name ?? o.subject;
  const authorityKeyId = o.issuer?.keyIdentifier ?? subjectKeyId;

  const authorityKeyIdentifier = new pkijs.AuthorityKeyIdentifier({ keyIdentifier: new asn1js.OctetString({ valueHex: authorityKeyId }) });
  cert.extensions =
    o.profile === 'server'
      ? [
          extension(OID.basicConstraints, true, new pkijs.BasicConstraints({ cA: false }).toSchema()),
          extension(OID.keyUsage, true, keyUsageBits([KEY_USAGE.digitalSignature, KEY_USAGE.keyEncipherment])),
          extension(OID.extKeyUsage, false, new pkijs.ExtKeyUsage({ keyPurposes: [OID.serverAuth] }).toSchema()),
          extension(OID.subjectAltName, false, altNameSchema(o.altNames ?? { dns: [], ips: [] })),
          extension(OID.subjectKeyIdentifier, false, new asn1js.OctetString({ valueHex: subjectKeyId })),
          extension(OID.authorityKeyIdentifier, false, authorityKeyIdentifier.toSchema()),
        ]
      : o.profile === 'ca'
        ? [
            extension(OID.basicConstraints, true, new pkijs.BasicConstraints({ cA: true }).toSchema()),
            extension(OID.keyUsage, true, keyUsageBits([KEY_USAGE.keyCertSign, KEY_USAGE.cRLSign])),
            extension(OID.subjectKeyIdentifier, false, new asn1js.OctetString({ valueHex: subjectKeyId })),
            extension(OID.authorityKeyIdentifier, false, authorityKeyIdentifier.toSchema()),
          ]
        : [
            extension(OID.basicConstraints, true, new pkijs.BasicConstraints({ cA: false }).toSchema()),
            extension(OID.keyUsage, true, keyUsageBits([KEY_USAGE.digitalSignature])),
            extension(OID.subjectKeyIdentifier, false, new asn1js.OctetString({ valueHex: subjectKeyId })),
            extension(OID.authorityKeyIdentifier, false, authorityKeyIdentifier.toSchema()),
          ];

  await cert.sign(signerKey.cryptoKey, signerKey.hash, engine);
  return new Uint8Array(cert.toSchema(true).toBER(false));
}

function altNameSchema(names: { dns: readonly string[]; ips: readonly string[] }): { toBER(sizeOnly?: boolean): ArrayBuffer } {
  if (names.dns.length + names.ips.length === 0) throw new Error('issueCertificate: a server certificate needs at least one name');
  const altNames = [
    ...names.dns.map((value) => new pkijs.GeneralName({ type: GENERAL_NAME.dnsName, value })),
    ...names.ips.map(
      (ip) =>
        new pkijs.GeneralName({
          type: GENERAL_NAME.ipAddress,
          value: new asn1js.OctetString({ valueHex: toArrayBuffer(ipAddressBytes(ip)) }),
        }),
    ),
  ];
  return new pkijs.AltName({ altNames }).toSchema();
}

/**
 * The subjectAltName of a certificate as lower-case DNS names and IP addresses in canonical text
 * (`ipAddressText` of their bytes), or undefined when it has none.
 */
export function subjectAltNames(cert: pkijs.Certificate): { dns: string[]; ips: string[] } | undefined {
  const ext = (cert.extensions ?? []).find((e) => e.extnID === OID.subjectAltName)?.parsedValue;
  if (!(ext instanceof pkijs.AltName)) return undefined;
  const out = { dns: [] as string[], ips: [] as string[] };
  for (const n of ext.altNames) {
    if (n.type === GENERAL_NAME.dnsName && typeof n.value === 'string') out.dns.push(n.value.toLowerCase());
    else if (n.type === GENERAL_NAME.ipAddress && n.value instanceof asn1js.OctetString)
      out.ips.push(ipAddressText(n.value.valueBlock.valueHexView));
  }
  return out;
}

/** The 4 or 16 bytes of a textual IPv4 or IPv6 address (an IPv6 address may end in dotted IPv4). */
export function ipAddressBytes(text: string): Uint8Array {
  const v4 = (s: string): number[] | undefined => {
    const parts = s.split('.');
    if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255)) return undefined;
    return parts.map(Number);
  };
  const four = v4(text);
  if (four) return new Uint8Array(four);
  const bad = () => new Error(`${JSON.stringify(text)} is not an IP address`);
  const halves = text.split('::');
  if (halves.length > 2) throw bad();
  const groups = (s: string): number[] => {
    if (s === '') return [];
    const words = s.split(':');
    const out: number[] = [];
    for (const [i, w] of words.entries()) {
      const tail = i === words.length - 1 ? v4(w) : undefined;
      if (tail) out.push((tail[0]! << 8) | tail[1]!, (tail[2]! << 8) | tail[3]!);
      else if (/^[0-9a-fA-F]{1,4}$/.test(w)) out.push(parseInt(w, 16));
      else throw bad();
    }
    return out;
  };
  const head = groups(halves[0] ?? '');
  const rest = halves.length === 2 ? groups(halves[1] ?? '') : [];
  const missing = 8 - head.length - rest.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) throw bad();
  const words = [...head, ...new Array<number>(halves.length === 2 ? missing : 0).fill(0), ...rest];
  return new Uint8Array(words.flatMap((w) => [w >> 8, w & 0xff]));
}

/** Dotted IPv4 for 4 bytes; for 16, eight lower-case hex groups without zero compression. */
export function ipAddressText(bytes: Uint8Array): string {
  if (bytes.length === 4) return [...bytes].join('.');
  const words: string[] = [];
  for (let i = 0; i + 1 < bytes.length; i += 2) words.push((((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0)).toString(16));
  return words.join(':');
}

/** The subjectKeyIdentifier extension's value, or the SHA-1 of the public key when it has none. */
export async function keyIdentifierOf(cert: pkijs.Certificate): Promise<ArrayBuffer> {
  const ext = (cert.extensions ?? []).find((e) => e.extnID === OID.subjectKeyIdentifier);
  if (ext?.parsedValue instanceof asn1js.OctetString) return toArrayBuffer(ext.parsedValue.valueBlock.valueHexView);
  return cert.getKeyHash('SHA-1', cryptoEngine());
}

/** Whether the certificate says it is a CA (basicConstraints cA) and, when it has keyUsage, may sign certificates. */
export function caProblems(cert: pkijs.Certificate): string | undefined {
  const exts = cert.extensions ?? [];
  const bc = exts.find((e) => e.extnID === OID.basicConstraints)?.parsedValue;
  if (!(bc instanceof pkijs.BasicConstraints) || bc.cA !== true) return 'it is not a CA certificate (basicConstraints CA:TRUE is missing)';
  const ku = exts.find((e) => e.extnID === OID.keyUsage)?.parsedValue;
  if (ku instanceof asn1js.BitString) {
    const bytes = ku.valueBlock.valueHexView;
    const bit = KEY_USAGE.keyCertSign;
    if ((((bytes[bit >> 3] ?? 0) << (bit & 7)) & 0x80) === 0)
      return 'its keyUsage does not include keyCertSign, so it may not issue certificates';
  }
  return undefined;
}
