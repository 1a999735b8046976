/**
 * GitHub's webhook signature: `X-Hub-Signature-256: sha256=<hex>`, the HMAC-SHA256 of the raw
 * request body keyed with the webhook secret. Deploy-on-push trusts a delivery only when this
 * verifies, so the check is strict and constant-time:
 * - only the `sha256=` form is accepted (the legacy SHA-1 `X-Hub-Signature` is not);
 * - the hex must be exactly 64 lowercase-or-uppercase hex digits; anything else is refused before
 *   any comparison (so timingSafeEqual always compares two 32-byte buffers);
 * - the comparison is crypto.timingSafeEqual over the decoded bytes.
 * The outcome is a value saying why a signature was refused (for the 401 message), never the
 * expected signature, which would let a caller forge one.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'x-hub-signature-256';
const PREFIX = 'sha256=';
const HEX_DIGEST = /^[0-9a-fA-F]{64}$/;

export type SignatureCheck = { ok: true } | { ok: false; reason: string };

/** The header value GitHub would send for `body` signed with `secret`. */
export function signPayload(secret: string, body: Buffer | string): string {
  return `${PREFIX}${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** Whether `header` (the X-Hub-Signature-256 value, possibly absent) signs `body` with `secret`. */
export function verifySignature(secret: string, body: Buffer, header: string | string[] | undefined): SignatureCheck {
  if (header === undefined || header === '') {
    return {
      ok: false,
      reason: 'the X-Hub-Signature-256 header is missing: configure the webhook with the same secret as the control plane',
    };
  }
  if (Array.isArray(header)) return { ok: false, reason: 'the X-Hub-Signature-256 header is given more than once' };
  if (!header.startsWith(PREFIX)) {
    return { ok: false, reason: 'the X-Hub-Signature-256 header must be "sha256=" followed by the hex HMAC-SHA256 of the body' };
  }
  const hex = header.slice(PREFIX.length);
  if (!HEX_DIGEST.test(hex)) {
    return { ok: false, reason: 'the X-Hub-Signature-256 header must carry 64 hex digits after "sha256="' };
  }
  const expected = createHmac('sha256', secret).update(body).digest();
  const given = Buffer.from(hex, 'hex');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    return { ok: false, reason: 'the signature does not match the body: the webhook secret differs from the control plane one' };
  }
  return { ok: true };
}
