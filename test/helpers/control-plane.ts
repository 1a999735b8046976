/**
 * Test helper: the local control plane in-process (port 0, temp data dir), SDK clients pointed at
 * it, the fleet-app revision uploaded to its S3 endpoint, and real agent processes registered as
 * on-premises instances (scripts/lib/local-fleet.ts, the same code the demo uses).
 */
import { cp as copyDir, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  CodeDeployClient,
  CreateApplicationCommand,
  CreateDeploymentGroupCommand,
  type AutoRollbackConfiguration,
} from '@aws-sdk/client-codedeploy';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import * as tar from 'tar';
import { startControlPlane, type ControlPlane, type ControlPlaneOptions } from '../../control-plane/server.js';
import { createFleetAgent, type FleetAgent } from '../../scripts/lib/local-fleet.js';
import { silentLogger, suiteTempDir } from './temp.js';

export const FLEET_APP = join(import.meta.dirname, '..', 'fixtures', 'bundles', 'fleet-app');
export const LOCAL_CREDENTIALS = { accessKeyId: 'AKIDLOCALTEST', secretAccessKey: 'local-test-secret' };

export async function startTestControlPlane(opts: Partial<ControlPlaneOptions> = {}): Promise<ControlPlane> {
  return startControlPlane({
    dataDir: opts.dataDir ?? join(await suiteTempDir('cda-cp-'), 'data'),
    logger: opts.logger ?? silentLogger(),
    commandTimeoutSeconds: 60,
    longPollSeconds: 5,
    tickMs: 200,
    ...opts,
  });
}

export function clients(cp: { url: string }): { deploy: CodeDeployClient; s3: S3Client } {
  const common = { endpoint: cp.url, region: 'us-east-1', credentials: LOCAL_CREDENTIALS, maxAttempts: 1 };
  return { deploy: new CodeDeployClient(common), s3: new S3Client({ ...common, forcePathStyle: true }) };
}

export interface UploadedRevision {
  bucket: string;
  key: string;
  version?: string;
  eTag?: string;
}

/**
 * Tar+gzip the fleet app (optionally with app/fail-on listing hosts whose ValidateService fails,
 * and a version marker) and put it into the bucket (created if needed).
 */
export async function uploadFleetApp(
  s3: S3Client,
  opts: { bucket?: string; key?: string; failOn?: string[]; version?: string } = {},
): Promise<UploadedRevision> {
  const bucket = opts.bucket ?? 'revisions';
  const key = opts.key ?? 'fleet-app.tgz';
  const staging = await suiteTempDir('cda-fleet-app-');
  await copyDir(FLEET_APP, staging, { recursive: true });
  if (opts.failOn) await writeFile(join(staging, 'app', 'fail-on'), opts.failOn.map((h) => `${h}\n`).join(''));
  if (opts.version) await writeFile(join(staging, 'app', 'version.txt'), `${opts.version}\n`);
  const file = join(await suiteTempDir('cda-fleet-tgz-'), 'bundle.tgz');
  await tar.c({ gzip: true, file, cwd: staging, portable: true }, ['.']);
  await s3.send(new CreateBucketCommand({ Bucket: bucket })).catch((err: { name?: string }) => {
    if (err.name !== 'BucketAlreadyOwnedByYou') throw err;
  });
  const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: await readFile(file) }));
  return { bucket, key, version: put.VersionId, eTag: put.ETag };
}

export function s3Revision(r: UploadedRevision) {
  return {
    revisionType: 'S3' as const,
    s3Location: { bucket: r.bucket, key: r.key, bundleType: 'tgz' as const, version: r.version, eTag: r.eTag },
  };
}

export async function createAppAndGroup(
  deploy: CodeDeployClient,
  opts: { application?: string; group?: string; config?: string; autoRollback?: AutoRollbackConfiguration; tag?: string } = {},
): Promise<{ application: string; group: string; deploymentGroupId: string }> {
  const application = opts.application ?? 'FleetApp';
  const group = opts.group ?? 'fleet';
  await deploy.send(new CreateApplicationCommand({ applicationName: application })).catch((err: { name?: string }) => {
    if (err.name !== 'ApplicationAlreadyExistsException') throw err;
  });
  const out = await deploy.send(
    new CreateDeploymentGroupCommand({
      applicationName: application,
      deploymentGroupName: group,
      deploymentConfigName: opts.config ?? 'CodeDeployDefault.OneAtATime',
      serviceRoleArn: 'arn:aws:iam::000000000000:role/CodeDeployTest',
      onPremisesInstanceTagFilters: [{ Key: 'fleet', Value: opts.tag ?? group, Type: 'KEY_AND_VALUE' }],
      autoRollbackConfiguration: opts.autoRollback,
    }),
  );
  return { application, group, deploymentGroupId: out.deploymentGroupId ?? '' };
}

export interface TestFleet {
  agents: FleetAgent[];
  proofFile: string;
  stop(): Promise<void>;
}

/**
 * Start `count` agents host-1..N (registered, tagged fleet=<tag>), sharing one proof file. The
 * client argument is not used any more (add-host registers through its own); callers still pass it.
 */
export async function startFleet(
  cp: ControlPlane,
  _deploy: CodeDeployClient,
  count: number,
  opts: { tag?: string; env?: Record<string, string>; extraConfig?: string[]; names?: string[]; caBundle?: string } = {},
): Promise<TestFleet> {
  const root = await suiteTempDir('cda-fleet-');
  const proofFile = join(root, 'proof.log');
  await mkdir(root, { recursive: true });
  await writeFile(proofFile, '');
  const agents: FleetAgent[] = [];
  for (let i = 1; i <= count; i++) {
    const name = opts.names?.[i - 1] ?? `host-${i}`;
    const agent = await createFleetAgent({
      name,
      controlPlaneUrl: cp.url,
      caCertificatePath: cp.caCertificatePath,
      root,
      extraConfig: [':command_update_interval_seconds: 1', ...(opts.extraConfig ?? [])],
      env: { FLEET_HOST: name, FLEET_PROOF: proofFile, ...(opts.env ?? {}) },
      // Registered and tagged by add-host, as `codedeploy-control-plane add-host` does.
      register: { tags: [{ Key: 'fleet', Value: opts.tag ?? 'fleet' }] },
      caBundle: opts.caBundle,
    });
    agent.start();
    agents.push(agent);
  }
  return { agents, proofFile, stop: async () => void (await Promise.all(agents.map((a) => a.stop()))) };
}

export interface ProofRecord {
  host: string;
  event: string;
  phase: 'start' | 'end';
  ms: number;
  deploymentId: string;
}

export async function readProof(file: string): Promise<ProofRecord[]> {
  const text = await readFile(file, 'utf8');
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [host, event, phase, ms, deploymentId] = line.split(' ');
      return { host: host ?? '', event: event ?? '', phase: phase as 'start' | 'end', ms: Number(ms), deploymentId: deploymentId ?? '' };
    });
}

/** Per host, the [first start, last end] of its hooks in one deployment. */
export function hostWindows(records: ProofRecord[], deploymentId: string): Map<string, { first: number; last: number }> {
  const out = new Map<string, { first: number; last: number }>();
  for (const r of records.filter((x) => x.deploymentId === deploymentId)) {
    const w = out.get(r.host) ?? { first: Infinity, last: -Infinity };
    w.first = Math.min(w.first, r.ms);
    w.last = Math.max(w.last, r.ms);
    out.set(r.host, w);
  }
  return out;
}
