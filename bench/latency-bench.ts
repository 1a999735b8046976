/**
 * latency: a 1-host trivial deployment (one tiny file, no hook scripts: every lifecycle command
 * still runs), from CreateDeployment to GetDeployment saying Succeeded, against the local control
 * plane (its own process, 20 s long polls) and one real agent daemon with the shipped
 * :wait_between_runs: (read from conf/codedeployagent.yml). One untimed deployment first (the
 * daemon loads the deployment machinery on its first command), then BENCH_RUNS deployments one
 * after the other; the median is the row, target 1.5 s. GetDeployment is polled every 20 ms, so
 * the figure is at most that late. Also printed: the last run's lifecycle events, as the control
 * plane recorded them (each event's own time and the gap before it), which shows where the time goes.
 */
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
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
} from '@aws-sdk/client-codedeploy';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { parse } from 'yaml';
import { createFleetAgent, type FleetAgent } from '../scripts/lib/local-fleet.js';
import { repo } from './agent-build.js';
import { startCp } from './control-plane-bench.js';
import { timed } from './measure.js';
import { median, OFFICIAL_1_8_1, type Row } from './summary.js';

const credentials = { accessKeyId: 'AKIDBENCH', secretAccessKey: 'bench' };

/** :wait_between_runs: of a codedeployagent.yml text (the official ":key:" spelling); undefined when absent or not a number. */
export function shippedWaitBetweenRuns(configText: string): number | undefined {
  const doc = parse(configText) as Record<string, unknown> | null;
  const value = doc?.[':wait_between_runs'];
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : undefined;
}

export async function benchLatency(runs: number, benchDir: string): Promise<Row[]> {
  const shippedConf = join(repo, 'conf', 'codedeployagent.yml');
  const wait = shippedWaitBetweenRuns(readFileSync(shippedConf, 'utf8'));
  if (wait === undefined)
    throw new Error(`${shippedConf} has no numeric :wait_between_runs:; the latency suite measures the shipped value`);
  const root = await mkdtemp(join(benchDir, 'cda-bench-latency-'));
  const cp = await startCp(join(root, 'data'));
  let agent: FleetAgent | undefined;
  try {
    const common = { endpoint: cp.url, region: 'us-east-1', credentials };
    const deploy = new CodeDeployClient(common);
    const s3 = new S3Client({ ...common, forcePathStyle: true });
    const src = join(root, 'bundle-src');
    const dest = join(root, 'installed');
    await mkdir(src, { recursive: true });
    await writeFile(join(src, 'hello.txt'), 'hello\n');
    await writeFile(join(src, 'appspec.yml'), `version: 0.0\nos: linux\nfiles:\n  - source: hello.txt\n    destination: ${dest}\n`);
    const bundle = join(root, 'bundle.tgz');
    await timed('tar', ['-czf', bundle, '-C', src, '.']);
    await s3.send(new CreateBucketCommand({ Bucket: 'bench' }));
    const put = await s3.send(new PutObjectCommand({ Bucket: 'bench', Key: 'trivial.tgz', Body: await readFile(bundle) }));
    await deploy.send(new CreateApplicationCommand({ applicationName: 'Latency' }));
    await deploy.send(
      new CreateDeploymentGroupCommand({
        applicationName: 'Latency',
        deploymentGroupName: 'one-host',
        deploymentConfigName: 'CodeDeployDefault.AllAtOnce',
        serviceRoleArn: 'arn:aws:iam::000000000000:role/Bench',
        onPremisesInstanceTagFilters: [{ Key: 'latency', Value: 'yes', Type: 'KEY_AND_VALUE' }],
      }),
    );
    agent = await createFleetAgent({
      name: 'latency-1',
      controlPlaneUrl: cp.url,
      caCertificatePath: cp.ca,
      root: join(root, 'hosts'),
      waitBetweenRunsSeconds: wait,
    });
    await deploy.send(new RegisterOnPremisesInstanceCommand({ instanceName: agent.name, iamUserArn: agent.iamUserArn }));
    await deploy.send(new AddTagsToOnPremisesInstancesCommand({ instanceNames: [agent.name], tags: [{ Key: 'latency', Value: 'yes' }] }));
    agent.start();
    // Let the daemon reach its first long poll.
    await new Promise((r) => setTimeout(r, 2000));

    const once = async (): Promise<{ ms: number; deploymentId: string }> => {
      const started = process.hrtime.bigint();
      const { deploymentId } = await deploy.send(
        new CreateDeploymentCommand({
          applicationName: 'Latency',
          deploymentGroupName: 'one-host',
          revision: {
            revisionType: 'S3',
            s3Location: { bucket: 'bench', key: 'trivial.tgz', version: put.VersionId, eTag: put.ETag, bundleType: 'tgz' },
          },
        }),
      );
      const deadline = Date.now() + 120_000;
      for (;;) {
        const status = (await deploy.send(new GetDeploymentCommand({ deploymentId }))).deploymentInfo?.status;
        if (status === 'Succeeded') break;
        if (status === 'Failed' || status === 'Stopped')
          throw new Error(`latency deployment ${deploymentId} ${status}; agent stderr:\n${agent?.stderr().slice(-4000)}`);
        if (Date.now() > deadline)
          throw new Error(`latency deployment ${deploymentId} still ${status} after 120 s; agent stderr:\n${agent?.stderr().slice(-4000)}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      return { ms: Number(process.hrtime.bigint() - started) / 1e6, deploymentId: deploymentId! };
    };
    const warm = await once();
    const times: number[] = [];
    let last = warm;
    for (let i = 0; i < runs; i++) {
      last = await once();
      times.push(last.ms);
    }
    const target = (await deploy.send(new BatchGetDeploymentTargetsCommand({ deploymentId: last.deploymentId, targetIds: [agent.name] })))
      .deploymentTargets?.[0]?.instanceTarget;
    const events = target?.lifecycleEvents ?? [];
    const timeline = events.map((e, i) => {
      const own = e.startTime && e.endTime ? e.endTime.getTime() - e.startTime.getTime() : NaN;
      const prevEnd = events[i - 1]?.endTime;
      const gap = prevEnd && e.startTime ? e.startTime.getTime() - prevEnd.getTime() : NaN;
      return `${e.lifecycleEventName} ${Number.isFinite(gap) ? `+${gap}` : ''}/${own}`;
    });
    const ms = median(times);
    console.log(
      `latency, 1-host trivial deployment, create-deployment to Succeeded (shipped :wait_between_runs: ${wait}; ${runs} runs after 1 warm-up)`,
    );
    console.log(
      `  median ${ms.toFixed(0)} ms   (runs: ${times.map((t) => t.toFixed(0)).join(', ')}; warm-up ${warm.ms.toFixed(0)} ms)   (target <= 1500 ms)`,
    );
    console.log(`  last run's ${events.length} lifecycle events, ms (+gap before / own): ${timeline.join(', ')}`);
    console.log('');
    return [
      {
        suite: 'latency',
        what: `1-host trivial deployment, create to Succeeded (:wait_between_runs: ${wait})`,
        unit: 'ms',
        ours: ms,
        target: { kind: 'max', value: 1500 },
        official: { value: OFFICIAL_1_8_1.oneHostDeploymentMs },
      },
    ];
  } finally {
    await agent?.stop();
    cp.proc.kill('SIGTERM');
    await new Promise((r) => cp.proc.once('exit', r));
    await rm(root, { recursive: true, force: true });
  }
}
