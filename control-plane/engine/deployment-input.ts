/**
 * CreateDeployment's checks, in the real service's order and with its error codes: application,
 * group, config, revision, file-exists behavior. Revision checks are stricter than the public API
 * where the agent would only fail later (bundle type, "owner/repo"), because a local deployment
 * that cannot work should be refused with the field named, not fail on every host.
 */
import { ApiError } from '../api/api-error.js';
import { quoted } from '../log/clip.js';
import type { ApplicationInfo, DeploymentConfigInfo, DeploymentGroupInfo, FileExistsBehavior, RevisionLocation } from '../model.js';
import type { Registry } from '../registry/registry.js';
import { APPLICATION, checkName, CONFIG, GROUP } from '../registry/registry-input.js';
import { checkGitHubLocation, checkS3Location } from '../registry/revision-fields.js';
import type { NewDeployment } from './engine.js';

export interface ResolvedDeploymentInput {
  application: ApplicationInfo;
  group: DeploymentGroupInfo;
  config: DeploymentConfigInfo;
  revision: RevisionLocation;
  fileExistsBehavior: FileExistsBehavior;
}

const FILE_EXISTS = ['DISALLOW', 'OVERWRITE', 'RETAIN'];
const BUNDLE_TYPES = ['tar', 'tgz', 'zip'];

export function resolveDeploymentInput(registry: Registry, input: NewDeployment): ResolvedDeploymentInput {
  if (!input.applicationName) throw new ApiError('ApplicationNameRequiredException', 'The application name must be specified (applicationName).');
  checkName(input.applicationName, 'applicationName', APPLICATION);
  const application = registry.getApplication(input.applicationName);
  if (!application) throw new ApiError('ApplicationDoesNotExistException', `No application found for name: ${input.applicationName}`);
  if (!input.deploymentGroupName) throw new ApiError('DeploymentGroupNameRequiredException', 'The deployment group name must be specified (deploymentGroupName).');
  checkName(input.deploymentGroupName, 'deploymentGroupName', GROUP);
  const group = registry.getDeploymentGroup(input.applicationName, input.deploymentGroupName);
  if (!group) {
    throw new ApiError('DeploymentGroupDoesNotExistException', `No Deployment Group found for name: ${input.deploymentGroupName} (application ${input.applicationName}); create it with CreateDeploymentGroup first.`);
  }
  if (input.deploymentConfigName) checkName(input.deploymentConfigName, 'deploymentConfigName', CONFIG);
  const configName = input.deploymentConfigName || group.deploymentConfigName;
  const config = registry.getDeploymentConfig(configName);
  if (!config) throw new ApiError('DeploymentConfigDoesNotExistException', `No deployment configuration found for name: ${configName}`);

  const revision = input.revision ?? group.targetRevision;
  if (!revision) {
    throw new ApiError('RevisionRequiredException', `A revision must be specified: pass revision, or set a target revision on deployment group ${group.deploymentGroupName}.`);
  }
  checkRevision(revision);

  const feb = input.fileExistsBehavior ?? 'DISALLOW';
  if (!FILE_EXISTS.includes(feb)) {
    throw new ApiError('InvalidFileExistsBehaviorException', `fileExistsBehavior ${JSON.stringify(feb)} is not valid: use DISALLOW, OVERWRITE or RETAIN.`);
  }
  return { application, group, config, revision: normalizeRevision(revision), fileExistsBehavior: feb };
}

function invalid(message: string): ApiError {
  return new ApiError('InvalidRevisionException', message);
}

function checkRevision(r: RevisionLocation): void {
  if (typeof r !== 'object' || r === null) throw invalid('revision must be a structure with revisionType and s3Location or gitHubLocation.');
  const type = r.revisionType ?? (r.s3Location ? 'S3' : r.gitHubLocation ? 'GitHub' : undefined);
  if (type === 'S3') {
    const s3 = r.s3Location;
    if (!s3 || typeof s3 !== 'object') throw invalid('revision.s3Location is required for an S3 revision.');
    checkS3Location(s3, 'revision.s3Location');
    if (typeof s3.bundleType !== 'string' || !BUNDLE_TYPES.includes(s3.bundleType)) {
      throw invalid(`revision.s3Location.bundleType ${quoted(s3.bundleType ?? null)} is not valid: use tar, tgz or zip (the local control plane deploys archives only).`);
    }
    return;
  }
  if (type === 'GitHub') {
    const gh = r.gitHubLocation;
    if (!gh || typeof gh !== 'object') throw invalid('revision.gitHubLocation is required for a GitHub revision.');
    checkGitHubLocation(gh, 'revision.gitHubLocation');
    return;
  }
  if (type === undefined) throw invalid('revision.revisionType is required: use S3 or GitHub.');
  throw invalid(`revision.revisionType ${quoted(type)} is not supported by the local control plane: use S3 or GitHub.`);
}

/** Only the members the engine uses, with revisionType made explicit. */
function normalizeRevision(r: RevisionLocation): RevisionLocation {
  if (r.s3Location && (r.revisionType ?? 'S3') === 'S3') {
    const { bucket, key, bundleType, version, eTag } = r.s3Location;
    return { revisionType: 'S3', s3Location: { bucket, key, bundleType, ...(version !== undefined ? { version } : {}), ...(eTag !== undefined ? { eTag } : {}) } };
  }
  const { repository, commitId } = r.gitHubLocation ?? {};
  return { revisionType: 'GitHub', gitHubLocation: { repository, commitId } };
}
