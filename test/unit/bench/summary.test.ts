import { describe, expect, it } from 'vitest';
import {
  evaluateRow,
  fleetRows,
  formatSummary,
  formatTarget,
  formatValue,
  isFleetResult,
  median,
  OFFICIAL_1_8_1,
  OFFICIAL_COLUMN,
  summaryJson,
  type Row,
  type SummaryMeta,
} from '../../../bench/summary.js';

const installRow: Row = {
  suite: 'install',
  what: 'install, 10,000 small files (tgz)',
  unit: 'ms',
  ours: 650,
  baseline: { label: 'tar -xzf + cp -a', value: 500 },
  target: { kind: 'ratio', max: 1.3 },
  official: { value: OFFICIAL_1_8_1.install10kPerBaseline, perBaseline: true },
};

describe('bench summary: evaluating rows', () => {
  it('takes the middle value, or the mean of the middle two', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNaN();
  });

  it('meets a ratio target at the limit and misses it above', () => {
    const at = evaluateRow(installRow);
    expect(at.ratio).toBeCloseTo(1.3, 10);
    expect(at.met).toBe(true);
    const above = evaluateRow({ ...installRow, ours: 651 });
    expect(above.met).toBe(false);
  });

  it("divides our ratio by the official agent's multiple of its baseline for ours/official", () => {
    // The issue: ours/tar+cp 2.43 and ours/official 0.72, so the official agent took 3.375x tar+cp.
    expect(OFFICIAL_1_8_1.install10kPerBaseline).toBeCloseTo(3.375, 3);
    const r = evaluateRow({ ...installRow, ours: 1215 }); // 2.43x the baseline, as in the issue
    expect(r.oursOverOfficial).toBeCloseTo(0.72, 2);
  });

  it('judges an absolute target on our figure and compares with an absolute official figure directly', () => {
    const r = evaluateRow({
      suite: 'release',
      what: 'start-up',
      unit: 'ms',
      ours: 276,
      target: { kind: 'max', value: 250 },
      official: { value: 1380 },
    });
    expect(r.met).toBe(false);
    expect(r.ratio).toBeUndefined();
    expect(r.oursOverOfficial).toBeCloseTo(0.2, 5);
    expect(evaluateRow({ ...r, ours: 250 }).met).toBe(true);
  });

  it('leaves met undefined when a figure is missing or there is no target', () => {
    expect(evaluateRow({ ...installRow, ours: NaN }).met).toBeUndefined();
    expect(evaluateRow({ ...installRow, baseline: undefined }).met).toBeUndefined();
    expect(evaluateRow({ ...installRow, baseline: { label: 'x', value: 0 } }).ratio).toBeUndefined();
    expect(evaluateRow({ ...installRow, target: { kind: 'none', text: 'report' } }).met).toBeUndefined();
  });

  it('says when an absolute target lies below the floor measured in the same run', () => {
    const row: Row = {
      suite: 'startup',
      what: '--version',
      unit: 'ms',
      ours: 120,
      baseline: { label: 'node -e 0', value: 82, floor: true },
      target: { kind: 'max', value: 60 },
      note: 'npm build',
    };
    expect(evaluateRow(row).note).toBe('npm build; target below the floor: node -e 0 alone takes 82 ms here');
    expect(evaluateRow({ ...row, target: { kind: 'max', value: 250 } }).note).toBe('npm build');
    // A baseline that is not a floor says nothing of the kind.
    expect(evaluateRow({ ...row, baseline: { label: 'x', value: 82 } }).note).toBe('npm build');
  });
});

