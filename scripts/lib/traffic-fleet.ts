/**
 * A load-balanced fleet on a local control plane, for the traffic test and `npm run bench`
 * (suite traffic): real agents each running the sample's web app (samples/hello-app, its
 * hello-app.env giving the port), registered and tagged with their `local:traffic-address`, a
 * deployment group over them with or without traffic control behind a load balancer created
 * through the ELBv2 API, and revisions of the sample with a version of choice (optionally with a
 * ValidateService that fails on one host).
 */
import { cp as copyDir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  AddTagsToOnPremisesInstancesCommand,
  CodeDeployClient,
  CreateApplicationCommand,
  CreateDeploymentCommand,
  CreateDeploymentGroupCommand,
  GetDeploymentCommand,
  type DeploymentInfo,
  type RevisionLocation,
} from '@aws-sdk/client-codedeploy';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import * as tar from 'tar';
import { createDemoLoadBalancer, prepareHostWebApp, stopHostWebApp, TRAFFIC_ADDRESS_TAG, type DemoLoadBalancer } from './demo-traffic.js';
import { createFleetAgent, projectRoot, type FleetAgent } from './local-fleet.js';

export const TRAFFIC_CREDENTIALS = { accessKeyId: 'AKIDLOCALTRAFFIC', secretAccessKey: 'local-traffic-secret' };
const TERMINAL = ['Succeeded', 'Failed', 'Stopped'];

export interface TrafficFleetOptions {
  controlPlane: { url: string; caCertificatePath: string };
  /** Temp directory for agents and bundles. */
  root: string;
  hosts: string[];
  /** Deployment group name; the application is WebApp. */
  group: string;
  /** WITH_TRAFFIC_CONTROL behind a new load balancer (true), or in place without one. */
  traffic: boolean;
  config?: string;
  /** Health check interval and timeout of the target group (the control plane must allow them). */
  healthCheck?: { intervalSeconds: number; timeoutSeconds: number };
  autoRollback?: boolean;
}

export interface TrafficFleet {
  agents: FleetAgent[];
  /** The load balancer (traffic: true). */
  lb?: DemoLoadBalancer;
  deploy: CodeDeployClient;
  /** samples/hello-app with site/version.txt = version, uploaded; `failValidateOn` makes ValidateService fail on that host. */
  upload(version: string, opts?: { failValidateOn?: string }): Promise<RevisionLocation>;
  /** Creates a deployment of the revision to the group and waits until it ends. */
  deployAndWait(revision: RevisionLocation, timeoutMs?: number): Promise<DeploymentInfo>;
  waitForEnd(deploymentId: string, timeoutMs?: number): Promise<DeploymentInfo>;
  stop(): Promise<void>;
}

export async function startTrafficFleet(o: TrafficFleetOptions): Promise<TrafficFleet> {
  const common = { endpoint: o.controlPlane.url, region: 'us-east-1', credentials: TRAFFIC_CREDENTIALS, maxAttempts: 1 };
  const deploy = new CodeDeployClient(common);
  const s3 = new S3Client({ ...common, forcePathStyle: true });
  const bucket = `revisions-${o.group.toLowerCase()}`;
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  await deploy.send(new CreateApplicationCommand({ applicationName: 'WebApp' })).catch((err: { name?: string }) => {
    if (err.name !== 'ApplicationAlreadyExistsException') throw err;
  });
  const lb = o.traffic
    ? await createDemoLoadBalancer(o.controlPlane.url, 'us-east-1', TRAFFIC_CREDENTIALS, o.healthCheck ?? {}, o.group)
    : undefined;
  await deploy.send(
    new CreateDeploymentGroupCommand({
      applicationName: 'WebApp',
      deploymentGroupName: o.group,
      deploymentConfigName: o.config ?? 'CodeDeployDefault.OneAtATime',
      serviceRoleArn: 'arn:aws:iam::000000000000:role/CodeDeployTraffic',
      onPremisesInstanceTagFilters: [{ Key: 'fleet', Value: o.group, Type: 'KEY_AND_VALUE' }],
      ...(lb
        ? {
            deploymentStyle: { deploymentType: 'IN_PLACE', deploymentOption: 'WITH_TRAFFIC_CONTROL' },
            loadBalancerInfo: { targetGroupInfoList: [{ name: lb.targetGroupName }] },
          }
        : {}),
      ...(o.autoRollback ? { autoRollbackConfiguration: { enabled: true, events: ['DEPLOYMENT_FAILURE'] } } : {}),
    }),
  );
  const agents: FleetAgent[] = [];
  for (const name of o.hosts) agents.push(await startHost(o, deploy, name, [{ Key: 'fleet', Value: o.group }]));

  return {
    agents,
    lb,
    deploy,
    upload: (version, opts) => uploadSample(s3, bucket, join(o.root, `app-${o.group}-${version}`), version, opts),
    async deployAndWait(revision, timeoutMs) {
      const { deploymentId } = await deploy.send(
        new CreateDeploymentCommand({ applicationName: 'WebApp', deploymentGroupName: o.group, revision }),
      );
      return waitForEnd(deploy, deploymentId as string, timeoutMs);
    },
    waitForEnd: (id, timeoutMs) => waitForEnd(deploy, id, timeoutMs),
    async stop() {
      await Promise.all(agents.map((a) => a.stop()));
      await Promise.all(agents.map((a) => stopHostWebApp(a.workDir)));
      deploy.destroy();
      s3.destroy();
    },
  };
}

