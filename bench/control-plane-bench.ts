/**
 * The local control plane under a fleet: N real agent processes (default 50) deploy a small
 * bundle AllAtOnce, then OneAtATime. The control plane runs as its own process (the
 * codedeploy-control-plane CLI) so its peak RSS (VmHWM) is its own.
 *
 * Overhead per host command: for each host, the gaps between one lifecycle event's end and the
 * next one's start (as the control plane recorded them: completion received -> next command
 * acknowledged, which spans the next long poll answer, GetDeploymentSpecification and the ack),
 * averaged. Hook time is each event's own start-to-end span. The baseline is the same deployment
 * to one host, measured in the same run; the claim is the ratio fleet/1-host.
 *
 * Agent CPU per lifecycle command (#13): utime+stime of every agent process (/proc/<pid>/stat,
 * all its threads, not its hook children: their CPU only shows in the agent's cutime/cstime) over
 * the AllAtOnce deployment, minus what the same agents burn idle (long polls) over that time,
 * divided by the lifecycle commands the deployment ran. BENCH_FLEET_CPU_PROF=<dir> starts the
 * last agent (whose first deployment is the AllAtOnce one) with --cpu-prof into <dir> (written
 * when it stops at the end).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AddTagsToOnPremisesInstancesCommand,
  BatchGetDeploymentTargetsCommand,
  CodeDeployClient,
  CreateApplicationCommand,
  CreateDeploymentCommand,
  CreateDeploymentGroupCommand,
  GetDeploymentCommand,
  RegisterOnPremisesInstanceCommand,
  type InstanceTarget,
} from '@aws-sdk/client-codedeploy';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import * as tar from 'tar';
import { createFleetAgent, projectRoot, type FleetAgent } from '../scripts/lib/local-fleet.js';

const CP_CLI = join(projectRoot(), 'dist', 'control-plane', 'cli', 'codedeploy-control-plane.js');
const credentials = { accessKeyId: 'AKIDBENCH', secretAccessKey: 'bench' };

interface RunResult {
  hosts: number;
  config: string;
  wallMs: number;
  hookMsPerCommand: number;
  overheadMsPerCommand: number;
  overheadP95Ms: number;
  /** Lifecycle events the deployment ran on its hosts (11 per host for the fleet app). */
  commands: number;
}

/** What benchControlPlane returns (bench/summary.ts reads it). */
export interface FleetBenchResult {
  oneHostWallMs: number;
  allAtOnceWallMs: number;
  oneAtATimeWallMs: number;
  agentCpuMsPerCommand: number;
}

/** Clock ticks per second of /proc/<pid>/stat's times (sysconf(_SC_CLK_TCK); 100 on Linux everywhere). */
function clockTicksPerSecond(): number {
  try {
    const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return Number.isFinite(n) && n > 0 ? n : 100;
  } catch {
    return 100;
  }
}

/** utime+stime of one process (every thread, no children) in clock ticks; 0 once it is gone. */
function processCpuTicks(pid: number): number {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return 0;
  }
  // Fields after "(comm)", which may hold spaces: state is field 3, utime 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

function fleetCpuTicks(agents: FleetAgent[]): number {
  return agents.reduce((sum, a) => sum + (a.process?.pid === undefined ? 0 : processCpuTicks(a.process.pid)), 0);
}

/** Every agent thread's utime+stime in ticks, keyed by pid/tid, with the thread's name. */
function fleetThreadTicks(agents: FleetAgent[]): Map<string, { name: string; ticks: number }> {
  const out = new Map<string, { name: string; ticks: number }>();
  for (const a of agents) {
    const pid = a.process?.pid;
    if (pid === undefined) continue;
    let tids: string[];
    try {
      tids = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue;
    }
    for (const tid of tids) {
      try {
        const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
        const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        out.set(`${pid}/${tid}`, { name: tid === String(pid) ? 'main thread' : name, ticks: Number(fields[11]) + Number(fields[12]) });
      } catch {
        // the thread ended
      }
    }
  }
  return out;
}

