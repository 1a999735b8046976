/**
 * Private keys for the control plane's CA and spec signer.
 *
 * Keys we make are RSA 2048 with SHA-256 (RSASSA-PKCS1-v1_5): what OpenSSL, the official agent and
 * pkijs all verify without options. Keys an operator gives are read with node:crypto, which
 * understands PKCS#8 and also the older PKCS#1 / SEC1 PEM forms, and are re-imported into WebCrypto
 * (the API pkijs signs with) as PKCS#8; RSA and EC P-256/384/521 CA keys are accepted. Imported
 * WebCrypto keys are not extractable: only the PKCS#8 bytes we write ourselves leave memory.
 */
import { createPrivateKey, webcrypto, type KeyObject } from 'node:crypto';
import { pemLabels, toArrayBuffer } from './pem.js';

export type CryptoKey = webcrypto.CryptoKey;
export type HashName = 'SHA-256' | 'SHA-384' | 'SHA-512';

/** A private key ready to sign with, and what is needed to check it against a certificate. */
export interface SigningKey {
  /** WebCrypto private key (usage "sign"), for pkijs. */
  cryptoKey: CryptoKey;
  /** The same key for node:crypto comparisons (X509Certificate.checkPrivateKey). */
  keyObject: KeyObject;
  /** The digest signatures made with this key use. */
  hash: HashName;
  /** e.g. "RSA 2048" or "EC P-256", for logs and messages. */
  description: string;
}

export const RSA_ALGORITHM = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' } as const;

const CURVES: Record<string, { webName: string; hash: HashName }> = {
  prime256v1: { webName: 'P-256', hash: 'SHA-256' },
  secp384r1: { webName: 'P-384', hash: 'SHA-384' },
  secp521r1: { webName: 'P-521', hash: 'SHA-512' },
};

export const subtle = (): webcrypto.SubtleCrypto => webcrypto.subtle;

/** A fresh RSA 2048 key pair; returns the private key's PKCS#8 DER so it can be saved once. */
export async function generateRsaKey(): Promise<{ key: SigningKey; publicKey: CryptoKey; pkcs8: Uint8Array }> {
  const pair = await subtle().generateKey({ ...RSA_ALGORITHM, modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]) }, true, [
    'sign',
    'verify',
  ]);
  const pkcs8 = new Uint8Array(await subtle().exportKey('pkcs8', pair.privateKey));
  // Re-import non-extractable for use, so the long-lived handle cannot be exported again.
  const key = await signingKeyFromPkcs8(pkcs8);
  return { key, publicKey: pair.publicKey, pkcs8 };
}

/**
 * Reads a PEM private key file's text. Throws an Error naming `source` when it is not a private
 * key, is encrypted, or is of a kind we cannot sign certificates with.
 */
export async function readPrivateKeyPem(pem: string, source: string): Promise<{ key: SigningKey; pkcs8: Uint8Array }> {
  const labels = pemLabels(pem);
  if (labels.includes('ENCRYPTED PRIVATE KEY') || /Proc-Type:\s*4,ENCRYPTED/.test(pem)) {
    throw new Error(
      `${source}: the private key is encrypted; give an unencrypted PKCS#8 key (openssl pkey -in KEY -out key.pem) and protect the file with mode 0600`,
    );
  }
  if (!labels.some((l) => l.endsWith('PRIVATE KEY'))) {
    const found = labels.length === 0 ? 'no PEM block' : `PEM blocks ${labels.map((l) => `"${l}"`).join(', ')}`;
    throw new Error(`${source}: expected a PEM private key ("-----BEGIN PRIVATE KEY-----", PKCS#8), found ${found}`);
  }
  let keyObject: KeyObject;
  try {
    keyObject = createPrivateKey({ key: pem, format: 'pem' });
  } catch (err) {
    throw new Error(`${source}: the private key cannot be read: ${(err as Error).message}`, { cause: err });
  }
  const pkcs8 = new Uint8Array(keyObject.export({ type: 'pkcs8', format: 'der' }));
  return { key: await signingKeyFromPkcs8(pkcs8, source), pkcs8 };
}

/** Imports PKCS#8 DER as a non-extractable WebCrypto signing key, choosing the algorithm from the key. */
export async function signingKeyFromPkcs8(pkcs8: Uint8Array, source = 'private key'): Promise<SigningKey> {
  const keyObject = createPrivateKey({ key: Buffer.from(pkcs8), format: 'der', type: 'pkcs8' });
  const type = keyObject.asymmetricKeyType;
  const details = keyObject.asymmetricKeyDetails ?? {};
  if (type === 'rsa') {
    const bits = details.modulusLength ?? 0;
    if (bits < 2048) throw new Error(`${source}: an RSA key of ${bits} bits is too weak to sign with; use 2048 bits or more`);
    const cryptoKey = await subtle().importKey('pkcs8', toArrayBuffer(pkcs8), RSA_ALGORITHM, false, ['sign']);
    return { cryptoKey, keyObject, hash: 'SHA-256', description: `RSA ${bits}` };
  }
  if (type === 'ec') {
    const curve = CURVES[details.namedCurve ?? ''];
    if (!curve)
      throw new Error(`${source}: EC curve "${details.namedCurve ?? '?'}" is not supported; use P-256, P-384 or P-521, or an RSA key`);
    const cryptoKey = await subtle().importKey('pkcs8', toArrayBuffer(pkcs8), { name: 'ECDSA', namedCurve: curve.webName }, false, [
      'sign',
    ]);
    return { cryptoKey, keyObject, hash: curve.hash, description: `EC ${curve.webName}` };
  }
  throw new Error(
    `${source}: ${type ?? 'unknown'} keys are not supported for signing; use an RSA (2048 bits or more) or EC P-256/384/521 key`,
  );
}