/** samples/hello-app with site/version.txt = version (and a ValidateService failing on one host), tarred in `dir` and uploaded. */
async function uploadSample(
  s3: S3Client,
  bucket: string,
  dir: string,
  version: string,
  opts: { failValidateOn?: string } = {},
): Promise<RevisionLocation> {
  await copyDir(join(projectRoot(), 'samples', 'hello-app'), dir, { recursive: true });
  await writeFile(join(dir, 'site', 'version.txt'), `${version}\n`);
  if (opts.failValidateOn) {
    const script = join(dir, 'scripts', 'validate.sh');
    const broken = `if grep -q '^LABEL=${opts.failValidateOn}$' hello-app.env; then echo "${version} is broken here" >&2; exit 1; fi\n`;
    await writeFile(script, (await readFile(script, 'utf8')).replace('set -e\n', `set -e\n${broken}`));
  }
  const file = `${dir}.tgz`;
  await tar.c({ gzip: true, file, cwd: dir, portable: true }, ['.']);
  const key = `app-${version}.tgz`;
  const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: await readFile(file) }));
  return { revisionType: 'S3', s3Location: { bucket, key, bundleType: 'tgz', version: put.VersionId, eTag: put.ETag } };
}

/** An agent running the sample's web app, registered and tagged (plus its local:traffic-address). */
async function startHost(
  o: { controlPlane: { url: string; caCertificatePath: string }; root: string },
  deploy: CodeDeployClient,
  name: string,
  tags: { Key: string; Value: string }[],
): Promise<FleetAgent> {
  // Registered, tagged and configured by add-host; the address tag follows once the app has a port.
  const agent = await createFleetAgent({
    name,
    controlPlaneUrl: o.controlPlane.url,
    caCertificatePath: o.controlPlane.caCertificatePath,
    root: o.root,
    register: { tags },
  });
  const address = await prepareHostWebApp(agent.workDir, name);
  await deploy.send(
    new AddTagsToOnPremisesInstancesCommand({ instanceNames: [name], tags: [{ Key: TRAFFIC_ADDRESS_TAG, Value: address }] }),
  );
  agent.start();
  return agent;
}

