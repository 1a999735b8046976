/**
 * Global setup of the fault suite: names the results file (CDA_FAULTS_RESULTS, or one under the
 * OS temp dir) and, once every file has run, prints the table of scenario, outcome and time.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { formatTable, type ScenarioResult } from './table.js';

export default function setup(project: TestProject): () => void {
  const file = process.env.CDA_FAULTS_RESULTS ?? join(tmpdir(), `cda-faults-${process.pid}.jsonl`);
  writeFileSync(file, '');
  project.provide('faultResultsFile', file);
  return () => {
    const results = readFileSync(file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as ScenarioResult);
    process.stdout.write(`\nFault suite (${file}):\n${formatTable(results)}\n`);
  };
}
