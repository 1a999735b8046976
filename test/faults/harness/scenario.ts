/**
 * One fault scenario = one vitest test with its own temp dir, a hard time limit, cleanup that runs
 * whatever happened (kill every process it started, unmount, remove files), and one row in the
 * result table. The limit is enforced here, not only by vitest, so that a scenario that hangs is
 * recorded as a TIMEOUT naming the step it was in, and its processes are killed at once.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it, type TestContext } from 'vitest';
import { recordResult } from './results.js';

export interface Scenario {
  readonly name: string;
  /** A fresh directory for this scenario only. */
  readonly dir: string;
  /** What the scenario is doing now (named in a TIMEOUT). */
  step(text: string): void;
  /** Runs at the end, last registered first; errors are reported, not thrown. */
  defer(fn: () => Promise<unknown> | unknown): void;
  /** A measurement shown with the outcome in the table (e.g. "peak RSS 80 MiB"). */
  note(text: string): void;
  /** Ends the scenario as skipped (recorded with the reason). */
  skip(reason: string): never;
  /** True once the scenario's time is up (for loops that must stop). */
  readonly expired: boolean;
}

class SkipScenario extends Error {}

export interface ScenarioOptions {
  timeoutSeconds: number;
  /** Run beside the other concurrent scenarios of the file. */
  concurrent?: boolean;
}

const firstLine = (err: unknown): string => (err instanceof Error ? err.message : String(err)).split('\n')[0]?.slice(0, 300) ?? '';

export function scenario(name: string, o: ScenarioOptions, body: (s: Scenario) => Promise<void>): void {
  const test = o.concurrent ? it.concurrent : it;
  test(
    name,
    async (ctx: TestContext) => {
      const started = performance.now();
      const dir = await mkdtemp(join(tmpdir(), 'cda-fault-'));
      const cleanups: Array<() => Promise<unknown> | unknown> = [];
      let current = 'starting';
      const notes: string[] = [];
      let expired = false;
      const s: Scenario = {
        name,
        dir,
        step: (text) => {
          current = text;
          if (process.env.CDA_FAULTS_TRACE === '1')
            process.stderr.write(`[${name}] +${((performance.now() - started) / 1000).toFixed(1)}s ${text}\n`);
        },
        defer: (fn) => void cleanups.push(fn),
        note: (text) => void notes.push(text),
        skip: (reason) => {
          throw new SkipScenario(reason);
        },
        get expired() {
          return expired;
        },
      };
      let timer: NodeJS.Timeout | undefined;
      const limit = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          expired = true;
          reject(new Error(`TIMEOUT after ${o.timeoutSeconds} s while: ${current}`));
        }, o.timeoutSeconds * 1000);
      });
      let outcome = 'passed';
      let failure: unknown;
      let skipped: string | undefined;
      try {
        await Promise.race([body(s), limit]);
      } catch (err) {
        if (err instanceof SkipScenario) {
          skipped = err.message;
          outcome = `skipped: ${err.message}`;
        } else {
          failure = err;
          const text = firstLine(err);
          outcome = text.startsWith('TIMEOUT') ? text : `FAILED: ${text}`;
        }
      } finally {
        clearTimeout(timer);
        for (const fn of cleanups.reverse()) {
          try {
            await fn();
          } catch (err) {
            process.stderr.write(`[${name}] cleanup: ${firstLine(err)}\n`);
          }
        }
        if (process.env.CDA_FAULTS_KEEP === '1') process.stderr.write(`[${name}] kept ${dir}\n`);
        else await rm(dir, { recursive: true, force: true }).catch(() => undefined);
        if (notes.length > 0 && skipped === undefined) outcome = `${outcome} (${notes.join('; ')})`;
        await recordResult({ scenario: name, outcome, seconds: (performance.now() - started) / 1000 });
      }
      if (skipped !== undefined) ctx.skip(skipped);
      if (failure !== undefined) throw failure;
    },
    // vitest's own limit only backs up ours: cleanup (killing, unmounting) gets a minute more.
    (o.timeoutSeconds + 60) * 1000,
  );
}
