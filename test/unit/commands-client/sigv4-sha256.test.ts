import { Sha256 } from '@aws-crypto/sha256-js';
import type { Checksum, SourceData } from '@smithy/types';
import { describe, expect, it } from 'vitest';
import { SigV4Sha256 } from '../../../agent/commands-client/commands-client.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
/** SignatureV4 hands the hash strings as well as bytes (Checksum's type says bytes only). */
const feed = (h: Checksum, data: SourceData): void => (h.update as (d: SourceData) => void).call(h, data);

describe("SigV4Sha256 (the commands client's SigV4 hashing, through node:crypto)", () => {
  const inputs: Array<[string, string | Uint8Array | ArrayBuffer]> = [
    ['an empty string', ''],
    ['UTF-8 text', '{"HostIdentifier":"arn:aws:ec2:us-east-1:1:instance/i-1","ü":"✓"}'],
    ['bytes', new Uint8Array([0, 1, 2, 255])],
    ['an ArrayBuffer', new Uint8Array([9, 8, 7]).buffer],
    ['a view into a larger buffer', new Uint8Array([1, 2, 3, 4, 5, 6]).subarray(2, 5)],
  ];

  it.each(inputs)('hashes %s as @aws-crypto/sha256-js does', async (_name, data) => {
    const ours = new SigV4Sha256();
    const theirs = new Sha256();
    feed(ours, data);
    theirs.update(data);
    expect(hex(await ours.digest())).toBe(hex(await theirs.digest()));
  });

  it.each([
    ['a string secret', 'AWS4secret'],
    ['a bytes secret', new Uint8Array([1, 2, 3])],
  ])('computes HMACs with %s as sha256-js does, across several updates', async (_name, secret) => {
    const ours = new SigV4Sha256(secret);
    const theirs = new Sha256(secret);
    for (const part of ['20260101', 'us-east-1', new Uint8Array([4, 5])]) {
      feed(ours, part);
      theirs.update(part);
    }
    expect(hex(await ours.digest())).toBe(hex(await theirs.digest()));
  });

  it('starts over after reset()', async () => {
    const h = new SigV4Sha256('k');
    feed(h, 'one');
    h.reset();
    feed(h, 'two');
    const fresh = new SigV4Sha256('k');
    feed(fresh, 'two');
    expect(hex(await h.digest())).toBe(hex(await fresh.digest()));
  });
});
