/**
 * Long-poll waiters: a PollHostCommand with nothing to hand out parks here until the engine makes
 * a command Pending for that instance, the wait runs out, the request is aborted or the control
 * plane closes. This is the only in-memory state of the commands API, and losing it (restart)
 * only ends polls early: agents poll again.
 */
export interface HostWaiters {
  /** Resolves on wake(key), after `ms`, on abort or on closeAll(); `key` undefined waits for the timer only. */
  wait(key: string | undefined, ms: number, signal: AbortSignal): Promise<void>;
  wake(key: string): void;
  closeAll(): void;
  /** Waiting polls (for tests and status). */
  size(): number;
}

export function createHostWaiters(): HostWaiters {
  const waiting = new Map<string, Set<() => void>>();
  const all = new Set<() => void>();
  let closed = false;

  return {
    wait(key, ms, signal) {
      if (closed || signal.aborted || ms <= 0) return Promise.resolve();
      return new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          signal.removeEventListener('abort', done);
          all.delete(done);
          if (key !== undefined) {
            const set = waiting.get(key);
            set?.delete(done);
            if (set && set.size === 0) waiting.delete(key);
          }
          resolve();
        };
        const timer = setTimeout(done, ms);
        signal.addEventListener('abort', done, { once: true });
        all.add(done);
        if (key !== undefined) {
          let set = waiting.get(key);
          if (!set) waiting.set(key, (set = new Set()));
          set.add(done);
        }
      });
    },
    wake(key) {
      const set = waiting.get(key);
      if (!set) return;
      for (const done of [...set]) done();
    },
    closeAll() {
      closed = true;
      for (const done of [...all]) done();
    },
    size: () => all.size,
  };
}
