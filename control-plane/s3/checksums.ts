/**
 * The payload checksums S3 clients send (`x-amz-checksum-<algorithm>` headers or aws-chunked
 * trailers, base64 of the big-endian digest) and that S3 returns. Each is computed incrementally
 * so a body is hashed while it streams to disk.
 *
 * CRC32 uses node:zlib's crc32 when the runtime has it (Node >= 20.15 / 22.2, native speed) and
 * otherwise the table implementation below, which also serves CRC32C (Castagnoli; Node has no
 * built-in). CRC64NVME is accepted, stored and echoed but not verified: no built-in exists and a
 * 64-bit table CRC in JavaScript costs more than a local endpoint is worth.
 */
import { createHash } from 'node:crypto';
import * as zlib from 'node:zlib';

export const CHECKSUM_ALGORITHMS = ['CRC32', 'CRC32C', 'SHA1', 'SHA256', 'CRC64NVME'] as const;
export type ChecksumAlgorithm = (typeof CHECKSUM_ALGORITHMS)[number];

export interface Checksummer {
  update(chunk: Uint8Array): void;
  /** Base64 of the digest, as on the wire. */
  digest(): string;
}

/** The header (and trailer) name for an algorithm: x-amz-checksum-crc32, ... */
export function checksumHeader(algorithm: ChecksumAlgorithm): string {
  return `x-amz-checksum-${algorithm.toLowerCase()}`;
}

/** The algorithm named by a header such as x-amz-checksum-sha256, if it is one. */
export function algorithmOfHeader(name: string): ChecksumAlgorithm | undefined {
  const m = /^x-amz-checksum-([a-z0-9]+)$/.exec(name.trim().toLowerCase());
  if (!m) return undefined;
  return CHECKSUM_ALGORITHMS.find((a) => a.toLowerCase() === m[1]);
}

export function parseAlgorithm(value: string): ChecksumAlgorithm | undefined {
  return CHECKSUM_ALGORITHMS.find((a) => a === value.trim().toUpperCase());
}

function crcTable(reversedPolynomial: number): Uint32Array {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ reversedPolynomial : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
}

const tables = new Map<number, Uint32Array>();

/** Reflected table CRC-32 for a polynomial (0xEDB88320 for CRC32, 0x82F63B78 for CRC32C). */
export function tableCrc32(reversedPolynomial: number, data: Uint8Array, previous = 0): number {
  let table = tables.get(reversedPolynomial);
  if (!table) {
    table = crcTable(reversedPolynomial);
    tables.set(reversedPolynomial, table);
  }
  let crc = ~previous >>> 0;
  for (let i = 0; i < data.length; i++) crc = table[(crc ^ data[i]!) & 0xff]! ^ (crc >>> 8);
  return ~crc >>> 0;
}

type Crc32Fn = (data: Uint8Array, value?: number) => number;
const nativeCrc32: Crc32Fn | undefined =
  typeof (zlib as { crc32?: unknown }).crc32 === 'function' ? (zlib as unknown as { crc32: Crc32Fn }).crc32 : undefined;

function crcChecksummer(step: Crc32Fn): Checksummer {
  let crc = 0;
  return {
    update(chunk) {
      crc = step(chunk, crc);
    },
    digest() {
      const out = Buffer.alloc(4);
      out.writeUInt32BE(crc >>> 0);
      return out.toString('base64');
    },
  };
}

/** A checksummer for `algorithm`, or undefined for one this endpoint cannot compute (CRC64NVME). */
export function createChecksummer(algorithm: ChecksumAlgorithm): Checksummer | undefined {
  switch (algorithm) {
    case 'CRC32':
      return crcChecksummer(nativeCrc32 ?? ((d, v) => tableCrc32(0xedb88320, d, v)));
    case 'CRC32C':
      return crcChecksummer((d, v) => tableCrc32(0x82f63b78, d, v));
    case 'SHA1':
    case 'SHA256': {
      const hash = createHash(algorithm === 'SHA1' ? 'sha1' : 'sha256');
      return { update: (chunk) => hash.update(chunk), digest: () => hash.digest('base64') };
    }
    case 'CRC64NVME':
      return undefined;
  }
}
