/**
 * The summary of `npm run bench`: one row per claim of issue #13, each with our figure, the
 * baseline measured in the same run, their ratio, the target and whether it is met, and the
 * official agent 1.8.1's figure from the issue's table (a fixed reference: the official agent does
 * not run here). Pure functions only, so the arithmetic and the layout are unit-tested
 * (test/unit/bench/summary.test.ts).
 */

/** 'requests': a count of HTTP requests (the traffic suite's failed requests). */
export type Unit = 'ms' | 'MiB' | 'requests';

/**
 * What a row must reach: ours/baseline at most `max` ('ratio'), ours at most `value` in the row's
 * unit ('max'), or nothing to pass or fail ('none': the row is reported, `text` says why).
 */
export type Target = { kind: 'ratio'; max: number } | { kind: 'max'; value: number } | { kind: 'none'; text: string };

/**
 * The official agent 1.8.1's figure from issue #13's table. `perBaseline`: the issue gives it only
 * as a multiple of the tar+cp baseline of its own run (its ratio ours/tar+cp divided by its ratio
 * ours/official), so ours/official is our ratio to our baseline divided by it.
 */
export interface Official {
  value: number;
  perBaseline?: boolean;
}

export interface Row {
  /** The suite that measured it (BENCH_SUITES name). */
  suite: string;
  what: string;
  unit: Unit;
  /** Our figure; NaN when it could not be measured (the note says why). */
  ours: number;
  /** The baseline measured in the same run. `floor`: nothing can start faster (bare `node -e 0`). */
  baseline?: { label: string; value: number; floor?: boolean };
  target: Target;
  official?: Official;
  note?: string;
}

export interface EvaluatedRow extends Row {
  /** ours / baseline. */
  ratio?: number;
  /** Undefined when the row has no target or a figure it needs is missing. */
  met?: boolean;
  /** ours / the official agent's figure (issue #13's table). */
  oursOverOfficial?: number;
}

export const OFFICIAL_COLUMN = 'official 1.8.1 (issue #13 table, not measured here)';

const finite = (x: number | undefined): x is number => x !== undefined && Number.isFinite(x);

export const median = (xs: readonly number[]): number => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
};

/** The ratio, whether the target is met, ours/official, and a note when a target lies below the floor. */
export function evaluateRow(row: Row): EvaluatedRow {
  const out: EvaluatedRow = { ...row };
  const base = row.baseline?.value;
  if (finite(row.ours) && finite(base) && base > 0) out.ratio = row.ours / base;
  const t = row.target;
  if (t.kind === 'ratio' && finite(out.ratio)) out.met = out.ratio <= t.max;
  if (t.kind === 'max' && finite(row.ours)) out.met = row.ours <= t.value;
  if (row.official && finite(row.ours)) {
    if (row.official.perBaseline) {
      if (finite(out.ratio)) out.oursOverOfficial = out.ratio / row.official.value;
    } else if (row.official.value > 0) out.oursOverOfficial = row.ours / row.official.value;
  }
  if (t.kind === 'max' && row.baseline?.floor && finite(base) && base > t.value) {
    const floorNote = `target below the floor: ${row.baseline.label} alone takes ${formatValue(base, row.unit)} here`;
    out.note = row.note ? `${row.note}; ${floorNote}` : floorNote;
  }
  return out;
}

export function formatValue(value: number, unit: Unit): string {
  if (!Number.isFinite(value)) return 'n/a';
  if (unit === 'MiB') return `${value.toFixed(1)} MiB`;
  if (unit === 'requests') return `${value.toFixed(0)} req`;
  if (value >= 10_000) return `${(value / 1000).toFixed(1)} s`;
  return value < 10 ? `${value.toFixed(1)} ms` : `${value.toFixed(0)} ms`;
}

export const formatRatio = (x: number | undefined): string => (finite(x) ? `${x.toFixed(2)}x` : '-');

export function formatTarget(target: Target, unit: Unit): string {
  if (target.kind === 'ratio') return `<= ${target.max}x`;
  if (target.kind === 'max') return `<= ${formatValue(target.value, unit)}`;
  return target.text;
}

export const formatMet = (met: boolean | undefined): string => (met === undefined ? '-' : met ? 'met' : 'NOT MET');

export function formatOfficial(official: Official | undefined, unit: Unit): string {
  if (!official) return '-';
  return official.perBaseline ? `${official.value.toFixed(2)}x baseline` : formatValue(official.value, unit);
}

/** Columns padded to their widest cell: the first left-aligned, the others right-aligned. */
export function formatTable(rows: readonly (readonly string[])[]): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) =>
    `  ${row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('   ')}`.trimEnd(),
  );
}

/** The summary table's lines: a header, one line per row, then the rows' notes, numbered. */
export function formatSummary(rows: readonly EvaluatedRow[]): string[] {
  const notes: string[] = [];
  const cells = rows.map((r) => {
    let what = r.what;
    if (r.note) {
      notes.push(r.note);
      what += ` [${notes.length}]`;
    }
    return [
      what,
      formatValue(r.ours, r.unit),
      r.baseline ? `${formatValue(r.baseline.value, r.unit)} ${r.baseline.label}` : '-',
      formatRatio(r.ratio),
      formatTarget(r.target, r.unit),
      formatMet(r.met),
      formatOfficial(r.official, r.unit),
      formatRatio(r.oursOverOfficial),
    ];
  });
  // Two header lines keep the official column, whose label must say it is not measured, narrow.
  const header = [
    ['', '', 'baseline', 'ours/', '', '', 'official 1.8.1 (issue #13', 'ours/'],
    ['what', 'ours', '(same run)', 'base', 'target', 'met?', 'table, not measured here)', 'official'],
  ];
  return [...formatTable([...header, ...cells]), ...notes.map((n, i) => `  [${i + 1}] ${n}`)];
}

