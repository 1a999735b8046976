/**
 * The deployment specification JSON an agent receives (docs/reference.md section 3.3), built from a
 * stored deployment. DeploymentId is the ARN form, as the service sends it; agents keep the part
 * after "deployment/".
 */
import type { ControlPlaneIdentity, DeploymentInfo } from '../model.js';
import { deploymentArn } from './identifiers.js';

export function specDocument(identity: ControlPlaneIdentity, info: DeploymentInfo, deploymentGroupId: string): Record<string, unknown> {
  return {
    DeploymentId: deploymentArn(identity, info.deploymentId),
    DeploymentGroupId: deploymentGroupId,
    DeploymentGroupName: info.deploymentGroupName,
    ApplicationName: info.applicationName,
    DeploymentCreator: info.creator,
    DeploymentType: 'IN_PLACE',
    AgentActionOverrides: { AgentOverrides: { FileExistsBehavior: info.fileExistsBehavior } },
    Revision: specRevision(info),
  };
}

function specRevision(info: DeploymentInfo): Record<string, unknown> {
  const r = info.revision;
  if (r.revisionType === 'GitHub' && r.gitHubLocation) {
    const [account, repository] = (r.gitHubLocation.repository ?? '').split('/', 2);
    return {
      RevisionType: 'GitHub',
      GitHubRevision: { Account: account, Repository: repository, CommitId: r.gitHubLocation.commitId, BundleType: 'tar' },
    };
  }
  const s3 = r.s3Location ?? {};
  const s3Revision: Record<string, unknown> = { Bucket: s3.bucket, Key: s3.key, BundleType: s3.bundleType };
  if (s3.version !== undefined) s3Revision.Version = s3.version;
  if (s3.eTag !== undefined) s3Revision.ETag = s3.eTag;
  return { RevisionType: 'S3', S3Revision: s3Revision };
}
