/**
 * CreateDeployment pins an S3 revision given without version/eTag to the object's current version
 * and ETag, so a key overwritten before the host downloads still deploys what was asked for, and
 * hooks see BUNDLE_VERSION/BUNDLE_ETAG. Then `--s3-endpoint`: an external S3-compatible store
 * (s3rver here) that agents download from and CreateDeployment looks revisions up in.
 */
import { createRequire } from 'node:module';
import { readFile, writeFile } from 'node:fs/promises';
import {
  CodeDeployClient,
  CreateDeploymentCommand,
  GetDeploymentCommand,
  GetDeploymentGroupCommand,
  type DeploymentInfo,
} from '@aws-sdk/client-codedeploy';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostLayout } from '../../control-plane/hosts/agent-files.js';
import type { ControlPlane } from '../../control-plane/server.js';
import { createFleetAgent, type FleetAgent } from '../../scripts/lib/local-fleet.js';
import { clients, createAppAndGroup, startTestControlPlane } from '../helpers/control-plane.js';
import { envDumpBundle, readHookEnv } from '../helpers/env-dump-bundle.js';
import { S3RVER_CREDENTIALS } from '../helpers/s3-server.js';
import { suiteTempDir } from '../helpers/temp.js';
import { waitFor } from '../helpers/wait-for.js';

