/**
 * startup: the npm build's start-up on this machine's node, against the floor measured in the same
 * run: bare `node -e 0`. Rows: `codedeploy-agent --version` (target 60 ms) and a trivial
 * codedeploy-local deployment, one tiny file in a tgz (target 0.25 s wall), with its peak RSS.
 * The agent runs with its V8 flags, as the shipped forms run it. Medians of BENCH_RUNS after one
 * warm-up each, the three commands in rotated order. The shipped executable's figures come from
 * the release suite.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { agentCli, agentNodeFlags, localCli } from './agent-build.js';
import { PeakRssRunner, type RunResult } from './measure.js';
import { alternate, bareNode, trivialDeployment } from './release-bench.js';
import { median, OFFICIAL_1_8_1, type Row } from './summary.js';

export async function benchStartup(runs: number, benchDir: string): Promise<Row[]> {
  const dir = await mkdtemp(join(benchDir, 'cda-bench-startup-'));
  try {
    const peak = await PeakRssRunner.create(dir);
    const node = process.execPath;
    const flags = agentNodeFlags();
    const deploy = await trivialDeployment(dir, peak);
    type Job = 'floor' | 'version' | 'local';
    const jobs: Job[] = ['floor', 'version', 'local'];
    const [floor, version, local] = (await alternate(jobs, runs, (job): Promise<RunResult> => {
      if (job === 'floor') return bareNode(peak)(node);
      if (job === 'version') return peak.run(node, [...flags, agentCli, '--version'], { node: true });
      return deploy({ label: 'npm build', argv: [node, ...flags, localCli], node: true });
    })) as [RunResult[], RunResult[], RunResult[]];
    const ms = (rs: RunResult[]) => median(rs.map((r) => r.ms));
    const peakMiB = (rs: RunResult[]) => median(rs.map((r) => r.peakMiB));
    const runsOf = (rs: RunResult[]) => rs.map((r) => r.ms.toFixed(0)).join(', ');
    console.log(
      `startup, npm build on node ${process.version} with ${flags.join(' ') || 'no flags'} (${runs} runs, medians; ${peak.describe()})`,
    );
    console.log(
      `  node -e 0 (the floor)            : ${ms(floor).toFixed(0).padStart(4)} ms, peak ${peakMiB(floor).toFixed(1)} MiB   (runs: ${runsOf(floor)})`,
    );
    console.log(
      `  codedeploy-agent --version       : ${ms(version).toFixed(0).padStart(4)} ms, peak ${peakMiB(version).toFixed(1)} MiB   (runs: ${runsOf(version)})`,
    );
    console.log(
      `  codedeploy-local, one tiny file  : ${ms(local).toFixed(0).padStart(4)} ms, peak ${peakMiB(local).toFixed(1)} MiB   (runs: ${runsOf(local)})`,
    );
    console.log('');
    const floorBase = { label: `node -e 0 (node ${process.version})`, value: ms(floor), floor: true };
    return [
      {
        suite: 'startup',
        what: `start-up: node -e 0, node ${process.version} (the floor)`,
        unit: 'ms',
        ours: ms(floor),
        target: { kind: 'none', text: 'the floor' },
      },
      {
        suite: 'startup',
        what: 'start-up: codedeploy-agent --version, npm build',
        unit: 'ms',
        ours: ms(version),
        baseline: floorBase,
        target: { kind: 'max', value: 60 },
      },
      {
        suite: 'startup',
        what: 'start-up: trivial codedeploy-local deployment, npm build',
        unit: 'ms',
        ours: ms(local),
        baseline: floorBase,
        target: { kind: 'max', value: 250 },
        official: { value: OFFICIAL_1_8_1.tinyDeploymentMs },
      },
      {
        suite: 'startup',
        what: '  peak memory, trivial deployment, npm build',
        unit: 'MiB',
        ours: peakMiB(local),
        baseline: Number.isFinite(peakMiB(floor)) ? { label: 'node -e 0', value: peakMiB(floor) } : undefined,
        target: { kind: 'max', value: OFFICIAL_1_8_1.peakTinyMiB },
        official: { value: OFFICIAL_1_8_1.peakTinyMiB },
      },
    ];
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
