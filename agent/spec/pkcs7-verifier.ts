/**
 * Verification of `PKCS7/JSON` deployment specifications (docs/design.md section 3, docs/reference.md sections 3.1-3.2).
 *
 * The official agent calls `PKCS7#verify` with NOVERIFY and ignores its result, so its specs are
 * authenticated by TLS alone. We do what it only pretends to: the CMS SignedData must carry its
 * content (attached), its signature must verify against the embedded signer certificate (the
 * messageDigest signed attribute is checked by pkijs), and when a trust store is configured
 * (`:deployment_spec_ca_file:`) the signer certificate must chain to one of those CAs, using only
 * the CMS certificate set for intermediates and checking validity dates.
 *
 * pkijs verification is asynchronous (WebCrypto), so this module is async; see
 * parseDeploymentSpecAsync in deployment-spec.ts.
 */
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import type { Logger } from 'pino';
import { AgentError, ErrorCodes } from '../errors.js';
import { formatName } from '../../common/x509-name.js';
import { toError } from '../../common/errors.js';

export interface Pkcs7VerifierOptions {
  /** PEM text of one or more CA certificates the signer must chain to; no chain check when absent. */
  trustedCaPem?: string;
  /** Where trustedCaPem came from (the `deployment_spec_ca_file` path), for messages. */
  trustedCaSource?: string;
  logger?: Pick<Logger, 'debug'>;
  /** The time at which certificate validity is checked; default now. */
  now?: () => Date;
}

/** A verifier for SpecParseOptions.verifyPkcs7-style use: payload in, verified content out. */
export type Pkcs7Verifier = (payload: string) => Promise<string>;

const SIGNED_DATA_OID = '1.2.840.113549.1.7.2';
/** pkijs CertificateChainValidationEngine: "The certificate is either not yet valid or expired". */
const CHAIN_DATE_INVALID = 8;
const BAD_SIGNATURE = "The deployment specification's PKCS7 signature does not verify: the content was modified or signed by another key";

const specError = (message: string, cause?: unknown): AgentError =>
  new AgentError(ErrorCodes.SPEC_INVALID, message, cause === undefined ? {} : { cause });

/** The pkijs crypto engine over Node's WebCrypto, passed explicitly (no global engine is set). */
function cryptoEngine(): pkijs.CryptoEngine {
  return new pkijs.CryptoEngine({ name: 'node-webcrypto', crypto: globalThis.crypto });
}

/**
 * Creates the verifier once (the trust store is parsed here, so a bad CA file fails at start-up
 * with CONFIG_INVALID rather than on every deployment).
 */
export function createPkcs7Verifier(opts: Pkcs7VerifierOptions = {}): Pkcs7Verifier {
  const trusted = opts.trustedCaPem === undefined ? undefined : parseTrustedCas(opts.trustedCaPem, opts.trustedCaSource);
  return (payload) => verifyWith(payload, opts, trusted);
}

/** One-shot verification: returns the signed content as UTF-8 or throws AgentError(SPEC_INVALID). */
export async function verifyPkcs7Payload(payload: string, opts: Pkcs7VerifierOptions = {}): Promise<string> {
  return createPkcs7Verifier(opts)(payload);
}

async function verifyWith(payload: string, opts: Pkcs7VerifierOptions, trusted: pkijs.Certificate[] | undefined): Promise<string> {
  const signedData = parseSignedData(payload);
  const eContent = signedData.encapContentInfo.eContent;
  if (!eContent) {
    throw specError('The deployment specification PKCS7 has no encapsulated content (a detached signature); the content must be attached');
  }
  if (signedData.signerInfos.length !== 1) {
    throw specError(`The deployment specification PKCS7 must have exactly one signer; it has ${signedData.signerInfos.length}`);
  }
  const crypto = cryptoEngine();
  const checkDate = opts.now ? opts.now() : new Date();

  let signer: pkijs.Certificate;
  try {
    const result = await signedData.verify({ signer: 0, checkChain: false, extendedMode: true, checkDate }, crypto);
    if (!result.signatureVerified || !result.signerCertificate) throw specError(BAD_SIGNATURE);
    signer = result.signerCertificate;
  } catch (err) {
    if (err instanceof AgentError) throw err;
    throw specError(`${BAD_SIGNATURE} (${verifyErrorMessage(err)})`, err);
  }
  const subject = formatName(signer.subject);
  opts.logger?.debug({ signer: subject, issuer: formatName(signer.issuer) }, 'deployment specification signature verified');

  if (trusted) await checkChain(signedData, signer, subject, trusted, checkDate, opts.trustedCaSource, crypto);
  return Buffer.from(eContent.getValue()).toString('utf8');
}

