/**
 * PEM armour for the signing module: DER bytes to the 64-column base64 text OpenSSL writes, and
 * back. Kept apart so the certificate, key and CMS code deal in bytes only.
 */

/** `-----BEGIN <label>-----`, base64 in 64-character lines, `-----END <label>-----`, final newline. */
export function toPem(label: string, der: Uint8Array): string {
  const base64 = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('base64');
  const lines = base64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/** Every block with this label, decoded, in file order (other blocks are ignored). */
export function pemBlocks(text: string, label: string): Uint8Array[] {
  const escaped = label.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const re = new RegExp(`-----BEGIN ${escaped}-----([\\s\\S]*?)-----END ${escaped}-----`, 'g');
  return [...text.matchAll(re)].map((m) => new Uint8Array(Buffer.from((m[1] ?? '').replace(/\s+/g, ''), 'base64')));
}

/** The labels of all PEM blocks in the text (to say what a file holds when it is not what we want). */
export function pemLabels(text: string): string[] {
  return [...text.matchAll(/-----BEGIN ([A-Z0-9 #]+)-----/g)].map((m) => m[1] ?? '');
}

/** A plain ArrayBuffer copy of the bytes (pkijs and WebCrypto want ArrayBuffers, not views). */
export function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return copy.buffer;
}
