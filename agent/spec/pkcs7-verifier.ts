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
 *
 * Every lifecycle command of a deployment fetches the same specification again (11 per
 * deployment), and parsing and verifying it was the largest part of an agent's CPU per command.
 * A verifier therefore remembers the payloads it has verified, keyed on the exact payload text
 * (the whole string, compared in full, not a digest of it), and answers a repeat with the content
 * it verified. This is sound against whoever controls the network: only successful verifications
 * are kept, so a payload that would fail always goes through verification (and fails); a payload
 * that differs by one character is a different key; and the answer for identical bytes is the
 * one verification would give again, because the outcome depends only on those bytes, the trust
 * store (fixed per verifier) and the time. For the time, an entry is kept only while the check
 * date stays within the validity of every certificate that made it trusted (the signer and its
 * chain), and it is dropped if the clock goes back before the first verification. The cache is
 * small and bounded (CACHE_ENTRIES payloads of at most CACHE_MAX_PAYLOAD_CHARS each).
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
  /** How many verified payloads to remember (default CACHE_ENTRIES); 0 verifies every time. */
  cacheEntries?: number;
}

/** A verifier for SpecParseOptions.verifyPkcs7-style use: payload in, verified content out. */
export type Pkcs7Verifier = (payload: string) => Promise<string>;

const SIGNED_DATA_OID = '1.2.840.113549.1.7.2';
/** pkijs CertificateChainValidationEngine: "The certificate is either not yet valid or expired". */
const CHAIN_DATE_INVALID = 8;
const BAD_SIGNATURE = "The deployment specification's PKCS7 signature does not verify: the content was modified or signed by another key";

/** Verified payloads a verifier remembers: a few deployments in flight at once, of different groups. */
export const CACHE_ENTRIES = 8;
/** Longer payloads are verified every time (a real one, with its certificates, is a few KB). */
export const CACHE_MAX_PAYLOAD_CHARS = 64 * 1024;

/** One successful verification: its content, and the times between which it stays true. */
interface Verified {
  content: string;
  signer: string;
  /** Epoch ms; -Infinity/Infinity when no trust store is configured (dates are then not checked). */
  validFrom: number;
  validUntil: number;
  verifiedAt: number;
}

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
  const maxEntries = opts.cacheEntries ?? CACHE_ENTRIES;
  /** Payload text -> its verification, least recently used first. */
  const cache = new Map<string, Verified>();
  return async (payload) => {
    const checkDate = opts.now ? opts.now() : new Date();
    const at = checkDate.getTime();
    const known = cache.get(payload);
    if (known) {
      cache.delete(payload);
      if (at >= known.verifiedAt && at >= known.validFrom && at <= known.validUntil) {
        cache.set(payload, known);
        opts.logger?.debug({ signer: known.signer }, 'deployment specification signature verified before (identical payload)');
        return known.content;
      }
    }
    const verified = await verifyWith(payload, opts, trusted, checkDate);
    if (maxEntries > 0 && payload.length <= CACHE_MAX_PAYLOAD_CHARS) {
      cache.set(payload, verified);
      if (cache.size > maxEntries) cache.delete(cache.keys().next().value as string);
    }
    return verified.content;
  };
}

/** One-shot verification: returns the signed content as UTF-8 or throws AgentError(SPEC_INVALID). */
export async function verifyPkcs7Payload(payload: string, opts: Pkcs7VerifierOptions = {}): Promise<string> {
  return createPkcs7Verifier(opts)(payload);
}

async function verifyWith(
  payload: string,
  opts: Pkcs7VerifierOptions,
  trusted: pkijs.Certificate[] | undefined,
  checkDate: Date,
): Promise<Verified> {
  const signedData = parseSignedData(payload);
  const eContent = signedData.encapContentInfo.eContent;
  if (!eContent) {
    throw specError('The deployment specification PKCS7 has no encapsulated content (a detached signature); the content must be attached');
  }
  if (signedData.signerInfos.length !== 1) {
    throw specError(`The deployment specification PKCS7 must have exactly one signer; it has ${signedData.signerInfos.length}`);
  }
  const crypto = cryptoEngine();

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

  const content = Buffer.from(eContent.getValue()).toString('utf8');
  const verified: Verified = { content, signer: subject, validFrom: -Infinity, validUntil: Infinity, verifiedAt: checkDate.getTime() };
  if (trusted) {
    const path = await checkChain(signedData, signer, subject, trusted, checkDate, opts.trustedCaSource, crypto);
    for (const cert of [signer, ...path]) {
      verified.validFrom = Math.max(verified.validFrom, cert.notBefore.value.getTime());
      verified.validUntil = Math.min(verified.validUntil, cert.notAfter.value.getTime());
    }
  }
  return verified;
}

async function checkChain(
  signedData: pkijs.SignedData,
  signer: pkijs.Certificate,
  subject: string,
  trusted: pkijs.Certificate[],
  checkDate: Date,
  source: string | undefined,
  crypto: pkijs.CryptoEngine,
): Promise<pkijs.Certificate[]> {
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
    // The certificates the chain was built from (every one whose dates were checked); all that
    // could have been, when pkijs does not say.
    if (result.result) return result.certificatePath ?? [...intermediates, ...trusted];
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
