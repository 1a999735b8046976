/**
 * npm run demo [-- --hosts N --config HalfAtATime]: a full CodeDeploy deployment on this machine,
 * no AWS account. It starts the local control plane (temp data dir, loopback, free port), starts N
 * real agents registered as on-premises instances, uploads samples/hello-app to the local S3
 * endpoint, creates the application, group and deployment through the public CodeDeploy API with
 * the AWS SDK (what `aws deploy ...` does), prints each lifecycle event per host as it happens,
 * then the result and where each scripts.log is. Exits 0 on success; stops everything it started.
 */
import { cp as copyDir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  BatchGetDeploymentTargetsCommand,
  CodeDeployClient,
  CreateApplicationCommand,
  CreateDeploymentCommand,
  CreateDeploymentGroupCommand,
  GetDeploymentCommand,
  GetDeploymentConfigCommand,
  AddTagsToOnPremisesInstancesCommand,
  type DeploymentInfo,
} from '@aws-sdk/client-codedeploy';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { pino } from 'pino';
import * as tar from 'tar';
import { startControlPlane, type ControlPlane } from '../control-plane/server.js';
import { createFleetAgent, projectRoot, type FleetAgent } from './lib/local-fleet.js';
import {
  createDemoLoadBalancer,
  describeCounts,
  prepareHostWebApp,
  startSteadyLoad,
  stopHostWebApp,
  TARGET_GROUP,
  TRAFFIC_ADDRESS_TAG,
} from './lib/demo-traffic.js';
import { hideSdkNodeVersionWarning } from '../common/sdk-warning.js';
import { startBlueGreenFleet, type BlueGreenFleet } from './lib/traffic-fleet.js';

const HELP = `Usage: npm run demo [-- --hosts N] [-- --config NAME] [-- --traffic | --blue-green] [--clean]

  --hosts N      agents to start (default 1, at most 20; 3 with --traffic)
  --config NAME  OneAtATime | HalfAtATime | AllAtOnce (CodeDeployDefault.*); default OneAtATime
  --traffic      put the hosts behind a local load balancer (target group hello-web, health checks
                 on /health, 5 s draining): deploy v1, then deploy v2 in place with BlockTraffic and
                 AllowTraffic while steady HTTP load runs through the load balancer, and print which
                 version answered and how many requests failed
  --blue-green   N blue and N green hosts (--hosts N, default 2) behind a local load balancer: v1 in
                 place on the blue hosts, then v2 blue/green to the green ones under 20 requests/s,
                 printing every second which version and host answered
  --keep         keep the control plane, its web console and the agents running after the demo,
                 until Ctrl-C, to look around in the console or deploy again with the aws CLI
  --clean        remove the temp directory at the end (default: keep it, so the logs can be read)
`;

const CONFIGS: Record<string, string> = {
  oneatatime: 'CodeDeployDefault.OneAtATime',
  halfatatime: 'CodeDeployDefault.HalfAtATime',
  allatonce: 'CodeDeployDefault.AllAtOnce',
};

const EVENT_WIDTH = 18;

