/**
 * CMS (PKCS#7) SignedData over a deployment specification, the way the CodeDeploy service sends it
 * (`OpenSSL::PKCS7.sign(cert, key, json, certs, BINARY).to_pem`): content type id-data with the
 * content attached, one SignerInfo identified by issuer and serial, SHA-256 with
 * RSASSA-PKCS1-v1_5, signed attributes contentType, signingTime and messageDigest, and the signer's
 * certificate with its CA chain in the certificate set.
 *
 * Everything that does not change between signatures (certificate set, signer identifier,
 * algorithm identifiers) is DER-encoded once, and each signature only encodes the attributes and
 * the content around them: building the whole structure with pkijs objects on every call cost
 * three times the RSA operation itself. pkijs/asn1js still encode the parts; the framing is plain
 * DER (definite lengths, a primitive OCTET STRING for the content, signed attributes in SET OF
 * order, which verifiers re-encode before checking the signature).
 */
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { webcrypto } from 'node:crypto';
import type { SigningKey } from './signing-keys.js';

const OID = {
  data: '1.2.840.113549.1.7.1',
  signedData: '1.2.840.113549.1.7.2',
  contentType: '1.2.840.113549.1.9.3',
  messageDigest: '1.2.840.113549.1.9.4',
  signingTime: '1.2.840.113549.1.9.5',
  sha256: '2.16.840.1.101.3.4.2.1',
  sha256WithRSAEncryption: '1.2.840.113549.1.1.11',
} as const;

export interface CmsSignerOptions {
  /** The signer certificate (DER). */
  signerCertDer: Uint8Array;
  /** Its private key: RSA (the signer keys this module's callers make). */
  key: SigningKey;
  /** Further certificates for the certificate set: the CA (and its chain), DER. */
  chainDer: Uint8Array[];
  clock: () => Date;
}

/** Signs UTF-8 text into a DER ContentInfo(SignedData). */
export type CmsSign = (content: string) => Promise<Uint8Array>;

const der = (node: { toBER(sizeOnly?: boolean): ArrayBuffer }): Uint8Array => new Uint8Array(node.toBER(false));
const oid = (value: string): Uint8Array => der(new asn1js.ObjectIdentifier({ value }));

/** One DER TLV: tag byte, definite length, then the contents. */
export function tlv(tag: number, ...contents: Uint8Array[]): Uint8Array {
  const length = contents.reduce((n, c) => n + c.byteLength, 0);
  const lengthBytes: number[] = [];
  if (length < 0x80) lengthBytes.push(length);
  else {
    for (let n = length; n > 0; n = Math.floor(n / 256)) lengthBytes.unshift(n & 0xff);
    lengthBytes.unshift(0x80 | lengthBytes.length);
  }
  const out = new Uint8Array(1 + lengthBytes.length + length);
  out[0] = tag;
  out.set(lengthBytes, 1);
  let at = 1 + lengthBytes.length;
  for (const c of contents) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

const SEQUENCE = 0x30;
const SET = 0x31;
const OCTET_STRING = 0x04;
const CONTEXT_0 = 0xa0;
const INTEGER_1 = new Uint8Array([0x02, 0x01, 0x01]);
const NULL = new Uint8Array([0x05, 0x00]);

export function createCmsSigner(o: CmsSignerOptions): CmsSign {
  if (o.key.keyObject.asymmetricKeyType !== 'rsa')
    throw new Error(`The deployment specification signer key must be RSA, not ${o.key.description}`);
  const signerCert = pkijs.Certificate.fromBER(o.signerCertDer);
  const sha256 = tlv(SEQUENCE, oid(OID.sha256), NULL);
  const signatureAlgorithm = tlv(SEQUENCE, oid(OID.sha256WithRSAEncryption), NULL);
  const sid = der(new pkijs.IssuerAndSerialNumber({ issuer: signerCert.issuer, serialNumber: signerCert.serialNumber }).toSchema());
  const certificateSet = tlv(CONTEXT_0, o.signerCertDer, ...o.chainDer);
  const contentTypeAttr = tlv(SEQUENCE, oid(OID.contentType), tlv(SET, oid(OID.data)));
  const signedDataOid = oid(OID.signedData);
  const dataOid = oid(OID.data);
  const digestAlgorithms = tlv(SET, sha256);

  return async (content) => {
    const bytes = new Uint8Array(Buffer.from(content, 'utf8'));
    const digest = new Uint8Array(await webcrypto.subtle.digest('SHA-256', bytes));
    const attributes = derSorted([
      contentTypeAttr,
      tlv(SEQUENCE, oid(OID.signingTime), tlv(SET, signingTime(o.clock()))),
      tlv(SEQUENCE, oid(OID.messageDigest), tlv(SET, tlv(OCTET_STRING, digest))),
    ]);
    // The signature covers the attributes encoded as a SET; the SignerInfo carries them as [0].
    const signature = new Uint8Array(await webcrypto.subtle.sign('RSASSA-PKCS1-v1_5', o.key.cryptoKey, tlv(SET, ...attributes)));
    const signerInfo = tlv(
      SEQUENCE,
      INTEGER_1,
      sid,
      sha256,
      tlv(CONTEXT_0, ...attributes),
      signatureAlgorithm,
      tlv(OCTET_STRING, signature),
    );
    const encapContentInfo = tlv(SEQUENCE, dataOid, tlv(CONTEXT_0, tlv(OCTET_STRING, bytes)));
    const signedData = tlv(SEQUENCE, INTEGER_1, digestAlgorithms, encapContentInfo, certificateSet, tlv(SET, signerInfo));
    return tlv(SEQUENCE, signedDataOid, tlv(CONTEXT_0, signedData));
  };
}

/** signingTime is UTCTime through 2049 and GeneralizedTime after (RFC 5652 11.3), whole seconds. */
function signingTime(date: Date): Uint8Array {
  const valueDate = new Date(Math.floor(date.getTime() / 1000) * 1000);
  return der(valueDate.getUTCFullYear() < 2050 ? new asn1js.UTCTime({ valueDate }) : new asn1js.GeneralizedTime({ valueDate }));
}

/** DER SET OF order: ascending by encoding. */
function derSorted(encodings: Uint8Array[]): Uint8Array[] {
  return [...encodings].sort((x, y) => Buffer.compare(x, y));
}
