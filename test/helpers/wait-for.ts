/**
 * Bounded waiting for a condition outside the test process (a child's log line, a server's call
 * count, a deployment's status), over vitest's vi.waitFor. Use it where the wait must hand back a
 * value or where `check` asserts something that must not be retried; for a plain "eventually equals"
 * inside a test body, expect.poll says the same with a better failure message.
 */
import { vi } from 'vitest';

export interface WaitOptions {
  timeoutMs: number;
  /** Between checks; vitest's default is 50 ms. */
  intervalMs?: number;
  /** Added to the timeout message (e.g. the agent's stderr or last log lines). */
  details?: () => string | Promise<string>;
}

type Outcome<T> = { ok: true; value: T } | { ok: false; error: unknown };

class NotYet extends Error {}

const seconds = (ms: number): string => `${ms / 1000} s`;

/**
 * Polls `check` until it returns a value other than false/undefined and returns that value. An
 * error thrown by `check` ends the wait at once (vi.waitFor alone would retry it until the
 * timeout, hiding a broken precondition or a failed assertion behind a long wait); running out of
 * time throws an error naming `what`, after one last look.
 */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | false | undefined> | T | false | undefined,
  o: WaitOptions,
): Promise<T> {
  const attempt = async (): Promise<Outcome<T> | undefined> => {
    let value: T | false | undefined;
    try {
      value = await check();
    } catch (error) {
      return { ok: false, error };
    }
    return value === false || value === undefined ? undefined : { ok: true, value };
  };
  let inFlight: Promise<Outcome<T> | undefined> | undefined;
  const outcome = await vi
    .waitFor(
      async () => {
        inFlight = attempt();
        const result = await inFlight;
        inFlight = undefined;
        if (!result) throw new NotYet(`still waiting for ${what}`);
        return result;
      },
      { timeout: o.timeoutMs, interval: o.intervalMs ?? 50 },
    )
    .catch(async (err: unknown) => {
      // Only a timeout gets here (every error of `check` is returned above). vi.waitFor stops at
      // the deadline, even inside a slow check; like expect.poll, a check that straddles the
      // deadline still counts, or one last look is taken, so that a loaded box gets no less time.
      const last = await (inFlight ?? attempt());
      if (last) return last;
      const details = await o.details?.();
      throw new Error(`timed out after ${seconds(o.timeoutMs)} waiting for ${what}${details ? `\n${details}` : ''}`, { cause: err });
    });
  if (!outcome.ok) throw outcome.error;
  return outcome.value;
}