/** CPU ticks per thread name between two fleetThreadTicks snapshots, largest first. */
function threadTicksByName(
  before: Map<string, { name: string; ticks: number }>,
  after: Map<string, { name: string; ticks: number }>,
): [string, number][] {
  const byName = new Map<string, number>();
  for (const [key, t] of after) byName.set(t.name, (byName.get(t.name) ?? 0) + t.ticks - (before.get(key)?.ticks ?? 0));
  return [...byName].sort((x, y) => y[1] - x[1]);
}

function vmHwmMb(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

export async function startCp(dataDir: string): Promise<{ proc: ChildProcess; url: string; ca: string }> {
  const proc = spawn(process.execPath, [CP_CLI, '--data-dir', dataDir, '--port', '0', '--long-poll', '20', '--log-level', 'warn'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  const url = await new Promise<string>((resolve, reject) => {
    proc.stderr?.on('data', (d: Buffer) => {
      err += d.toString();
      const m = /listening on (http:\/\/\S+)/.exec(err);
      if (m?.[1]) resolve(m[1]);
    });
    proc.once('exit', (code) => reject(new Error(`control plane exited ${code}: ${err}`)));
  });
  return { proc, url, ca: join(dataDir, 'ca', 'ca.pem') };
}

async function deployOnce(
  deploy: CodeDeployClient,
  group: string,
  names: string[],
  revision: { bucket: string; key: string; version?: string; eTag?: string },
  config: string,
): Promise<RunResult> {
  const started = Date.now();
  const { deploymentId } = await deploy.send(
    new CreateDeploymentCommand({
      applicationName: 'Bench',
      deploymentGroupName: group,
      revision: { revisionType: 'S3', s3Location: { ...revision, bundleType: 'tgz' } },
    }),
  );
  for (;;) {
    const status = (await deploy.send(new GetDeploymentCommand({ deploymentId }))).deploymentInfo?.status;
    if (status === 'Succeeded') break;
    if (status === 'Failed' || status === 'Stopped') throw new Error(`bench deployment ${deploymentId} ${status}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  const wallMs = Date.now() - started;
  const targets: InstanceTarget[] = [];
  for (let i = 0; i < names.length; i += 25) {
    const out = await deploy.send(new BatchGetDeploymentTargetsCommand({ deploymentId, targetIds: names.slice(i, i + 25) }));
    for (const t of out.deploymentTargets ?? []) if (t.instanceTarget) targets.push(t.instanceTarget);
  }
  const gaps: number[] = [];
  const hooks: number[] = [];
  let commands = 0;
  for (const t of targets) {
    const evs = t.lifecycleEvents ?? [];
    commands += evs.filter((e) => e.status === 'Succeeded').length;
    evs.forEach((e, i) => {
      if (e.startTime && e.endTime) hooks.push(e.endTime.getTime() - e.startTime.getTime());
      const prev = evs[i - 1];
      if (i > 0 && prev?.endTime && e.startTime) gaps.push(e.startTime.getTime() - prev.endTime.getTime());
    });
  }
  gaps.sort((a, b) => a - b);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  return {
    hosts: names.length,
    config,
    wallMs,
    hookMsPerCommand: mean(hooks),
    overheadMsPerCommand: mean(gaps),
    overheadP95Ms: gaps[Math.floor(gaps.length * 0.95)] ?? NaN,
    commands,
  };
}

export async function benchControlPlane(hostCount: number): Promise<FleetBenchResult> {
  const root = await mkdtemp(join(tmpdir(), 'cda-cp-bench-'));
  const cp = await startCp(join(root, 'data'));
  const agents: FleetAgent[] = [];
  const profileDir = process.env.BENCH_FLEET_CPU_PROF;
  try {
    const common = { endpoint: cp.url, region: 'us-east-1', credentials };
    const deploy = new CodeDeployClient(common);
    const s3 = new S3Client({ ...common, forcePathStyle: true });
    const bundle = join(root, 'app.tgz');
    await tar.c({ gzip: true, file: bundle, cwd: join(projectRoot(), 'test', 'fixtures', 'bundles', 'fleet-app'), portable: true }, ['.']);
    await s3.send(new CreateBucketCommand({ Bucket: 'bench' }));
    const put = await s3.send(new PutObjectCommand({ Bucket: 'bench', Key: 'app.tgz', Body: await readFile(bundle) }));
    const revision = { bucket: 'bench', key: 'app.tgz', version: put.VersionId, eTag: put.ETag };
    await deploy.send(new CreateApplicationCommand({ applicationName: 'Bench' }));
    const group = async (name: string, tag: string, config: string) =>
      deploy.send(
        new CreateDeploymentGroupCommand({
          applicationName: 'Bench',
          deploymentGroupName: name,
          deploymentConfigName: config,
          serviceRoleArn: 'arn:aws:iam::000000000000:role/Bench',
          onPremisesInstanceTagFilters: [{ Key: tag, Value: 'yes', Type: 'KEY_AND_VALUE' }],
        }),
      );
    await group('one-host', 'solo', 'CodeDeployDefault.AllAtOnce');
    await group('fleet-all', 'fleet', 'CodeDeployDefault.AllAtOnce');
    await group('fleet-one', 'fleet', 'CodeDeployDefault.OneAtATime');

    const proof = join(root, 'proof.log');
    for (let i = 1; i <= hostCount; i++) {
      const a = await createFleetAgent({
        name: `bench-${String(i).padStart(3, '0')}`,
        controlPlaneUrl: cp.url,
        caCertificatePath: cp.ca,
        root: join(root, 'hosts'),
        env: {
          FLEET_HOST: `bench-${i}`,
          FLEET_PROOF: proof,
          HOOK_SLEEP_SECONDS: '0',
          ...(i === hostCount && profileDir
            ? {
                NODE_OPTIONS: `--cpu-prof --cpu-prof-interval=${process.env.BENCH_FLEET_CPU_PROF_INTERVAL ?? 1000} --cpu-prof-dir=${profileDir}`,
              }
            : {}),
        },
      });
      agents.push(a);
      await deploy.send(new RegisterOnPremisesInstanceCommand({ instanceName: a.name, iamUserArn: a.iamUserArn }));
      a.start();
    }
    const names = agents.map((a) => a.name);
    await deploy.send(new AddTagsToOnPremisesInstancesCommand({ instanceNames: [names[0]!], tags: [{ Key: 'solo', Value: 'yes' }] }));
    for (let i = 0; i < names.length; i += 10) {
      await deploy.send(
        new AddTagsToOnPremisesInstancesCommand({ instanceNames: names.slice(i, i + 10), tags: [{ Key: 'fleet', Value: 'yes' }] }),
      );
    }
    // Let every agent reach its first long poll.
    await new Promise((r) => setTimeout(r, 3000));

    // What the agents burn idle (held long polls), to subtract from the deployment's CPU; measured
    // once their start-up is over (no tick in a second, or 30 s), which a loaded machine slows.
    const tick = clockTicksPerSecond();
    for (let waited = 0, last = fleetCpuTicks(agents); waited < 30; waited++) {
      await new Promise((r) => setTimeout(r, 1000));
      const now = fleetCpuTicks(agents);
      if (now - last <= Math.max(2, agents.length * 0.01 * tick)) break;
      last = now;
    }
    const idleFrom = { ticks: fleetCpuTicks(agents), at: performance.now() };
    await new Promise((r) => setTimeout(r, 3000));
    const idleTicksPerMs = (fleetCpuTicks(agents) - idleFrom.ticks) / (performance.now() - idleFrom.at);

    const baseline = await deployOnce(deploy, 'one-host', [names[0]!], revision, 'AllAtOnce');
    const threadsFrom = fleetThreadTicks(agents);
    const cpuFrom = { ticks: fleetCpuTicks(agents), at: performance.now() };
    const all = await deployOnce(deploy, 'fleet-all', names, revision, 'AllAtOnce');
    const deployTicks = fleetCpuTicks(agents) - cpuFrom.ticks;
    const threads = threadTicksByName(threadsFrom, fleetThreadTicks(agents));
    const idleTicks = idleTicksPerMs * (performance.now() - cpuFrom.at);
    const agentCpuMsPerCommand = (Math.max(0, deployTicks - idleTicks) * 1000) / tick / Math.max(1, all.commands);
    const one = await deployOnce(deploy, 'fleet-one', names, revision, 'OneAtATime');
    // The same AllAtOnce deployment again: the agents have loaded the deployment code by now.
    const warmFrom = fleetCpuTicks(agents);
    const warmStarted = performance.now();
    const warm = await deployOnce(deploy, 'fleet-all', names, revision, 'AllAtOnce');
    const warmTicks = fleetCpuTicks(agents) - warmFrom - idleTicksPerMs * (performance.now() - warmStarted);
    const warmCpuMsPerCommand = (Math.max(0, warmTicks) * 1000) / tick / Math.max(1, warm.commands);
    const rss = vmHwmMb(cp.proc.pid!);
    console.log(`\ncontrol plane with ${hostCount} agent processes (small bundle, 5 hooks of a few ms, 11 commands per host)`);
    for (const r of [baseline, all, one]) {
      console.log(
        `  ${String(r.hosts).padStart(3)} host(s) ${r.config.padEnd(10)} wall ${(r.wallMs / 1000).toFixed(1).padStart(6)} s   hook/agent time per command ${r.hookMsPerCommand.toFixed(1).padStart(6)} ms   control-plane overhead per command mean ${r.overheadMsPerCommand.toFixed(1).padStart(6)} ms, p95 ${r.overheadP95Ms.toFixed(0).padStart(4)} ms`,
      );
    }
    console.log(
      `  overhead ratio vs 1 host: AllAtOnce x${(all.overheadMsPerCommand / baseline.overheadMsPerCommand).toFixed(2)}, OneAtATime x${(one.overheadMsPerCommand / baseline.overheadMsPerCommand).toFixed(2)}`,
    );
    console.log(`  control plane peak RSS (VmHWM): ${rss.toFixed(1)} MB`);
    console.log(
      `  agents' CPU per lifecycle command (AllAtOnce, agent processes only, idle subtracted): ${agentCpuMsPerCommand.toFixed(1)} ms` +
        ` (${((deployTicks * 1000) / tick).toFixed(0)} ms over ${all.commands} commands, idle ${((idleTicks * 1000) / tick).toFixed(0)} ms)`,
    );
    console.log(
      `  the same AllAtOnce deployment again (deployment code loaded): ${warmCpuMsPerCommand.toFixed(1)} ms per command, wall ${(warm.wallMs / 1000).toFixed(1)} s`,
    );
    console.log(
      `  by agent thread (first AllAtOnce): ${threads
        .filter(([, t]) => t > 0)
        .map(([name, t]) => `${name} ${((t * 1000) / tick / Math.max(1, all.commands)).toFixed(1)} ms`)
        .join(', ')}`,
    );
    return { oneHostWallMs: baseline.wallMs, allAtOnceWallMs: all.wallMs, oneAtATimeWallMs: one.wallMs, agentCpuMsPerCommand };
  } finally {
    await Promise.all(agents.map((a) => a.stop()));
    cp.proc.kill('SIGTERM');
    await new Promise((r) => cp.proc.once('exit', r));
    await rm(root, { recursive: true, force: true });
  }
}
