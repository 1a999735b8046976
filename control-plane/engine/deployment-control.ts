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
  if (row.info.status !== 'Created' && row.info.status !== 'InProgress') {
    throw new ApiError('DeploymentAlreadyCompletedException', `The deployment ${deploymentId} has already completed.`);
  }
  finishDeployment(ctx, row, 'Stopped', MANUAL_STOP, wantsRollback(ctx, row, 'stop', autoRollbackEnabled));
  reevaluate(ctx);
  return ctx.store.openCommandsOf(deploymentId).length > 0
    ? { status: 'Pending', statusMessage: 'Stopping Pending. Stopping to schedule commands in the deployment instances' }
    : { status: 'Succeeded', statusMessage: 'Stopping Succeeded. No command was running on the deployment instances' };
}