export interface SummaryMeta {
  startedAt: string;
  durationSeconds: number;
  node: string;
  platform: string;
  cpus: number;
  runs: number;
  benchDir: string;
  suites: readonly string[];
  /** Wall time of each suite that ran to the end. */
  suiteSeconds: Record<string, number>;
  failures: readonly { suite: string; error: string }[];
}

/** What BENCH_JSON receives: the run's context and every row with its derived figures. */
export function summaryJson(meta: SummaryMeta, rows: readonly EvaluatedRow[]): string {
  const nullable = (x: number | undefined) => (finite(x) ? x : null);
  return `${JSON.stringify(
    {
      ...meta,
      officialColumn: OFFICIAL_COLUMN,
      rows: rows.map((r) => ({
        suite: r.suite,
        what: r.what,
        unit: r.unit,
        ours: nullable(r.ours),
        baseline: r.baseline ? { label: r.baseline.label, value: nullable(r.baseline.value) } : null,
        ratio: nullable(r.ratio),
        target: r.target,
        targetText: formatTarget(r.target, r.unit),
        met: r.met ?? null,
        official: r.official ? { ...r.official, text: formatOfficial(r.official, r.unit) } : null,
        oursOverOfficial: nullable(r.oursOverOfficial),
        note: r.note ?? null,
      })),
    },
    null,
    2,
  )}\n`;
}

/**
 * The official agent 1.8.1's figures in issue #13's table (measured there, side by side with an
 * earlier build of this agent; not measured by this bench). Install rows are multiples of that
 * run's tar+cp baseline: ours/tar+cp divided by ours/official.
 */
export const OFFICIAL_1_8_1 = {
  install10kPerBaseline: 2.43 / 0.72,
  install50kPerBaseline: 1.34 / 0.75,
  /** The row is one 200 MB file; the bench's default is 1 GB. */
  largeFilePerBaseline: 1.49 / 0.73,
  peak10kMiB: 63,
  peak50kMiB: 118,
  peakLargeFileMiB: 49,
  peakTinyMiB: 49,
  tinyDeploymentMs: 1380,
  idleRssMiB: 73,
  oneHostDeploymentMs: 10_200,
} as const;

/** What benchControlPlane returns (bench/control-plane-bench.ts). */
export interface FleetResult {
  oneHostWallMs: number;
  allAtOnceWallMs: number;
  oneAtATimeWallMs: number;
  agentCpuMsPerCommand: number;
}

export function isFleetResult(x: unknown): x is FleetResult {
  if (typeof x !== 'object' || x === null) return false;
  const r = x as Record<string, unknown>;
  return ['oneHostWallMs', 'allAtOnceWallMs', 'oneAtATimeWallMs', 'agentCpuMsPerCommand'].every((k) => typeof r[k] === 'number');
}

/**
 * The fleet rows from the control-plane suite's result; one row saying what is missing when it
 * returned nothing usable. cpuBeforeMs: the agents' CPU per command before #13, when known
 * (BENCH_FLEET_CPU_BEFORE_MS), judged against the issue's "halve it".
 */
export function fleetRows(result: unknown, hosts: number, cpuBeforeMs?: number): Row[] {
  if (!isFleetResult(result)) {
    return [
      {
        suite: 'control-plane',
        what: `fleet of ${hosts} agents`,
        unit: 'ms',
        ours: NaN,
        target: { kind: 'none', text: 'report' },
        note: 'benchControlPlane returned no { oneHostWallMs, allAtOnceWallMs, oneAtATimeWallMs, agentCpuMsPerCommand }: see its own lines above',
      },
    ];
  }
  return [
    {
      suite: 'control-plane',
      what: `fleet: ${hosts} hosts AllAtOnce, create to Succeeded`,
      unit: 'ms',
      ours: result.allAtOnceWallMs,
      baseline: { label: '1 host, same bundle', value: result.oneHostWallMs },
      target: { kind: 'none', text: 'report' },
    },
    {
      suite: 'control-plane',
      what: `fleet: ${hosts} hosts OneAtATime, create to Succeeded`,
      unit: 'ms',
      ours: result.oneAtATimeWallMs,
      baseline: { label: '1 host, same bundle', value: result.oneHostWallMs },
      target: { kind: 'none', text: 'minutes less than before #13' },
    },
    {
      suite: 'control-plane',
      what: "fleet: agents' CPU per lifecycle command (AllAtOnce)",
      unit: 'ms',
      ours: result.agentCpuMsPerCommand,
      baseline: cpuBeforeMs === undefined ? undefined : { label: 'before #13', value: cpuBeforeMs },
      target: cpuBeforeMs === undefined ? { kind: 'none', text: 'half of before #13' } : { kind: 'ratio', max: 0.5 },
      note: cpuBeforeMs === undefined ? 'set BENCH_FLEET_CPU_BEFORE_MS to the figure before #13 to judge "halve it"' : undefined,
    },
  ];
}