async function checkChain(
  signedData: pkijs.SignedData,
  signer: pkijs.Certificate,
  subject: string,
  trusted: pkijs.Certificate[],
  checkDate: Date,
  source: string | undefined,
  crypto: pkijs.CryptoEngine,
): Promise<void> {
  const notBefore = signer.notBefore.value;
  const notAfter = signer.notAfter.value;
  if (checkDate < notBefore || checkDate > notAfter) {
    throw specError(
      `The deployment specification was signed by "${subject}", whose certificate is not valid at ${checkDate.toISOString()} (valid from ${notBefore.toISOString()} to ${notAfter.toISOString()})`,
    );
  }
  // Intermediates may come from the CMS certificate set, but only CA certificates, and never as
  // trust anchors: a self-signed root smuggled into the CMS does not make the chain trusted.
  const intermediates = (signedData.certificates ?? []).filter(
    (c): c is pkijs.Certificate => c instanceof pkijs.Certificate && c !== signer && isCa(c),
  );
  const engine = new pkijs.CertificateChainValidationEngine({ trustedCerts: trusted, certs: [...intermediates, signer], checkDate });
  let reason: string;
  try {
    const result = await engine.verify({}, crypto);
    if (result.result) return;
    reason = result.resultMessage;
    if (result.resultCode === CHAIN_DATE_INVALID) {
      throw specError(
        `The deployment specification was signed by "${subject}", whose certificate chain is not valid at ${checkDate.toISOString()}: ${reason}`,
      );
    }
  } catch (err) {
    if (err instanceof AgentError) throw err;
    reason = verifyErrorMessage(err);
  }
  throw specError(
    `The deployment specification was signed by "${subject}", which is not issued by a trusted CA (:deployment_spec_ca_file: ${source ?? describeCas(trusted)}): ${reason}`,
  );
}

function isCa(cert: pkijs.Certificate): boolean {
  return (cert.extensions ?? []).some(
    (e) => e.extnID === '2.5.29.19' && e.parsedValue instanceof pkijs.BasicConstraints && e.parsedValue.cA === true,
  );
}

/** PEM (`PKCS7`, `CMS`, `PKCS #7 SIGNED DATA`), base64 DER, or raw DER as a binary string. */
function payloadBytes(payload: string): Uint8Array {
  const text = payload.trim();
  const pem = /-----BEGIN ([A-Z0-9 #]+)-----([\s\S]*?)-----END \1-----/.exec(text);
  if (pem) {
    const label = pem[1] ?? '';
    if (!['PKCS7', 'CMS', 'PKCS #7 SIGNED DATA'].includes(label)) throw new Error(`unexpected PEM label "${label}"`);
    return new Uint8Array(Buffer.from((pem[2] ?? '').replace(/\s+/g, ''), 'base64'));
  }
  if (text.length > 0 && /^[A-Za-z0-9+/=\s]+$/.test(text)) return new Uint8Array(Buffer.from(text.replace(/\s+/g, ''), 'base64'));
  return new Uint8Array(Buffer.from(payload, 'latin1'));
}

function parseSignedData(payload: string): pkijs.SignedData {
  try {
    const bytes = payloadBytes(payload);
    if (bytes.length === 0) throw new Error('empty payload');
    const asn1 = asn1js.fromBER(bytes);
    if (asn1.offset === -1) throw new Error(asn1.result.error || 'not DER');
    const contentInfo = new pkijs.ContentInfo({ schema: asn1.result });
    if (contentInfo.contentType !== SIGNED_DATA_OID) throw new Error(`content type ${contentInfo.contentType} is not signedData`);
    return new pkijs.SignedData({ schema: contentInfo.content });
  } catch (err) {
    throw specError(`Could not parse the PKCS7: ${toError(err).message}`, err);
  }
}

function parseTrustedCas(pem: string, source: string | undefined): pkijs.Certificate[] {
  const blocks = [...pem.matchAll(/-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g)];
  const where = source ? ` in ${source}` : '';
  if (blocks.length === 0) throw new AgentError(ErrorCodes.CONFIG_INVALID, `deployment_spec_ca_file: no PEM certificate found${where}`);
  return blocks.map((m, i) => {
    try {
      return pkijs.Certificate.fromBER(new Uint8Array(Buffer.from((m[1] ?? '').replace(/\s+/g, ''), 'base64')));
    } catch (err) {
      throw new AgentError(
        ErrorCodes.CONFIG_INVALID,
        `deployment_spec_ca_file: certificate ${i + 1}${where} cannot be parsed: ${toError(err).message}`,
        { cause: err },
      );
    }
  });
}

function verifyErrorMessage(err: unknown): string {
  if (typeof err === 'object' && err !== null && 'message' in err && typeof err.message === 'string') return err.message;
  if (typeof err === 'object' && err !== null && 'resultMessage' in err && typeof err.resultMessage === 'string') return err.resultMessage;
  return String(err);
}

function describeCas(cas: pkijs.Certificate[]): string {
  return cas.map((c) => formatName(c.subject)).join(', ');
}
