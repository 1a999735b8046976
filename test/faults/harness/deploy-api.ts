/**
 * The operator's side: the public CodeDeploy API and S3 of the control plane, called directly (not
 * through the fault proxy, whose log is the agent's traffic only). Calls made while the control
 * plane is down fail; waits retry them until their own deadline.
 */
import { readFile } from 'node:fs/promises';
import {
  AddTagsToOnPremisesInstancesCommand,
  BatchGetDeploymentTargetsCommand,
  CodeDeployClient,
  CreateApplicationCommand,
  CreateDeploymentCommand,
  CreateDeploymentGroupCommand,
  GetDeploymentCommand,
  RegisterOnPremisesInstanceCommand,
  type DeploymentInfo,
  type LifecycleEvent,
} from '@aws-sdk/client-codedeploy';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { waitFor } from './wait.js';

export const APPLICATION = 'FaultApp';
export const GROUP = 'faults';
const TAG = { Key: 'suite', Value: 'faults' };
const TERMINAL = new Set(['Succeeded', 'Failed', 'Stopped']);

export type BundleType = 'zip' | 'tar' | 'tgz';

export interface DeployApi {
  /** Application, deployment group (OneAtATime, tag suite=faults) and the bucket. */
  setUp(): Promise<{ deploymentGroupId: string }>;
  register(instanceName: string, iamUserArn: string): Promise<void>;
  upload(key: string, file: string): Promise<{ eTag?: string }>;
  createDeployment(key: string, bundleType: BundleType, eTag?: string): Promise<string>;
  getDeployment(deploymentId: string): Promise<DeploymentInfo>;
  /** Waits for Succeeded/Failed/Stopped, riding out control-plane restarts. */
  waitForEnd(deploymentId: string, timeoutMs: number, describe?: () => Promise<string>): Promise<DeploymentInfo>;
  lifecycleEvents(deploymentId: string, instanceName: string): Promise<LifecycleEvent[]>;
}

export function deployApi(url: () => string): DeployApi {
  const credentials = { accessKeyId: 'AKIDFAULTSUITE', secretAccessKey: 'fault-suite-secret' };
  const common = () => ({ endpoint: url(), region: 'us-east-1', credentials, maxAttempts: 1 });
  const deploy = () => new CodeDeployClient(common());
  const s3 = () => new S3Client({ ...common(), forcePathStyle: true });
  const bucket = 'fault-revisions';

  const api: DeployApi = {
    async setUp() {
      await deploy().send(new CreateApplicationCommand({ applicationName: APPLICATION }));
      const out = await deploy().send(
        new CreateDeploymentGroupCommand({
          applicationName: APPLICATION,
          deploymentGroupName: GROUP,
          deploymentConfigName: 'CodeDeployDefault.OneAtATime',
          serviceRoleArn: 'arn:aws:iam::000000000000:role/CodeDeployFaults',
          onPremisesInstanceTagFilters: [{ ...TAG, Type: 'KEY_AND_VALUE' }],
        }),
      );
      await s3().send(new CreateBucketCommand({ Bucket: bucket }));
      return { deploymentGroupId: out.deploymentGroupId ?? '' };
    },
    async register(instanceName, iamUserArn) {
      await deploy().send(new RegisterOnPremisesInstanceCommand({ instanceName, iamUserArn }));
      await deploy().send(new AddTagsToOnPremisesInstancesCommand({ instanceNames: [instanceName], tags: [TAG] }));
    },
    async upload(key, file) {
      const put = await s3().send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: await readFile(file) }));
      return { eTag: put.ETag };
    },
    async createDeployment(key, bundleType, eTag) {
      const out = await deploy().send(
        new CreateDeploymentCommand({
          applicationName: APPLICATION,
          deploymentGroupName: GROUP,
          revision: { revisionType: 'S3', s3Location: { bucket, key, bundleType, ...(eTag ? { eTag } : {}) } },
        }),
      );
      if (!out.deploymentId) throw new Error('CreateDeployment returned no deploymentId');
      return out.deploymentId;
    },
    async getDeployment(deploymentId) {
      const info = (await deploy().send(new GetDeploymentCommand({ deploymentId }))).deploymentInfo;
      if (!info) throw new Error(`GetDeployment ${deploymentId} returned nothing`);
      return info;
    },
    async waitForEnd(deploymentId, timeoutMs, describe) {
      let last = 'never answered';
      // A failed GetDeployment is not the end of the wait: the control plane may be down a while.
      const ended = async (): Promise<DeploymentInfo | false> => {
        try {
          const info = await api.getDeployment(deploymentId);
          if (TERMINAL.has(info.status ?? '')) return info;
          last = `${info.status ?? '?'} ${JSON.stringify(info.deploymentOverview ?? {})}`;
        } catch (err) {
          last = `GetDeployment failed: ${(err as Error).message}`;
        }
        return false;
      };
      // `ended` never throws, so the only failure is the timeout; it says what the deployment last was.
      return waitFor(`deployment ${deploymentId} to end`, ended, { timeoutMs, intervalMs: 250 }).catch(async (err: unknown) => {
        throw new Error(
          `deployment ${deploymentId} did not end within ${Math.round(timeoutMs / 1000)} s (last: ${last})${describe ? `\n${await describe()}` : ''}`,
          { cause: err },
        );
      });
    },
    async lifecycleEvents(deploymentId, instanceName) {
      const out = await deploy().send(new BatchGetDeploymentTargetsCommand({ deploymentId, targetIds: [instanceName] }));
      return out.deploymentTargets?.[0]?.instanceTarget?.lifecycleEvents ?? [];
    },
  };
  return api;
}
