/**
 * What every group of registry operations shares: the store, who the control plane pretends to be
 * (for ARNs), the clock (epoch seconds; injectable so tests are exact) and the lookups that raise
 * the real "does not exist" errors, so each operation file reads as its checks in order.
 */
import type { Logger } from 'pino';
import { ApiError } from '../api/api-error.js';
import type { ApplicationInfo, ControlPlaneIdentity, DeploymentGroupInfo, EpochSeconds, TagFilter } from '../model.js';
import type { Db } from '../store/database.js';
import type { RegistryStore } from './registry-store.js';
import type { TriggerTopics } from './trigger-configurations.js';

export interface RegistryContext {
  db: Db;
  store: RegistryStore;
  identity: ControlPlaneIdentity;
  logger: Logger;
  now(): EpochSeconds;
  requireApplication(applicationName: string): ApplicationInfo;
  requireGroup(applicationName: string, deploymentGroupName: string): DeploymentGroupInfo;
  /** Whether the local load balancers have a target group of this name. */
  hasTargetGroup(name: string): boolean;
  /** The local SNS's topics, for triggerConfigurations (undefined: no SNS, so no topic exists). */
  triggerTopics?: TriggerTopics;
  /** Logs once per registry that EC2 tag filters are kept but select no instance here. */
  noteEc2TagFilters(filters: readonly TagFilter[] | undefined): void;
}

export function createRegistryContext(opts: {
  db: Db;
  store: RegistryStore;
  identity: ControlPlaneIdentity;
  logger: Logger;
  clock?: () => number;
  hasTargetGroup?: (name: string) => boolean;
  triggerTopics?: TriggerTopics;
}): RegistryContext {
  const clock = opts.clock ?? Date.now;
  let warnedEc2 = false;
  const ctx: RegistryContext = {
    db: opts.db,
    store: opts.store,
    identity: opts.identity,
    logger: opts.logger,
    now: () => clock() / 1000,
    hasTargetGroup: (name) => opts.hasTargetGroup?.(name) ?? false,
    ...(opts.triggerTopics ? { triggerTopics: opts.triggerTopics } : {}),
    requireApplication(applicationName) {
      const app = opts.store.getApplication(applicationName);
      if (!app) throw new ApiError('ApplicationDoesNotExistException', `No application found for name: ${applicationName}`);
      return app;
    },
    requireGroup(applicationName, deploymentGroupName) {
      ctx.requireApplication(applicationName);
      const group = opts.store.getGroup(applicationName, deploymentGroupName);
      if (!group) {
        throw new ApiError(
          'DeploymentGroupDoesNotExistException',
          `No Deployment Group found for name: ${deploymentGroupName} (application ${applicationName}); ListDeploymentGroups lists the application's groups.`,
        );
      }
      return group;
    },
    noteEc2TagFilters(filters) {
      if (warnedEc2 || !filters || filters.length === 0) return;
      warnedEc2 = true;
      opts.logger.warn(
        'ec2TagFilters are stored and returned but select no instances here: the local control plane deploys to registered on-premises instances only (use onPremisesInstanceTagFilters)',
      );
    },
  };
  return ctx;
}
