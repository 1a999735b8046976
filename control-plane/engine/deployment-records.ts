/**
 * Creating a deployment record (shared by CreateDeployment and automatic rollbacks), reporting its
 * status (to listeners and to the registry's group), and reading one back with its live
 * deploymentOverview (counted from the targets, never stored stale). Targets are resolved once,
 * at creation, as the service does.
 */
import type {
  AutoRollbackConfiguration,
  DeploymentGroupInfo,
  DeploymentInfo,
  FileExistsBehavior,
  InstanceInfo,
  MinimumHealthyHosts,
  RevisionLocation,
  RollbackInfo,
  TargetInstances,
} from '../model.js';
import { BLUE_LIFECYCLE, GREEN_LIFECYCLE } from '../model.js';
import type { EngineContext } from './engine-context.js';
import type { DeploymentRow, EngineStore } from './engine-store.js';
import { lifecycleOf, newTarget, type HostContext } from './host-progress.js';
import { newDeploymentId } from './identifiers.js';

export interface DeploymentRecordInput {
  group: DeploymentGroupInfo;
  deploymentConfigName: string;
  mhh: MinimumHealthyHosts;
  revision: RevisionLocation;
  creator: DeploymentInfo['creator'];
  description?: string;
  ignoreApplicationStopFailures: boolean;
  fileExistsBehavior: FileExistsBehavior;
  autoRollbackConfiguration?: AutoRollbackConfiguration;
  updateOutdatedInstancesOnly: boolean;
  rollbackInfo?: RollbackInfo;
  /** Blue/green: the green fleet (the group's own instances are the blue one). */
  targetInstances?: TargetInstances;
}

/** A deployment-status event for the listeners (published after the commit). */
export function emitDeploymentStatus(ctx: HostContext, info: DeploymentInfo): void {
  ctx.effects.events.push({
    type: 'deployment-status',
    deploymentId: info.deploymentId,
    status: info.status,
    ...(info.errorInformation ? { errorInformation: info.errorInformation } : {}),
  });
}

/** The group's lastAttempted/lastSuccessful deployment follows every status change. */
export function reportToRegistry(ctx: EngineContext, row: DeploymentRow): void {
  const i = row.info;
  ctx.registry.recordDeployment(
    row.groupId,
    {
      deploymentId: i.deploymentId,
      status: i.status,
      createTime: i.createTime,
      ...(i.completeTime !== undefined ? { endTime: i.completeTime } : {}),
    },
    i.revision,
  );
}

export function insertDeployment(ctx: EngineContext, p: DeploymentRecordInput): DeploymentInfo {
  const { registry } = ctx;
  let id = newDeploymentId();
  while (ctx.store.getDeployment(id)) id = newDeploymentId();
  const groupId = p.group.deploymentGroupId;
  const blueGreen = p.group.deploymentStyle.deploymentType === 'BLUE_GREEN' && p.targetInstances !== undefined;
  const previous = ctx.store.lastSucceeded(groupId, '');
  const info: DeploymentInfo = {
    applicationName: p.group.applicationName,
    deploymentGroupName: p.group.deploymentGroupName,
    deploymentConfigName: p.deploymentConfigName,
    deploymentId: id,
    ...(previous ? { previousRevision: previous.info.revision } : {}),
    revision: p.revision,
    status: 'Created',
    createTime: ctx.now / 1000,
    deploymentOverview: { Pending: 0, InProgress: 0, Succeeded: 0, Failed: 0, Skipped: 0, Ready: 0 },
    ...(p.description !== undefined ? { description: p.description } : {}),
    creator: p.creator,
    ignoreApplicationStopFailures: p.ignoreApplicationStopFailures,
    ...(p.autoRollbackConfiguration ? { autoRollbackConfiguration: p.autoRollbackConfiguration } : {}),
    updateOutdatedInstancesOnly: p.updateOutdatedInstancesOnly,
    ...(p.rollbackInfo ? { rollbackInfo: p.rollbackInfo } : {}),
    deploymentStyle: { ...p.group.deploymentStyle },
    ...(p.group.loadBalancerInfo ? { loadBalancerInfo: p.group.loadBalancerInfo } : {}),
    ...(blueGreen
      ? { blueGreenDeploymentConfiguration: p.group.blueGreenDeploymentConfiguration, targetInstances: p.targetInstances }
      : {}),
    ...(blueGreen ? { blueGreenPhase: { step: 'install' as const, since: ctx.now } } : {}),
    instanceTerminationWaitTimeStarted: false,
    fileExistsBehavior: p.fileExistsBehavior,
    computePlatform: 'Server',
  };
  ctx.store.insertDeployment(info, groupId, p.mhh);
  // The registry returns them sorted by name already; hosts start in this order, so make sure.
  const byName = (list: InstanceInfo[]) =>
    [...list].sort((a, b) => (a.instanceName < b.instanceName ? -1 : a.instanceName > b.instanceName ? 1 : 0));
  const lifecycle = lifecycleOf(info);
  const planned: { instance: InstanceInfo; lifecycle: readonly string[]; label: 'Blue' | 'Green' }[] = blueGreen
    ? [
        // Greens first: they start in this order; blues only once traffic has moved.
        ...byName(registry.instancesMatching(p.targetInstances?.tagFilters ?? [])).map((instance) => ({
          instance,
          lifecycle: GREEN_LIFECYCLE,
          label: 'Green' as const,
        })),
        ...byName(registry.resolveTargets(p.group)).map((instance) => ({ instance, lifecycle: BLUE_LIFECYCLE, label: 'Blue' as const })),
      ]
    : byName(registry.resolveTargets(p.group)).map((instance) => ({ instance, lifecycle, label: 'Blue' as const }));
  planned.forEach(({ instance, lifecycle: events, label }, position) => {
    ctx.store.insertTarget({
      deploymentId: id,
      instanceName: instance.instanceName,
      position,
      hostIdentifier: instance.iamSessionArn ?? instance.iamUserArn ?? '',
      target: { ...newTarget(id, instance, ctx.now, events), instanceLabel: label },
    });
  });
  registry.recordDeployment(groupId, { deploymentId: id, status: 'Created', createTime: info.createTime }, info.revision);
  emitDeploymentStatus(ctx, info);
  return info;
}

export function withOverview(store: EngineStore, info: DeploymentInfo): DeploymentInfo {
  const c = store.targetCounts(info.deploymentId);
  // The blue/green step is the engine's own state, not an API member.
  const { blueGreenPhase: _phase, ...shown } = info;
  return {
    ...shown,
    deploymentOverview: {
      Pending: c.Pending ?? 0,
      InProgress: c.InProgress ?? 0,
      Succeeded: c.Succeeded ?? 0,
      Failed: c.Failed ?? 0,
      Skipped: c.Skipped ?? 0,
      Ready: c.Ready ?? 0,
    },
  };
}
