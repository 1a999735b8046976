/**
 * The registry: applications, deployment groups, deployment configs, on-premises instances and
 * registered revisions (tables and public API operations in control-plane/registry/). The
 * deployment engine reads it through this interface and reports outcomes back into it.
 */
import type {
  ApplicationInfo,
  DeploymentConfigInfo,
  DeploymentGroupInfo,
  InstanceInfo,
  LastDeploymentInfo,
  RevisionLocation,
} from '../model.js';

export interface Registry {
  getApplication(applicationName: string): ApplicationInfo | undefined;
  getDeploymentGroup(applicationName: string, deploymentGroupName: string): DeploymentGroupInfo | undefined;
  getDeploymentGroupById(deploymentGroupId: string): DeploymentGroupInfo | undefined;
  /** Built-in (CodeDeployDefault.*) and custom configs. */
  getDeploymentConfig(deploymentConfigName: string): DeploymentConfigInfo | undefined;
  /**
   * The group's targets now: registered (not deregistered) on-premises instances matching the
   * group's onPremisesInstanceTagFilters (a filter list is OR: an instance matches when any filter
   * matches; KEY_ONLY, VALUE_ONLY, KEY_AND_VALUE as in the API), sorted by instanceName.
   */
  resolveTargets(group: DeploymentGroupInfo): InstanceInfo[];
  /** The instance an agent is, from the HostIdentifier it polls with (its iamUserArn or iamSessionArn). */
  instanceByHostIdentifier(hostIdentifier: string): InstanceInfo | undefined;
  getInstance(instanceName: string): InstanceInfo | undefined;
  /** The engine records every deployment start and end on its group (lastAttempted/lastSuccessful). */
  recordDeployment(deploymentGroupId: string, info: LastDeploymentInfo, revision: RevisionLocation): void;
}
