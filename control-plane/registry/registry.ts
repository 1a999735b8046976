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
  TagFilter,
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
  /** Registered instances matching any of the filters (a blue/green deployment's targetInstances), sorted by name. */
  instancesMatching(filters: readonly TagFilter[]): InstanceInfo[];
  /**
   * A blue/green deployment succeeded: the green fleet becomes the group's (its on-premises tag
   * filters become `filters`) and the blue instances listed in `terminate` are deregistered (the
   * local stand-in for terminating them).
   */
  replaceFleet(deploymentGroupId: string, filters: readonly TagFilter[], terminate: readonly string[]): void;
  /** The instance an agent is, from the HostIdentifier it polls with (its iamUserArn or iamSessionArn). */
  instanceByHostIdentifier(hostIdentifier: string): InstanceInfo | undefined;
  getInstance(instanceName: string): InstanceInfo | undefined;
  /** The engine records every deployment start and end on its group (lastAttempted/lastSuccessful). */
  recordDeployment(deploymentGroupId: string, info: LastDeploymentInfo, revision: RevisionLocation): void;
}