hideSdkNodeVersionWarning();

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      hosts: { type: 'string' },
      config: { type: 'string' },
      traffic: { type: 'boolean' },
      'blue-green': { type: 'boolean' },
      clean: { type: 'boolean' },
      keep: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const traffic = values.traffic === true;
  const blueGreen = values['blue-green'] === true;
  const hosts = Number(values.hosts ?? (traffic ? '3' : blueGreen ? '2' : '1'));
  if (traffic && blueGreen) {
    process.stderr.write('demo: --traffic and --blue-green are two different demos; pick one\n');
    return 2;
  }
  if (!Number.isInteger(hosts) || hosts < 1 || hosts > (blueGreen ? 10 : 20)) {
    process.stderr.write(`demo: --hosts must be an integer from 1 to ${blueGreen ? '10 (per color)' : '20'}, got "${values.hosts}"\n`);
    return 2;
  }
  const configKey = (values.config ?? 'OneAtATime').replace(/^CodeDeployDefault\./i, '').toLowerCase();
  const configName = CONFIGS[configKey];
  if (!configName) {
    process.stderr.write(`demo: --config must be OneAtATime, HalfAtATime or AllAtOnce, got "${values.config}"\n`);
    return 2;
  }

  const root = await mkdtemp(join(tmpdir(), 'codedeploy-demo-'));
  const cpLog = join(root, 'control-plane.log');
  const logger = pino({ level: 'info' }, pino.destination({ dest: cpLog, sync: false, mkdir: true }));
  const agents: FleetAgent[] = [];
  let cp: ControlPlane | undefined;
  let bgFleet: BlueGreenFleet | undefined;
  const stopAll = async () => {
    await bgFleet?.stop();
    await Promise.all(agents.map((a) => a.stop()));
    if (traffic) await Promise.all(agents.map((a) => stopHostWebApp(a.workDir)));
    await cp?.close();
    logger.flush();
  };
  const onSignal = () => void stopAll().then(() => process.exit(130));
  process.once('SIGINT', onSignal);
  try {
    cp = await startControlPlane({
      dataDir: join(root, 'control-plane'),
      logger,
      commandTimeoutSeconds: 300,
      longPollSeconds: 20,
      minHealthCheckIntervalSeconds: 1,
    });
    console.log(`Console: ${cp.consoleUrl}  (open it to watch the deployment live${values.keep ? '' : '; --keep keeps it up afterwards'})`);
    console.log(`Control plane: ${cp.url} (log: ${cpLog})`);
    const running = cp;
    /** With --keep: everything stays up until Ctrl-C. */
    const keepRunning = async () => {
      if (!values.keep) return;
      process.removeListener('SIGINT', onSignal);
      console.log(`\nStill running: console ${running.consoleUrl}, aws CLI --endpoint-url ${running.url}. Ctrl-C stops everything.`);
      await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
    };
    if (blueGreen) {
      const names = (color: string) => Array.from({ length: hosts }, (_, i) => `${color}-${i + 1}`);
      bgFleet = await startBlueGreenFleet({
        controlPlane: cp,
        root: join(root, 'hosts'),
        blue: names('blue'),
        green: names('green'),
        healthCheck: { intervalSeconds: 2, timeoutSeconds: 1 },
        blueGreen: { terminateBlueInstancesOnDeploymentSuccess: { action: 'KEEP_ALIVE', terminationWaitTimeInMinutes: 0 } },
      });
      const ok = await blueGreenDemo(bgFleet, names('blue'), names('green'));
      console.log(values.clean ? '' : `\nEverything is in ${root} (remove it with: rm -rf ${root})`);
      await keepRunning();
      return ok ? 0 : 1;
    }
    const region = cp.identity.region;
    const credentials = { accessKeyId: 'AKIDLOCALDEMO', secretAccessKey: 'local-demo-secret' };
    const deploy = new CodeDeployClient({ endpoint: cp.url, region, credentials });
    const s3 = new S3Client({ endpoint: cp.url, region, credentials, forcePathStyle: true });

    // 1. The revision: samples/hello-app as a .tgz in a versioned bucket.
    const bundle = join(root, 'hello-app.tgz');
    await tar.c({ gzip: true, file: bundle, cwd: join(projectRoot(), 'samples', 'hello-app'), portable: true }, ['.']);
    await s3.send(new CreateBucketCommand({ Bucket: 'demo-revisions' }));
    const put = await s3.send(new PutObjectCommand({ Bucket: 'demo-revisions', Key: 'hello-app.tgz', Body: await readFile(bundle) }));
    console.log(`Uploaded s3://demo-revisions/hello-app.tgz (version ${put.VersionId}, ETag ${put.ETag})`);

    // With --traffic: a target group and a load balancer listening on a free port.
    const lb = traffic ? await createDemoLoadBalancer(cp.url, region, credentials) : undefined;
    if (lb) console.log(`Load balancer: ${lb.url} (target group ${TARGET_GROUP}, health checks on /health)`);

    // 2. Application, deployment group (on-premises tag filter), instances.
    await deploy.send(new CreateApplicationCommand({ applicationName: 'HelloApp' }));
    await deploy.send(
      new CreateDeploymentGroupCommand({
        applicationName: 'HelloApp',
        deploymentGroupName: 'demo',
        deploymentConfigName: configName,
        serviceRoleArn: 'arn:aws:iam::000000000000:role/CodeDeployDemo',
        onPremisesInstanceTagFilters: [{ Key: 'env', Value: 'demo', Type: 'KEY_AND_VALUE' }],
        ...(lb
          ? {
              deploymentStyle: { deploymentType: 'IN_PLACE', deploymentOption: 'WITH_TRAFFIC_CONTROL' },
              loadBalancerInfo: { targetGroupInfoList: [{ name: TARGET_GROUP }] },
            }
          : {}),
      }),
    );
    for (let i = 1; i <= hosts; i++) {
      // Registered, tagged and configured by add-host (what `codedeploy-control-plane add-host` runs).
      const agent = await createFleetAgent({
        name: `host-${i}`,
        controlPlaneUrl: cp.url,
        caCertificatePath: cp.caCertificatePath,
        root: join(root, 'hosts'),
        register: { tags: [{ Key: 'env', Value: 'demo' }] },
      });
      agents.push(agent);
      // The sample's web app listens where this tag says; the load balancer proxies there.
      if (lb) {
        const address = await prepareHostWebApp(agent.workDir, agent.name);
        await deploy.send(
          new AddTagsToOnPremisesInstancesCommand({ instanceNames: [agent.name], tags: [{ Key: TRAFFIC_ADDRESS_TAG, Value: address }] }),
        );
      }
      agent.start();
    }
    const config = await deploy.send(new GetDeploymentConfigCommand({ deploymentConfigName: configName }));
    console.log(
      `Started ${hosts} agent(s): ${agents.map((a) => a.name).join(', ')}; ${describeConfig(configName, config.deploymentConfigInfo?.minimumHealthyHosts, hosts)}`,
    );

    // 3. The deployment, watched through the public API like a CI job would.
    const revision = { bucket: 'demo-revisions', key: 'hello-app.tgz', version: put.VersionId, eTag: put.ETag };
    let { deploymentId, info, started } = await deployAndWatch(deploy, agents, revision, 'npm run demo');
    if (lb && info?.status === 'Succeeded') {
      // 4. With --traffic: v2, in place, one host out of the load balancer at a time, under load.
      const v2 = await uploadVersion(s3, root, 'v2');
      console.log(`\nv1 is live behind ${lb.url}; deploying v2 with 20 requests/s through the load balancer`);
      const load = startSteadyLoad(lb.url, 20);
      const ticker = setInterval(() => console.log(`           traffic so far: ${describeCounts(load.counts)}`), 2000);
      try {
        ({ deploymentId, info, started } = await deployAndWatch(deploy, agents, v2, 'npm run demo -- --traffic (v2)'));
      } finally {
        clearInterval(ticker);
      }
      const counts = await load.stop();
      console.log(`\nTraffic during the v2 deployment: ${describeCounts(counts)}`);
      if (counts.failed > 0) info = { ...info, status: 'Failed' };
    }

    const ok = info?.status === 'Succeeded';
    console.log(
      `\nDeployment ${deploymentId}: ${info?.status}${info?.errorInformation ? ` (${info.errorInformation.code}: ${info.errorInformation.message})` : ''} in ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
    const groupId = cp.registry.getDeploymentGroup('HelloApp', 'demo')?.deploymentGroupId ?? '';
    for (const a of agents) console.log(`  ${a.name} scripts.log: ${a.scriptsLogPath(groupId, deploymentId)}`);
    const first = agents[0];
    if (first) {
      const log = await readFile(first.scriptsLogPath(groupId, deploymentId), 'utf8').catch(() => '');
      const tail = log.trimEnd().split('\n').slice(-4);
      if (tail.length > 0 && tail[0] !== '')
        console.log(`\nLast lines of ${first.name}'s scripts.log:\n${tail.map((l) => `  ${l}`).join('\n')}`);
    }
    if (!ok) for (const a of agents) if (a.stderr().trim()) console.log(`\n${a.name} agent log (stderr):\n${a.stderr().slice(-2000)}`);
    console.log(values.clean ? '' : `\nEverything is in ${root} (remove it with: rm -rf ${root})`);
    await keepRunning();
    return ok ? 0 : 1;
  } finally {
    process.removeListener('SIGINT', onSignal);
    await stopAll();
    if (values.clean) await rm(root, { recursive: true, force: true });
  }
}

