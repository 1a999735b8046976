import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { signPayload, verifySignature } from '../../../../control-plane/github/push-signature.js';

const SECRET = "It's a Secret to Everybody";
const BODY = Buffer.from('Hello, World!');
// GitHub's documented test vector for the secret and body above.
const GITHUB_VECTOR = 'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17';

describe('verifySignature', () => {
  it('accepts the signature GitHub documents for its test vector', () => {
    expect(signPayload(SECRET, BODY)).toBe(GITHUB_VECTOR);
    expect(verifySignature(SECRET, BODY, GITHUB_VECTOR)).toEqual({ ok: true });
  });

  it('accepts upper-case hex', () => {
    expect(verifySignature(SECRET, BODY, `sha256=${GITHUB_VECTOR.slice(7).toUpperCase()}`)).toEqual({ ok: true });
  });

  it.each([
    ['missing', undefined, /missing/],
    ['empty', '', /missing/],
    ['repeated', [GITHUB_VECTOR, GITHUB_VECTOR], /more than once/],
    ['sha1 prefix', `sha1=${createHmac('sha1', SECRET).update(BODY).digest('hex')}`, /must be "sha256="/],
    ['no prefix', GITHUB_VECTOR.slice(7), /must be "sha256="/],
    ['too short', GITHUB_VECTOR.slice(0, -2), /64 hex digits/],
    ['too long', `${GITHUB_VECTOR}00`, /64 hex digits/],
    ['not hex', `sha256=${'zz'.repeat(32)}`, /64 hex digits/],
    ['another secret', signPayload('another secret', BODY), /does not match/],
    ['another body', signPayload(SECRET, 'Hello, World?'), /does not match/],
    ['one bit off', `sha256=${GITHUB_VECTOR.slice(7, -1)}${GITHUB_VECTOR.endsWith('7') ? '6' : '7'}`, /does not match/],
  ])('refuses a %s signature', (_name, header, reason) => {
    const check = verifySignature(SECRET, BODY, header);
    expect(check.ok).toBe(false);
    if (!check.ok) {
      expect(check.reason).toMatch(reason);
      // The refusal never tells the caller what the right signature would have been.
      expect(check.reason).not.toContain(GITHUB_VECTOR.slice(7));
    }
  });
});
