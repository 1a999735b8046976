/**
 * The agent's one wait: a timer as a promise (node:timers/promises) that an AbortSignal cuts
 * short. Code that waits takes a `Sleep` port instead of calling this directly, so tests can pass
 * one that records the delays and returns at once.
 */
import { setTimeout as delay } from 'node:timers/promises';

/** Waits `ms`; rejects when `signal` is (or becomes) aborted. */
export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;

/**
 * Rejects with the signal's reason when that is an Error (what the caller aborted with, e.g.
 * "the agent is stopping"), else with Node's AbortError.
 */
export const sleep: Sleep = async (ms, signal) => {
  try {
    await delay(ms, undefined, signal ? { signal } : undefined);
  } catch (err) {
    const reason: unknown = signal?.aborted ? signal.reason : undefined;
    throw reason instanceof Error ? reason : err;
  }
};