/**
 * --blue-green: v1 in place on the blue hosts (behind the load balancer), then v2 blue/green to
 * the green hosts under 20 requests/s, printing every second which version and host answered.
 */
async function blueGreenDemo(fleet: BlueGreenFleet, blue: string[], green: string[]): Promise<boolean> {
  console.log(`Load balancer: ${fleet.lb.url}; blue hosts ${blue.join(', ')}, green hosts ${green.join(', ')}`);
  console.log('\n1. v1 in place on the blue hosts (deployment group "blue", WITH_TRAFFIC_CONTROL)');
  const v1 = await fleet.upload('v1');
  const first = await fleet.deployToBlue(v1);
  console.log(`   ${first.deploymentId}: ${first.status}`);
  if (first.status !== 'Succeeded') return false;
  console.log('\n2. v2 blue/green to the green hosts (deployment group "bluegreen", targetInstances color=green), under load');
  const load = startSteadyLoad(fleet.lb.url, 20, { record: true });
  let shown = 0;
  const ticker = setInterval(() => {
    const recent = load.counts.answers.slice(shown);
    shown = load.counts.answers.length;
    const by = new Map<string, number>();
    for (const a of recent) by.set(`${a.version} from ${a.host}`, (by.get(`${a.version} from ${a.host}`) ?? 0) + 1);
    console.log(
      `           answering now: ${[...by.entries()].map(([k, n]) => `${k} x${n}`).join(', ') || 'nothing'}; failed so far ${load.counts.failed}`,
    );
  }, 1000);
  let result;
  try {
    const id = await fleet.startBlueGreen(await fleet.upload('v2'));
    result = await watchDeployment(fleet.deploy, id, [...blue, ...green]);
  } finally {
    clearInterval(ticker);
  }
  const counts = await load.stop();
  console.log(`\nTraffic during the blue/green deployment: ${describeCounts(counts)}`);
  const ok = result.info?.status === 'Succeeded' && counts.failed === 0;
  console.log(
    `\nDeployment ${result.deploymentId}: ${result.info?.status}${result.info?.errorInformation ? ` (${result.info.errorInformation.code}: ${result.info.errorInformation.message})` : ''} in ${((Date.now() - result.started) / 1000).toFixed(1)} s; the green hosts are deployment group "bluegreen" now, the blue ones were kept (KEEP_ALIVE) but get no traffic`,
  );
  return ok;
}

