/**
 * The registry over SQLite: `createRegistry` makes the tables (registry-store.ts) and returns the
 * `Registry` the deployment engine reads and reports into, and the `RegistryContext` over the same
 * state from which the composition root (server.ts) builds the public API's registry operations
 * (api/registry-operations.ts). Reads are plain lookups; the one write, recordDeployment, is a
 * transaction (nested inside the engine's own when it has one).
 *
 * recordDeployment keeps a group's lastAttemptedDeployment on the most recently created deployment
 * (a late report for an older deployment does not replace a newer one), sets the group's
 * targetRevision with it, and registers the deployed revision for the application as the real
 * service does, noting the group and the first/last time it was used.
 */
import type { Logger } from 'pino';
import type { ControlPlaneIdentity, DeploymentGroupInfo, InstanceInfo, LastDeploymentInfo, RevisionLocation, TagFilter } from '../model.js';
import type { Db } from '../store/database.js';
import { createRegistryContext, type RegistryContext } from './registry-context.js';
import { tagsMatch } from './registry-input.js';
import { revisionKey, revisionLocation } from './revision-fields.js';
import { createRegistryStore, type RevisionRecord } from './registry-store.js';
import type { Registry } from './registry.js';
import type { TriggerTopics } from './trigger-configurations.js';

export interface RegistryOptions {
  db: Db;
  identity: ControlPlaneIdentity;
  logger: Logger;
  /** Milliseconds since the epoch; default Date.now. */
  clock?: () => number;
  /** Whether the local load balancers have a target group of this name (loadBalancerInfo); default: none exist. */
  hasTargetGroup?: (name: string) => boolean;
  /** The local SNS's topics, for deployment groups' triggerConfigurations; default: none exist. */
  triggerTopics?: TriggerTopics;
}

export function createRegistry(opts: RegistryOptions): { registry: Registry; context: RegistryContext } {
  const store = createRegistryStore(opts.db);
  const ctx = createRegistryContext({ ...opts, store });

  const newer = (info: LastDeploymentInfo, current: LastDeploymentInfo | undefined): boolean =>
    current === undefined || current.deploymentId === info.deploymentId || info.createTime >= current.createTime;

  const noteRevisionUse = (group: DeploymentGroupInfo, revision: RevisionLocation): void => {
    let location: RevisionLocation;
    try {
      location = revisionLocation(revision);
    } catch {
      return; // not a kind of revision the registry keeps (the engine has refused it already)
    }
    const key = revisionKey(location);
    if (key === undefined) return;
    const now = ctx.now();
    const existing: RevisionRecord = store.getRevision(group.applicationName, key) ?? {
      revision: location,
      revisionInfo: { deploymentGroups: [], registerTime: now },
    };
    const info = existing.revisionInfo;
    store.putRevision(group.applicationName, key, {
      revision: existing.revision,
      revisionInfo: {
        ...info,
        deploymentGroups: info.deploymentGroups.includes(group.deploymentGroupName)
          ? info.deploymentGroups
          : [...info.deploymentGroups, group.deploymentGroupName],
        firstUsedTime: info.firstUsedTime ?? now,
        lastUsedTime: now,
      },
    });
  };

  const recordDeployment = opts.db.transaction((deploymentGroupId: string, info: LastDeploymentInfo, revision: RevisionLocation) => {
    const group = store.getGroupById(deploymentGroupId);
    if (!group) {
      opts.logger.debug(
        { deploymentGroupId, deploymentId: info.deploymentId },
        'deployment recorded for a deployment group that no longer exists',
      );
      return;
    }
    let updated = group;
    if (newer(info, group.lastAttemptedDeployment)) updated = { ...updated, lastAttemptedDeployment: info, targetRevision: revision };
    if (info.status === 'Succeeded' && newer(info, group.lastSuccessfulDeployment))
      updated = { ...updated, lastSuccessfulDeployment: info };
    store.putGroup(updated);
    noteRevisionUse(group, revision);
  });

  const replaceFleet = opts.db.transaction((deploymentGroupId: string, filters: readonly TagFilter[], terminate: readonly string[]) => {
    const group = store.getGroupById(deploymentGroupId);
    if (group) store.putGroup({ ...group, onPremisesInstanceTagFilters: [...filters] });
    const now = ctx.now();
    for (const name of terminate) {
      const instance = store.getInstance(name);
      if (instance && instance.deregisterTime === undefined) store.putInstance({ ...instance, deregisterTime: now });
    }
  });

  const registry: Registry = {
    getApplication: (name) => store.getApplication(name),
    getDeploymentGroup: (app, name) => store.getGroup(app, name),
    getDeploymentGroupById: (id) => store.getGroupById(id),
    getDeploymentConfig: (name) => store.getConfig(name),
    resolveTargets: (group) => registry.instancesMatching(group.onPremisesInstanceTagFilters),
    instancesMatching(filters): InstanceInfo[] {
      if (filters.length === 0) return [];
      return store.instances().filter((i) => i.deregisterTime === undefined && tagsMatch(i.tags, filters));
    },
    replaceFleet: (id, filters, terminate) => replaceFleet(id, filters, terminate),
    instanceByHostIdentifier: (hostIdentifier) => (hostIdentifier ? store.registeredInstanceByArn(hostIdentifier) : undefined),
    getInstance: (name) => store.getInstance(name),
    recordDeployment: (id, info, revision) => recordDeployment(id, info, revision),
  };
  return { registry, context: ctx };
}
