/**
 * CreateDeployment's checks, in the real service's order and with its error codes: application,
 * group, config, revision, file-exists behavior. They run in the engine (not only in the API
 * layer) because the engine is also called directly (rollbacks aside: the demo, tests), and
 * because the service reports a missing application before a malformed revision. Members are read
 * with the shared readers (api/input-readers.ts, registry/revision-fields.ts); the revision is held
 * to the stricter `deployable` rule (an archive bundle type), because a local deployment that
 * cannot work should be refused with the field named, not fail on every host.
 */
import { ApiError } from '../api/api-error.js';
import { APPLICATION, checkName, CONFIG, GROUP, nameMember, oneOf, type Input } from '../api/input-readers.js';
import type {
  ApplicationInfo,
  DeploymentConfigInfo,
  DeploymentGroupInfo,
  FileExistsBehavior,
  RevisionLocation,
  TargetInstances,
} from '../model.js';
import { tagFilterList } from '../registry/registry-input.js';
import type { Registry } from '../registry/registry.js';
import { revisionLocation } from '../registry/revision-fields.js';
import type { NewDeployment } from './engine.js';

export interface ResolvedDeploymentInput {
  application: ApplicationInfo;
  group: DeploymentGroupInfo;
  config: DeploymentConfigInfo;
  revision: RevisionLocation;
  fileExistsBehavior: FileExistsBehavior;
  /** Blue/green groups only: the green fleet's tag filters. */
  targetInstances?: TargetInstances;
}

const FILE_EXISTS: readonly FileExistsBehavior[] = ['DISALLOW', 'OVERWRITE', 'RETAIN'];

export function resolveDeploymentInput(registry: Registry, input: NewDeployment): ResolvedDeploymentInput {
  // The typed request is read like a wire one, so a caller outside the API gets the same checks.
  const members = input as unknown as Input;
  const applicationName = nameMember(members, 'applicationName', APPLICATION);
  const application = registry.getApplication(applicationName);
  if (!application) throw new ApiError('ApplicationDoesNotExistException', `No application found for name: ${applicationName}`);
  const deploymentGroupName = nameMember(members, 'deploymentGroupName', GROUP);
  const group = registry.getDeploymentGroup(applicationName, deploymentGroupName);
  if (!group) {
    throw new ApiError(
      'DeploymentGroupDoesNotExistException',
      `No Deployment Group found for name: ${deploymentGroupName} (application ${applicationName}); create it with CreateDeploymentGroup first.`,
    );
  }
  if (input.deploymentConfigName) checkName(input.deploymentConfigName, 'deploymentConfigName', CONFIG);
  const configName = input.deploymentConfigName || group.deploymentConfigName;
  const config = registry.getDeploymentConfig(configName);
  if (!config) throw new ApiError('DeploymentConfigDoesNotExistException', `No deployment configuration found for name: ${configName}`);

  const given = input.revision ?? group.targetRevision;
  if (!given) {
    throw new ApiError(
      'RevisionRequiredException',
      `A revision must be specified: pass revision, or set a target revision on deployment group ${group.deploymentGroupName}.`,
    );
  }
  const revision = revisionLocation(given, 'revision', { deployable: true });
  const fileExistsBehavior = oneOf(input.fileExistsBehavior ?? 'DISALLOW', FILE_EXISTS, {
    code: 'InvalidFileExistsBehaviorException',
    member: 'fileExistsBehavior',
    required: true,
  });
  const targetInstances = greenFleet(members, group);
  return { application, group, config, revision, fileExistsBehavior, ...(targetInstances ? { targetInstances } : {}) };
}

/** targetInstances: required (tag filters) for a blue/green group, refused for an in-place one. */
function greenFleet(members: Input, group: DeploymentGroupInfo): TargetInstances | undefined {
  const given = members.targetInstances;
  const blueGreen = group.deploymentStyle.deploymentType === 'BLUE_GREEN';
  if (given === undefined || given === null) {
    if (!blueGreen) return undefined;
    throw new ApiError(
      'InvalidTargetInstancesException',
      `Deployment group ${group.deploymentGroupName} is BLUE_GREEN: pass targetInstances.tagFilters naming the green (replacement) instances by their on-premises instance tags.`,
    );
  }
  if (typeof given !== 'object' || Array.isArray(given))
    throw new ApiError('InvalidTargetInstancesException', 'targetInstances must be a structure with tagFilters.');
  const target = given as Input;
  if (!blueGreen)
    throw new ApiError(
      'InvalidTargetInstancesException',
      `targetInstances is only for blue/green deployment groups; ${group.deploymentGroupName} is IN_PLACE.`,
    );
  if (target.autoScalingGroups !== undefined || target.ec2TagSet !== undefined)
    throw new ApiError(
      'InvalidTargetInstancesException',
      'targetInstances.autoScalingGroups and ec2TagSet are not supported here: use targetInstances.tagFilters (matched against on-premises instance tags).',
    );
  const tagFilters = tagFilterList(target, 'tagFilters', 'InvalidTargetInstancesException') ?? [];
  if (tagFilters.length === 0)
    throw new ApiError(
      'InvalidTargetInstancesException',
      'targetInstances.tagFilters must name the green instances with at least one tag filter.',
    );
  return { tagFilters };
}