interface DemoRevision {
  bucket: string;
  key: string;
  version?: string;
  eTag?: string;
}

/** Creates a deployment of the revision and prints each host's lifecycle events until it ends. */
async function deployAndWatch(
  deploy: CodeDeployClient,
  agents: FleetAgent[],
  revision: DemoRevision,
  description: string,
): Promise<{ deploymentId: string; info: DeploymentInfo | undefined; started: number }> {
  const created = await deploy.send(
    new CreateDeploymentCommand({
      applicationName: 'HelloApp',
      deploymentGroupName: 'demo',
      revision: { revisionType: 'S3', s3Location: { ...revision, bundleType: 'tgz' } },
      description,
    }),
  );
  return watchDeployment(
    deploy,
    created.deploymentId ?? '',
    agents.map((a) => a.name),
  );
}

/** Prints each host's lifecycle events (and the deployment's status changes) until the deployment ends. */
async function watchDeployment(
  deploy: CodeDeployClient,
  deploymentId: string,
  targetIds: string[],
): Promise<{ deploymentId: string; info: DeploymentInfo | undefined; started: number }> {
  console.log(`\nDeployment ${deploymentId} created\n`);
  const started = Date.now();
  const seen = new Map<string, string>();
  let info: DeploymentInfo | undefined;
  let lastProgress = '';
  for (;;) {
    info = (await deploy.send(new GetDeploymentCommand({ deploymentId }))).deploymentInfo;
    const targets = await deploy.send(new BatchGetDeploymentTargetsCommand({ deploymentId, targetIds }));
    for (const t of targets.deploymentTargets ?? []) {
      const target = t.instanceTarget;
      for (const ev of target?.lifecycleEvents ?? []) {
        const key = `${target?.targetId}/${ev.lifecycleEventName}`;
        const status = ev.status ?? 'Unknown';
        if (status === 'Pending' || seen.get(key) === status) continue;
        seen.set(key, status);
        if (status === 'InProgress') continue;
        const secs = ev.startTime && ev.endTime ? ` ${((ev.endTime.getTime() - ev.startTime.getTime()) / 1000).toFixed(1)}s` : '';
        const why = ev.diagnostics && status === 'Failed' ? `  ${ev.diagnostics.errorCode}: ${ev.diagnostics.message}` : '';
        console.log(
          `  ${elapsed(started)}  ${(target?.targetId ?? '').padEnd(8)} ${(ev.lifecycleEventName ?? '').padEnd(EVENT_WIDTH)} ${status}${secs}${why}`,
        );
      }
    }
    const o = info?.deploymentOverview;
    const progress = `  ${elapsed(started)}  progress: ${o?.Succeeded ?? 0} succeeded, ${o?.InProgress ?? 0} in progress, ${o?.Pending ?? 0} pending, ${o?.Failed ?? 0} failed, ${o?.Skipped ?? 0} skipped (deployment ${info?.status})`;
    if (progress.slice(12) !== lastProgress) {
      console.log(progress);
      lastProgress = progress.slice(12);
    }
    if (info?.status && ['Succeeded', 'Failed', 'Stopped'].includes(info.status)) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  return { deploymentId, info, started };
}

/** samples/hello-app with site/version.txt set to `version`, uploaded as hello-app-<version>.tgz. */
async function uploadVersion(s3: S3Client, root: string, version: string): Promise<DemoRevision> {
  const dir = join(root, `hello-app-${version}`);
  await copyDir(join(projectRoot(), 'samples', 'hello-app'), dir, { recursive: true });
  await writeFile(join(dir, 'site', 'version.txt'), `${version}\n`);
  const file = join(root, `hello-app-${version}.tgz`);
  await tar.c({ gzip: true, file, cwd: dir, portable: true }, ['.']);
  const key = `hello-app-${version}.tgz`;
  const put = await s3.send(new PutObjectCommand({ Bucket: 'demo-revisions', Key: key, Body: await readFile(file) }));
  console.log(`Uploaded s3://demo-revisions/${key} (version ${put.VersionId})`);
  return { bucket: 'demo-revisions', key, version: put.VersionId, eTag: put.ETag };
}

function elapsed(started: number): string {
  return `${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s`;
}

function describeConfig(name: string, mhh: { type?: string; value?: number } | undefined, n: number): string {
  if (!mhh) return name;
  const m =
    mhh.type === 'MOST_CONCURRENCY' ? n - 1 : mhh.type === 'FLEET_PERCENT' ? Math.ceil((n * (mhh.value ?? 0)) / 100) : (mhh.value ?? 0);
  const w = Math.max(1, n - m);
  return `${name}: up to ${w} of ${n} host(s) at a time, at least ${Math.max(m, 1)} must succeed`;
}

process.exitCode = await main(process.argv.slice(2)).catch((err: unknown) => {
  console.error(`demo failed: ${err instanceof Error ? err.stack : String(err)}`);
  return 1;
});
