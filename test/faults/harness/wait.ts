/** Bounded waiting: every wait in the fault suite has a limit and says what it waited for. */

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export interface WaitOptions {
  timeoutMs: number;
  intervalMs?: number;
  /** Added to the timeout message (e.g. the agent's last log lines). */
  details?: () => string;
}

/** Polls `check` until it returns a value other than false/undefined, or throws after the timeout. */
export async function waitFor<T>(what: string, check: () => Promise<T | false | undefined> | T | false | undefined, o: WaitOptions): Promise<T> {
  const end = Date.now() + o.timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== false && value !== undefined) return value;
    if (Date.now() > end) {
      const details = o.details?.();
      throw new Error(`timed out after ${Math.round(o.timeoutMs / 1000)} s waiting for ${what}${details ? `\n${details}` : ''}`);
    }
    await sleep(o.intervalMs ?? 100);
  }
}

/** The promise's value, or an error naming `what` after `ms`. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${Math.round(ms / 1000)} s waiting for ${what}`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