describe('bench summary: formatting', () => {
  it('prints values in their unit, seconds from 10 s, n/a when missing', () => {
    expect(formatValue(1234.4, 'ms')).toBe('1234 ms');
    expect(formatValue(10_200, 'ms')).toBe('10.2 s');
    expect(formatValue(0, 'requests')).toBe('0 req');
    expect(formatValue(7.25, 'ms')).toBe('7.3 ms');
    expect(formatValue(63, 'MiB')).toBe('63.0 MiB');
    expect(formatValue(NaN, 'MiB')).toBe('n/a');
    expect(formatTarget({ kind: 'ratio', max: 1.1 }, 'ms')).toBe('<= 1.1x');
    expect(formatTarget({ kind: 'max', value: 40 }, 'MiB')).toBe('<= 40.0 MiB');
    expect(formatTarget({ kind: 'none', text: 'report' }, 'ms')).toBe('report');
  });

  it('lays out one line per row with met or NOT MET, the official column labelled as not measured, and numbered notes', () => {
    const rows = [
      evaluateRow(installRow),
      evaluateRow({
        ...installRow,
        what: 'install, 50,000 small files (tgz)',
        ours: 900,
        target: { kind: 'ratio', max: 1.2 },
        note: 'noisy',
      }),
    ];
    const lines = formatSummary(rows);
    const text = lines.join('\n');
    expect(text).toContain('official 1.8.1 (issue #13');
    expect(text).toContain('table, not measured here)');
    expect(lines).toHaveLength(2 + 2 + 1);
    expect(lines[2]).toMatch(
      /^ {2}install, 10,000 small files \(tgz\) +650 ms +500 ms tar -xzf \+ cp -a +1\.30x +<= 1\.3x +met +3\.38x baseline +0\.39x$/,
    );
    expect(lines[3]).toMatch(/install, 50,000 small files \(tgz\) \[1\] +900 ms .* 1\.80x +<= 1\.2x +NOT MET /);
    expect(lines[4]).toBe('  [1] noisy');
    // Every line of the table is as wide as its widest cells allow: columns line up.
    const ends = lines.slice(0, 4).map((l) => l.length);
    expect(new Set(ends).size).toBe(1);
  });

  it('writes JSON with nulls for what was not measured and the derived figures', () => {
    const meta: SummaryMeta = {
      startedAt: '2026-12-03T10:00:00.000Z',
      durationSeconds: 1,
      node: 'v26.12.1',
      platform: 'linux-x64',
      cpus: 2,
      runs: 5,
      benchDir: '/dev/shm',
      suites: ['install'],
      suiteSeconds: { install: 100 },
      failures: [],
    };
    const parsed = JSON.parse(summaryJson(meta, [evaluateRow(installRow), evaluateRow({ ...installRow, ours: NaN })])) as {
      officialColumn: string;
      runs: number;
      rows: { ours: number | null; ratio: number | null; met: boolean | null; targetText: string; official: { text: string } }[];
    };
    expect(parsed.officialColumn).toBe(OFFICIAL_COLUMN);
    expect(parsed.runs).toBe(5);
    expect(parsed.rows[0]).toMatchObject({ ours: 650, met: true, targetText: '<= 1.3x', official: { text: '3.38x baseline' } });
    expect(parsed.rows[0]!.ratio).toBeCloseTo(1.3, 10);
    expect(parsed.rows[1]).toMatchObject({ ours: null, ratio: null, met: null });
  });
});

describe('bench summary: fleet rows', () => {
  const result = { oneHostWallMs: 1300, allAtOnceWallMs: 2100, oneAtATimeWallMs: 65_000, agentCpuMsPerCommand: 40 };

  it('accepts only the full result object', () => {
    expect(isFleetResult(result)).toBe(true);
    expect(isFleetResult(undefined)).toBe(false);
    expect(isFleetResult({ ...result, agentCpuMsPerCommand: '40' })).toBe(false);
  });

  it('turns a missing result into one row that says so, not a crash', () => {
    const rows = fleetRows(undefined, 50);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.ours).toBeNaN();
    expect(rows[0]!.note).toContain('benchControlPlane returned no');
    expect(evaluateRow(rows[0]!).met).toBeUndefined();
  });

  it('judges the CPU row against half of the figure before #13 when it is given', () => {
    const [all, one, cpu] = fleetRows(result, 50, 100);
    expect(all!.ours).toBe(2100);
    expect(one!.ours).toBe(65_000);
    expect(evaluateRow(cpu!).met).toBe(true);
    expect(evaluateRow(fleetRows({ ...result, agentCpuMsPerCommand: 51 }, 50, 100)[2]!).met).toBe(false);
    const unjudged = fleetRows(result, 50)[2]!;
    expect(evaluateRow(unjudged).met).toBeUndefined();
    expect(unjudged.note).toContain('BENCH_FLEET_CPU_BEFORE_MS');
  });
});