const unquote = (etag: string | undefined) => (etag ?? '').replace(/"/g, '');

async function waitForEnd(deploy: CodeDeployClient, deploymentId: string, agent: FleetAgent): Promise<DeploymentInfo> {
  return waitFor(
    `deployment ${deploymentId} to end`,
    async () => {
      const d = (await deploy.send(new GetDeploymentCommand({ deploymentId }))).deploymentInfo!;
      return ['Succeeded', 'Failed', 'Stopped'].includes(d.status ?? '') && d;
    },
    { timeoutMs: 60_000, intervalMs: 200, details: () => agent.stderr().slice(-3000) },
  );
}

/** A registered agent (tag fleet=<tag>) that is not started yet. */
async function idleAgent(cp: ControlPlane, name: string, tag: string, envDir: string): Promise<FleetAgent> {
  return createFleetAgent({
    name,
    controlPlaneUrl: cp.url,
    caCertificatePath: cp.caCertificatePath,
    root: await suiteTempDir('cda-pin-fleet-'),
    extraConfig: [':command_update_interval_seconds: 1'],
    env: { ENV_DUMP_DIR: envDir },
    register: { tags: [{ Key: 'fleet', Value: tag }] },
  });
}

describe('pinning S3 revisions at CreateDeployment (built-in S3)', () => {
  let cp: ControlPlane;
  let sdk: ReturnType<typeof clients>;
  let agent: FleetAgent | undefined;

  beforeAll(async () => {
    cp = await startTestControlPlane();
    sdk = clients(cp);
  }, 60_000);

  afterAll(async () => {
    await agent?.stop();
    await cp?.close();
  });

  it('deploys the version that was current at CreateDeployment even if the key is overwritten before the download', async () => {
    const envDir = await suiteTempDir('cda-pin-env-');
    await sdk.s3.send(new CreateBucketCommand({ Bucket: 'pins' }));
    const first = await sdk.s3.send(new PutObjectCommand({ Bucket: 'pins', Key: 'app.tgz', Body: await envDumpBundle('first') }));
    expect(first.VersionId).toBeTruthy();
    const { application, group } = await createAppAndGroup(sdk.deploy, { application: 'PinApp', group: 'pins', tag: 'pins' });
    agent = await idleAgent(cp, 'pin-host', 'pins', envDir);

    const { deploymentId } = await sdk.deploy.send(
      new CreateDeploymentCommand({
        applicationName: application,
        deploymentGroupName: group,
        revision: { revisionType: 'S3', s3Location: { bucket: 'pins', key: 'app.tgz', bundleType: 'tgz' } },
      }),
    );
    const created = (await sdk.deploy.send(new GetDeploymentCommand({ deploymentId }))).deploymentInfo!;
    expect(created.revision?.s3Location).toEqual({
      bucket: 'pins',
      key: 'app.tgz',
      bundleType: 'tgz',
      version: first.VersionId,
      eTag: unquote(first.ETag),
    });

    // Overwritten before any host has downloaded it.
    const second = await sdk.s3.send(new PutObjectCommand({ Bucket: 'pins', Key: 'app.tgz', Body: await envDumpBundle('second') }));
    expect(second.VersionId).not.toBe(first.VersionId);
    agent.start();
    const info = await waitForEnd(sdk.deploy, deploymentId!, agent);
    expect(info.status, JSON.stringify(info.errorInformation)).toBe('Succeeded');

    const env = await readHookEnv(envDir, deploymentId!);
    expect(env.BUNDLE_CONTENT).toBe('first');
    expect(env.BUNDLE_VERSION).toBe(first.VersionId);
    expect(env.BUNDLE_ETAG).toBe(unquote(first.ETag));

    // The group's target revision keeps the pin (a deployment without a revision redeploys it).
    const dg = (await sdk.deploy.send(new GetDeploymentGroupCommand({ applicationName: application, deploymentGroupName: group })))
      .deploymentGroupInfo!;
    expect(dg.targetRevision?.s3Location).toMatchObject({ version: first.VersionId, eTag: unquote(first.ETag) });
    const again = await sdk.deploy.send(new CreateDeploymentCommand({ applicationName: application, deploymentGroupName: group }));
    const redeploy = await waitForEnd(sdk.deploy, again.deploymentId!, agent);
    expect(redeploy.revision?.s3Location).toMatchObject({ version: first.VersionId, eTag: unquote(first.ETag) });
    expect(redeploy.status).toBe('Succeeded');
    expect((await readHookEnv(envDir, again.deploymentId!)).BUNDLE_CONTENT).toBe('first');
  }, 120_000);

  it('creates a deployment of a missing object unpinned, as the service does, and its host fails DownloadBundle naming it', async () => {
    const created = await sdk.deploy.send(
      new CreateDeploymentCommand({
        applicationName: 'PinApp',
        deploymentGroupName: 'pins',
        revision: { revisionType: 'S3', s3Location: { bucket: 'pins', key: 'missing.tgz', bundleType: 'tgz' } },
      }),
    );
    const info = await waitForEnd(sdk.deploy, created.deploymentId!, agent!);
    expect(info.revision?.s3Location).toEqual({ bucket: 'pins', key: 'missing.tgz', bundleType: 'tgz' });
    expect(info.status).toBe('Failed');
    // Errors the engine reports first keep their order: an unknown group wins over a missing object.
    await expect(
      sdk.deploy.send(
        new CreateDeploymentCommand({
          applicationName: 'PinApp',
          deploymentGroupName: 'nope',
          revision: { revisionType: 'S3', s3Location: { bucket: 'pins', key: 'missing.tgz', bundleType: 'tgz' } },
        }),
      ),
    ).rejects.toMatchObject({ name: 'DeploymentGroupDoesNotExistException' });
  });
});

interface S3rverInstance {
  run(): Promise<{ port: number }>;
  close(): Promise<void>;
}

describe('an external S3-compatible store (--s3-endpoint)', () => {
  let s3rver: S3rverInstance;
  let endpoint: string;
  let external: S3Client;
  let cp: ControlPlane;
  let sdk: ReturnType<typeof clients>;
  let agent: FleetAgent | undefined;

  beforeAll(async () => {
    const S3rver = createRequire(import.meta.url)('s3rver') as new (o: object) => S3rverInstance;
    s3rver = new S3rver({
      port: 0,
      address: '127.0.0.1',
      directory: await suiteTempDir('cda-s3rver-'),
      silent: true,
      configureBuckets: [{ name: 'external', configs: [] }],
    });
    endpoint = `http://127.0.0.1:${(await s3rver.run()).port}`;
    external = new S3Client({ region: 'us-east-1', endpoint, forcePathStyle: true, credentials: { ...S3RVER_CREDENTIALS } });
    cp = await startTestControlPlane({ s3Endpoint: endpoint, s3Credentials: { ...S3RVER_CREDENTIALS } });
    sdk = clients(cp);
  }, 60_000);

  afterAll(async () => {
    await agent?.stop();
    await cp?.close();
    external?.destroy();
    await s3rver?.close();
  });

  it('tells agents and add-host where revisions are', async () => {
    expect(cp.s3EndpointForAgents).toBe(endpoint);
    const info = (await (await fetch(`${cp.url}/_control-plane/info`)).json()) as { s3Endpoint?: string };
    expect(info.s3Endpoint).toBe(endpoint);
  });

  it('pins the revision with the external object and the agent downloads it from there', async () => {
    const envDir = await suiteTempDir('cda-ext-env-');
    const put = await external.send(
      new PutObjectCommand({ Bucket: 'external', Key: 'apps/app.tgz', Body: await envDumpBundle('external') }),
    );
    const { application, group } = await createAppAndGroup(sdk.deploy, { application: 'ExtApp', group: 'ext', tag: 'ext' });
    agent = await idleAgent(cp, 'ext-host', 'ext', envDir);
    expect(await readFile(agent.configFile, 'utf8')).toContain(`:s3_endpoint_override: ${endpoint}`);
    // The host reaches the external store with that store's credentials (s3rver knows only its own key).
    const identity = hostLayout(agent.root).onPremisesFile;
    const text = await readFile(identity, 'utf8');
    await writeFile(
      identity,
      text
        .replace(/^aws_access_key_id: .*$/m, `aws_access_key_id: ${S3RVER_CREDENTIALS.accessKeyId}`)
        .replace(/^aws_secret_access_key: .*$/m, `aws_secret_access_key: ${S3RVER_CREDENTIALS.secretAccessKey}`),
    );
    agent.start();

    const { deploymentId } = await sdk.deploy.send(
      new CreateDeploymentCommand({
        applicationName: application,
        deploymentGroupName: group,
        revision: { revisionType: 'S3', s3Location: { bucket: 'external', key: 'apps/app.tgz', bundleType: 'tgz' } },
      }),
    );
    const info = await waitForEnd(sdk.deploy, deploymentId!, agent);
    expect(info.status, JSON.stringify(info.errorInformation)).toBe('Succeeded');
    // s3rver does not version: the ETag alone pins it.
    expect(info.revision?.s3Location).toEqual({ bucket: 'external', key: 'apps/app.tgz', bundleType: 'tgz', eTag: unquote(put.ETag) });
    const env = await readHookEnv(envDir, deploymentId!);
    expect(env.BUNDLE_CONTENT).toBe('external');
    expect(env.BUNDLE_ETAG).toBe(unquote(put.ETag));
    expect(env.BUNDLE_VERSION ?? '').toBe('');
  }, 90_000);

  it('creates a deployment of an object missing from the external store unpinned, and keeps the built-in S3 endpoint', async () => {
    const created = await sdk.deploy.send(
      new CreateDeploymentCommand({
        applicationName: 'ExtApp',
        deploymentGroupName: 'ext',
        revision: { revisionType: 'S3', s3Location: { bucket: 'external', key: 'apps/nothing.tgz', bundleType: 'tgz' } },
      }),
    );
    const got = (await sdk.deploy.send(new GetDeploymentCommand({ deploymentId: created.deploymentId! }))).deploymentInfo!;
    expect(got.revision?.s3Location).toEqual({ bucket: 'external', key: 'apps/nothing.tgz', bundleType: 'tgz' });
    await sdk.s3.send(new CreateBucketCommand({ Bucket: 'still-local' }));
    const local = await sdk.s3.send(new PutObjectCommand({ Bucket: 'still-local', Key: 'x', Body: 'x' }));
    expect(local.ETag).toBeTruthy();
  });
});