async function waitForEnd(deploy: CodeDeployClient, deploymentId: string, timeoutMs = 150_000): Promise<DeploymentInfo> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const info = (await deploy.send(new GetDeploymentCommand({ deploymentId }))).deploymentInfo as DeploymentInfo;
    if (TERMINAL.includes(info.status ?? '')) return info;
    if (Date.now() > until) throw new Error(`deployment ${deploymentId} still ${info.status} after ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

export interface BlueGreenFleetOptions {
  controlPlane: { url: string; caCertificatePath: string };
  root: string;
  /** Instance names tagged color=blue (the group's) and color=green (the deployment's targetInstances). */
  blue: string[];
  green: string[];
  healthCheck?: { intervalSeconds: number; timeoutSeconds: number };
  blueGreen?: {
    terminateBlueInstancesOnDeploymentSuccess?: { action?: 'TERMINATE' | 'KEEP_ALIVE'; terminationWaitTimeInMinutes?: number };
    deploymentReadyOption?: { actionOnTimeout?: 'CONTINUE_DEPLOYMENT' | 'STOP_DEPLOYMENT'; waitTimeInMinutes?: number };
  };
  autoRollback?: boolean;
}

export interface BlueGreenFleet {
  agents: FleetAgent[];
  lb: DemoLoadBalancer;
  deploy: CodeDeployClient;
  upload(version: string, opts?: { failValidateOn?: string }): Promise<RevisionLocation>;
  /** In place to the blue fleet (group "blue", WITH_TRAFFIC_CONTROL): how the blue fleet gets its first version and its traffic. */
  deployToBlue(revision: RevisionLocation): Promise<DeploymentInfo>;
  /** Blue/green (group "bluegreen": the blue instances, targetInstances color=green); returns the id at once. */
  startBlueGreen(revision: RevisionLocation): Promise<string>;
  waitForEnd(deploymentId: string, timeoutMs?: number): Promise<DeploymentInfo>;
  stop(): Promise<void>;
}

/**
 * Blue and green hosts behind one load balancer: group "blue" (in place, traffic control) puts the
 * first version on the blue hosts and into the target group; group "bluegreen" (BLUE_GREEN over the
 * same blue hosts) deploys to the green hosts and moves the traffic.
 */
export async function startBlueGreenFleet(o: BlueGreenFleetOptions): Promise<BlueGreenFleet> {
  const common = { endpoint: o.controlPlane.url, region: 'us-east-1', credentials: TRAFFIC_CREDENTIALS, maxAttempts: 1 };
  const deploy = new CodeDeployClient(common);
  const s3 = new S3Client({ ...common, forcePathStyle: true });
  const bucket = 'revisions-bluegreen';
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  await deploy.send(new CreateApplicationCommand({ applicationName: 'WebApp' })).catch((err: { name?: string }) => {
    if (err.name !== 'ApplicationAlreadyExistsException') throw err;
  });
  const lb = await createDemoLoadBalancer(o.controlPlane.url, 'us-east-1', TRAFFIC_CREDENTIALS, o.healthCheck ?? {}, 'bluegreen-web');
  const blueFilter = [{ Key: 'color', Value: 'blue', Type: 'KEY_AND_VALUE' as const }];
  const group = {
    applicationName: 'WebApp',
    serviceRoleArn: 'arn:aws:iam::000000000000:role/CodeDeployTraffic',
    onPremisesInstanceTagFilters: blueFilter,
    loadBalancerInfo: { targetGroupInfoList: [{ name: lb.targetGroupName }] },
    ...(o.autoRollback ? { autoRollbackConfiguration: { enabled: true, events: ['DEPLOYMENT_FAILURE' as const] } } : {}),
  };
  await deploy.send(
    new CreateDeploymentGroupCommand({
      ...group,
      deploymentGroupName: 'blue',
      deploymentConfigName: 'CodeDeployDefault.AllAtOnce',
      deploymentStyle: { deploymentType: 'IN_PLACE', deploymentOption: 'WITH_TRAFFIC_CONTROL' },
    }),
  );
  await deploy.send(
    new CreateDeploymentGroupCommand({
      ...group,
      deploymentGroupName: 'bluegreen',
      deploymentConfigName: 'CodeDeployDefault.OneAtATime',
      deploymentStyle: { deploymentType: 'BLUE_GREEN', deploymentOption: 'WITH_TRAFFIC_CONTROL' },
      blueGreenDeploymentConfiguration: { ...o.blueGreen, greenFleetProvisioningOption: { action: 'DISCOVER_EXISTING' } },
    }),
  );
  const agents: FleetAgent[] = [];
  for (const name of o.blue) agents.push(await startHost(o, deploy, name, [{ Key: 'color', Value: 'blue' }]));
  for (const name of o.green) agents.push(await startHost(o, deploy, name, [{ Key: 'color', Value: 'green' }]));
  const create = async (deploymentGroupName: string, revision: RevisionLocation, extra = {}) =>
    (await deploy.send(new CreateDeploymentCommand({ applicationName: 'WebApp', deploymentGroupName, revision, ...extra })))
      .deploymentId as string;
  return {
    agents,
    lb,
    deploy,
    upload: (version, opts) => uploadSample(s3, bucket, join(o.root, `app-bluegreen-${version}`), version, opts),
    deployToBlue: async (revision) => waitForEnd(deploy, await create('blue', revision)),
    startBlueGreen: (revision) =>
      create('bluegreen', revision, { targetInstances: { tagFilters: [{ Key: 'color', Value: 'green', Type: 'KEY_AND_VALUE' }] } }),
    waitForEnd: (id, timeoutMs) => waitForEnd(deploy, id, timeoutMs),
    async stop() {
      await Promise.all(agents.map((a) => a.stop()));
      await Promise.all(agents.map((a) => stopHostWebApp(a.workDir)));
      deploy.destroy();
      s3.destroy();
    },
  };
}
