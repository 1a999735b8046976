/**
 * The two requests that change a deployment from outside: start one (CreateDeployment, after the
 * service's checks in deployment-input.ts and its one-active-deployment-per-group rule) and stop
 * one (StopDeployment). Both run inside the engine's transaction and end with its re-evaluation.
 */
import { ApiError } from '../api/api-error.js';
import type { DeploymentEngine, NewDeployment } from './engine.js';
import type { EngineContext } from './engine-context.js';
import { resolveDeploymentInput } from './deployment-input.js';
import { insertDeployment } from './deployment-records.js';
import { finishDeployment, MANUAL_STOP, wantsRollback } from './deployment-outcome.js';
import { reevaluate } from './deployment-evaluation.js';
import { skipWait } from './blue-green.js';
import type { DeploymentGroupInfo, TargetInstances } from '../model.js';

/** Creates the deployment (Created, targets resolved) and starts it at once; returns its id. */
export function startDeployment(ctx: EngineContext, input: NewDeployment): string {
  const resolved = resolveDeploymentInput(ctx.registry, input);
  const active = ctx.store.activeInGroup(resolved.group.deploymentGroupId);
  if (active) {
    throw new ApiError(
      'DeploymentLimitExceededException',
      `The deployment group ${resolved.group.deploymentGroupName} has an active deployment ${active}. Wait for it to finish, or stop it with StopDeployment, then try again.`,
    );
  }
  if (resolved.targetInstances) checkGreenFleet(ctx, resolved.group, resolved.targetInstances);
  const info = insertDeployment(ctx, {
    group: resolved.group,
    deploymentConfigName: resolved.config.deploymentConfigName,
    mhh: resolved.config.minimumHealthyHosts,
    revision: resolved.revision,
    creator: input.creator ?? 'user',
    description: input.description,
    ignoreApplicationStopFailures: input.ignoreApplicationStopFailures ?? false,
    fileExistsBehavior: resolved.fileExistsBehavior,
    autoRollbackConfiguration: input.autoRollbackConfiguration,
    updateOutdatedInstancesOnly: input.updateOutdatedInstancesOnly ?? false,
    ...(resolved.targetInstances ? { targetInstances: resolved.targetInstances } : {}),
  });
  ctx.log.info(
    {
      deploymentId: info.deploymentId,
      application: info.applicationName,
      group: info.deploymentGroupName,
      config: info.deploymentConfigName,
    },
    `Deployment ${info.deploymentId} created`,
  );
  reevaluate(ctx);
  return info.deploymentId;
}

/** Stops an active deployment (MANUAL_STOP), rolling back when asked or configured to. */
export function stopDeployment(
  ctx: EngineContext,
  deploymentId: string,
  autoRollbackEnabled?: boolean,
): ReturnType<DeploymentEngine['stopDeployment']> {
  const row = ctx.store.getDeployment(deploymentId);
  if (!row) throw new ApiError('DeploymentDoesNotExistException', `The deployment ${deploymentId} could not be found.`);
  if (row.info.status !== 'Created' && row.info.status !== 'InProgress' && row.info.status !== 'Ready') {
    throw new ApiError('DeploymentAlreadyCompletedException', `The deployment ${deploymentId} has already completed.`);
  }
  finishDeployment(ctx, row, 'Stopped', MANUAL_STOP, wantsRollback(ctx, row, 'stop', autoRollbackEnabled));
  reevaluate(ctx);
  return ctx.store.openCommandsOf(deploymentId).length > 0
    ? { status: 'Pending', statusMessage: 'Stopping Pending. Stopping to schedule commands in the deployment instances' }
    : { status: 'Succeeded', statusMessage: 'Stopping Succeeded. No command was running on the deployment instances' };
}

/** The green fleet must exist and share no instance with the group's own (blue) instances. */
function checkGreenFleet(ctx: EngineContext, group: DeploymentGroupInfo, target: TargetInstances): void {
  const green = ctx.registry.instancesMatching(target.tagFilters);
  if (green.length === 0)
    throw new ApiError(
      'InvalidTargetInstancesException',
      'No registered on-premises instance matches targetInstances.tagFilters: register the green instances and tag them first (AddTagsToOnPremisesInstances).',
    );
  const blue = new Set(ctx.registry.resolveTargets(group).map((i) => i.instanceName));
  const both = green.filter((i) => blue.has(i.instanceName)).map((i) => i.instanceName);
  if (both.length > 0)
    throw new ApiError(
      'InvalidTargetInstancesException',
      `The green instances must not be in deployment group ${group.deploymentGroupName} already: ${both.join(', ')} match${both.length === 1 ? 'es' : ''} both targetInstances.tagFilters and the group's onPremisesInstanceTagFilters.`,
    );
}

/** ContinueDeployment: READY_WAIT moves traffic to the green fleet now; TERMINATION_WAIT ends the wait before the blue fleet goes. */
export function continueDeployment(ctx: EngineContext, deploymentId: string, waitType: 'READY_WAIT' | 'TERMINATION_WAIT'): void {
  const row = ctx.store.getDeployment(deploymentId);
  if (!row) throw new ApiError('DeploymentDoesNotExistException', `The deployment ${deploymentId} could not be found.`);
  const info = row.info;
  if (info.deploymentStyle.deploymentType !== 'BLUE_GREEN')
    throw new ApiError(
      'UnsupportedActionForDeploymentTypeException',
      `The deployment ${deploymentId} is IN_PLACE: ContinueDeployment applies to blue/green deployments only.`,
    );
  if (info.status !== 'InProgress' && info.status !== 'Ready' && info.status !== 'Created')
    throw new ApiError('DeploymentAlreadyCompletedException', `The deployment ${deploymentId} has already completed.`);
  const step = info.blueGreenPhase?.step;
  if (waitType === 'READY_WAIT') {
    if (step !== 'ready')
      throw new ApiError(
        'DeploymentIsNotInReadyStateException',
        `The deployment ${deploymentId} is not in the Ready state (it is ${info.status}${step ? `, ${step}` : ''}); ContinueDeployment READY_WAIT applies once its green instances are installed and it waits for you.`,
      );
    skipWait(ctx, row, 'reroute');
  } else {
    if (step !== 'termination')
      throw new ApiError(
        'DeploymentIsNotInReadyStateException',
        `The deployment ${deploymentId} is not waiting to terminate its original instances (it is ${step ?? info.status}).`,
      );
    skipWait(ctx, row, 'termination');
  }
  reevaluate(ctx);
}
