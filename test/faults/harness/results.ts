/**
 * The suite's result table: each scenario appends one JSON line {scenario, outcome, seconds} to a
 * file the global setup names (provide/inject), and the global teardown prints them (table.ts).
 */
import { appendFile } from 'node:fs/promises';
import { inject } from 'vitest';
import type { ScenarioResult } from './table.js';

declare module 'vitest' {
  export interface ProvidedContext {
    faultResultsFile: string;
  }
}

export async function recordResult(r: ScenarioResult): Promise<void> {
  const file = inject('faultResultsFile');
  if (!file) return;
  await appendFile(file, `${JSON.stringify(r)}\n`);
}
