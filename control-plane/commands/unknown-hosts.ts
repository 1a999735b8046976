/**
 * What the control plane remembers about hosts that poll without being registered: only enough to
 * tell the operator how to register them without flooding the log. Anyone who can reach the port
 * can poll with any identifier, so both the memory and the log volume are bounded:
 *   - identifiers live in an LRU of `maxTracked` entries (a new identifier per poll evicts old ones);
 *   - one identifier is warned about at most once per `repeatAfterMs` (its repeats are counted);
 *   - at most `maxLinesPerMinute` warnings are written per minute overall; the next line that is
 *     written says how many were held back;
 *   - identifiers are clipped in the log (commands-api.ts already caps them at HOST_IDENTIFIER_MAX characters).
 */
import type { Logger } from 'pino';
import { clip } from '../log/clip.js';
import { LruMap } from './lru-map.js';

export interface UnknownHostLog {
  /** A poll from an identifier that no registered instance has. */
  seen(hostIdentifier: string): void;
  /** Identifiers remembered now (never more than maxTracked). */
  tracked(): number;
}

export interface UnknownHostLogOptions {
  logger: Logger;
  /** ms; default Date.now */
  clock?: () => number;
  /** Default 1000. */
  maxTracked?: number;
  /** Warn again about the same identifier after this long. Default 15 minutes. */
  repeatAfterMs?: number;
  /** Default 10. */
  maxLinesPerMinute?: number;
}

interface Seen {
  /** Undefined while the overall rate limit has held its warning back. */
  warnedAt?: number;
  /** Polls since the last warning about this identifier. */
  repeats: number;
}

const MINUTE_MS = 60_000;

export function createUnknownHostLog(o: UnknownHostLogOptions): UnknownHostLog {
  const clock = o.clock ?? Date.now;
  const repeatAfterMs = o.repeatAfterMs ?? 15 * MINUTE_MS;
  const maxLines = o.maxLinesPerMinute ?? 10;
  const hosts = new LruMap<string, Seen>(o.maxTracked ?? 1000);
  let windowStart = Number.NEGATIVE_INFINITY;
  let linesInWindow = 0;
  let heldBack = 0;

  return {
    seen(hostIdentifier) {
      const now = clock();
      const known = hosts.get(hostIdentifier);
      if (known?.warnedAt !== undefined && now - known.warnedAt < repeatAfterMs) {
        known.repeats++;
        return;
      }
      if (now - windowStart >= MINUTE_MS) {
        windowStart = now;
        linesInWindow = 0;
      }
      if (linesInWindow >= maxLines) {
        heldBack++;
        // Remembered all the same, so that its warning comes once the rate allows.
        if (known) known.repeats++;
        else hosts.set(hostIdentifier, { repeats: 1 });
        return;
      }
      linesInWindow++;
      const shown = clip(hostIdentifier);
      const name = clip(hostIdentifier.split('/').pop() || 'my-host', 100);
      o.logger.warn(
        {
          hostIdentifier: shown,
          ...(shown !== hostIdentifier ? { hostIdentifierLength: hostIdentifier.length } : {}),
          ...(known && known.repeats > 0 ? { pollsSinceLastWarning: known.repeats } : {}),
          ...(heldBack > 0 ? { warningsHeldBack: heldBack } : {}),
        },
        `Host ${shown} is not a registered on-premises instance; register it with: aws deploy register-on-premises-instance --instance-name ${name} --iam-user-arn ${shown}`,
      );
      heldBack = 0;
      hosts.set(hostIdentifier, { warnedAt: now, repeats: 0 });
    },
    tracked: () => hosts.size,
  };
}
