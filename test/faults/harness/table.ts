/** The fault suite's result rows and their printed form (no vitest import: the global setup uses it). */

export interface ScenarioResult {
  scenario: string;
  /** "passed", "FAILED: <first line>", "TIMEOUT ..." or "skipped: <why>". */
  outcome: string;
  seconds: number;
}

/** An aligned text table of the results, in the order they were recorded. */
export function formatTable(results: ScenarioResult[]): string {
  const rows = results.map((r) => [r.scenario, r.outcome.length > 110 ? `${r.outcome.slice(0, 107)}...` : r.outcome, r.seconds.toFixed(1)]);
  const header = ['scenario', 'outcome', 'seconds'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 2 ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0))).join('  ');
  const passed = results.filter((r) => r.outcome.startsWith('passed')).length;
  const skipped = results.filter((r) => r.outcome.startsWith('skipped')).length;
  const total = results.reduce((sum, r) => sum + r.seconds, 0);
  return [
    line(header),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map(line),
    '',
    `${results.length} scenarios: ${passed} passed, ${results.length - passed - skipped} failed, ${skipped} skipped; ${total.toFixed(0)} s of scenario time`,
  ].join('\n');
}
