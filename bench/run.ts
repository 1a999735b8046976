/**
 * npm run bench: issue #13's performance claims as ratios against baselines measured in the same
 * run, medians of BENCH_RUNS runs (default 5), files in tmpfs. Each suite prints its own lines as
 * it goes and returns rows; the end is one summary table of every row (what, ours, baseline, ratio,
 * target, met or NOT MET, and the official agent 1.8.1's figure from the issue's table, which is a
 * fixed reference and never measured here), also written as JSON to BENCH_JSON when set.
 * `npm run bench -- --help` lists the suites and the variables (bench/options.ts).
 *
 * Suites, in the order they run (the issue's table's order): install and large
 * (bench/install-bench.ts), startup (bench/startup-bench.ts), release (bench/release-bench.ts),
 * daemon (bench/daemon-bench.ts), latency (bench/latency-bench.ts), control-plane
 * (bench/control-plane-bench.ts), many-entries (bench/many-entries-bench.ts), traffic
 * (bench/traffic-bench.ts, issue #14).
 */
import { existsSync } from 'node:fs';
import { rename, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, resolve } from 'node:path';
import { hideSdkNodeVersionWarning } from '../common/sdk-warning.js';
import { agentNodeFlags, localCli } from './agent-build.js';
import { benchControlPlane } from './control-plane-bench.js';
import { benchDaemon } from './daemon-bench.js';
import { benchLargeFile, benchSmallFiles } from './install-bench.js';
import { benchLatency } from './latency-bench.js';
import { benchManyEntries, manyEntriesDir } from './many-entries-bench.js';
import { BenchUsageError, parseOptions, usage, type BenchOptions } from './options.js';
import { benchRelease } from './release-bench.js';
import { benchStartup } from './startup-bench.js';
import { benchTraffic } from './traffic-bench.js';
import { evaluateRow, fleetRows, formatSummary, OFFICIAL_COLUMN, summaryJson, type Row } from './summary.js';

hideSdkNodeVersionWarning();

let parsed: ReturnType<typeof parseOptions>;
try {
  parsed = parseOptions(process.env, process.argv.slice(2), existsSync('/dev/shm') ? '/dev/shm' : tmpdir());
} catch (error) {
  if (!(error instanceof BenchUsageError)) throw error;
  console.error(`npm run bench: ${error.message}`);
  process.exit(2);
}
if ('help' in parsed) {
  console.log(usage());
  process.exit(0);
}
const o: BenchOptions = parsed;
if (!existsSync(o.benchDir)) {
  console.error(`npm run bench: BENCH_DIR=${o.benchDir} does not exist; create it or point BENCH_DIR at a directory (tmpfs preferred)`);
  process.exit(2);
}
if (o.json && !existsSync(dirname(resolve(o.json)))) {
  console.error(`npm run bench: BENCH_JSON=${o.json}: directory ${dirname(resolve(o.json))} does not exist`);
  process.exit(2);
}

const cli = o.localCli ?? localCli;
const flags = agentNodeFlags();
const suites: Record<string, () => Promise<Row[]>> = {
  install: () => benchSmallFiles({ benchDir: o.benchDir, runs: o.runs, localCli: cli, nodeFlags: flags }, o.files),
  large: () => benchLargeFile({ benchDir: o.benchDir, runs: o.runs, localCli: cli, nodeFlags: flags }, o.largeMiB),
  startup: () => benchStartup(o.runs, o.benchDir),
  'many-entries': () => benchManyEntries(manyEntriesDir(o.benchDir, o.manyEntries), cli, o.manyEntries, flags),
  daemon: () => benchDaemon(o.idleSeconds, o.commands),
  latency: () => benchLatency(o.runs, o.benchDir),
  traffic: () => benchTraffic(o.runs, o.benchDir),
  'control-plane': async () => {
    // Typed unknown: the suite's result is checked before use (fleetRows).
    const result: unknown = await benchControlPlane(o.fleetHosts);
    console.log('');
    return fleetRows(result, o.fleetHosts, o.fleetCpuBeforeMs);
  },
  release: async () => {
    const rows = await benchRelease(o.runs, o.idleSeconds, o.benchDir);
    console.log('');
    return rows;
  },
};

const startedAt = new Date();
console.log(
  `npm run bench: ${o.suites.join(', ')}; medians of ${o.runs} runs; files in ${o.benchDir}; node ${process.version}, ${availableParallelism()} CPUs`,
);
for (const w of o.warnings) console.log(`  warning: ${w}`);
console.log('');

const rows: Row[] = [];
const failures: { suite: string; error: string }[] = [];
const suiteSeconds: Record<string, number> = {};
for (const name of o.suites) {
  const started = Date.now();
  try {
    rows.push(...(await suites[name]!()));
    suiteSeconds[name] = Math.round((Date.now() - started) / 1000);
  } catch (error) {
    const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
    failures.push({ suite: name, error: message });
    console.error(`suite ${name} failed after ${((Date.now() - started) / 1000).toFixed(0)} s:\n${message}\n`);
  }
}

const evaluated = rows.map(evaluateRow);
const durationSeconds = (Date.now() - startedAt.getTime()) / 1000;
const took = Object.entries(suiteSeconds).map(([name, seconds]) => `${name} ${seconds} s`);
console.log(`summary (medians of ${o.runs} runs; ${(durationSeconds / 60).toFixed(1)} min: ${took.join(', ')})`);
console.log(`  ${OFFICIAL_COLUMN}: fixed figures from the issue; install rows are multiples of that run's tar+cp.`);
for (const line of formatSummary(evaluated)) console.log(line);
const missed = evaluated.filter((r) => r.met === false).length;
const met = evaluated.filter((r) => r.met === true).length;
console.log(
  `  targets: ${met} met, ${missed} NOT MET${failures.length ? `; suites failed: ${failures.map((f) => f.suite).join(', ')}` : ''}`,
);

if (o.json) {
  const text = summaryJson(
    {
      startedAt: startedAt.toISOString(),
      durationSeconds,
      node: process.version,
      platform: `${process.platform}-${process.arch}`,
      cpus: availableParallelism(),
      runs: o.runs,
      benchDir: o.benchDir,
      suites: o.suites,
      suiteSeconds,
      failures,
    },
    evaluated,
  );
  // Whole or not at all: a temp file beside it, then rename.
  const tmp = `${resolve(o.json)}.tmp-${process.pid}`;
  try {
    await writeFile(tmp, text);
    await rename(tmp, o.json);
    console.log(`  written to ${o.json}`);
  } catch (error) {
    await rm(tmp, { force: true });
    console.error(`npm run bench: could not write BENCH_JSON=${o.json}: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  }
}
if (failures.length > 0) process.exitCode = 1;
