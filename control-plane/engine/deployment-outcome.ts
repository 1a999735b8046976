/**
 * How a deployment ends: Succeeded, Failed or Stopped, with the service's error information; the
 * hosts still waiting are skipped and running commands cancelled; and, when the deployment's (or
 * its group's) autoRollbackConfiguration asks for it, a rollback deployment of the last revision
 * that succeeded. All of it runs inside the engine's transaction (engine-context.ts).
 */
import type { ErrorInformation } from '../model.js';
import { trafficTargetGroups } from '../model.js';
import { beginTrafficStep } from './traffic-steps.js';
import type { EngineContext } from './engine-context.js';
import type { DeploymentRow } from './engine-store.js';
import { emitDeploymentStatus, insertDeployment, reportToRegistry } from './deployment-records.js';
import { abandonTraffic, cancelPendingCommand, skipHost } from './host-progress.js';

export const NO_INSTANCES: ErrorInformation = {
  code: 'NO_INSTANCES',
  message:
    'The deployment failed because no instances were found for your deployment group. Check your deployment group settings to make sure the tags for your Amazon EC2 instances or Auto Scaling groups correctly identify the instances you want to deploy to, and then try again.',
};
export const HEALTH_CONSTRAINTS: ErrorInformation = {
  code: 'HEALTH_CONSTRAINTS',
  message:
    'The overall deployment failed because too many individual instances failed deployment, too few healthy instances are available for deployment, or some instances in your deployment group are experiencing problems.',
};
export const MANUAL_STOP: ErrorInformation = { code: 'MANUAL_STOP', message: 'The deployment was stopped by the user.' };
export const NO_ROLLBACK_MESSAGE = 'Automatic rollback not performed because no previous successful deployment was found.';
const NO_GROUP_MESSAGE = 'Automatic rollback not performed because the deployment group no longer exists.';

export type FinalStatus = 'Succeeded' | 'Failed' | 'Stopped';

/** The deployment ends: pending hosts are skipped, running commands cancelled, the outcome recorded, maybe a rollback. */
export function finishDeployment(
  ctx: EngineContext,
  row: DeploymentRow,
  status: FinalStatus,
  error?: ErrorInformation,
  rollback = false,
): void {
  const info = row.info;
  info.status = status;
  info.completeTime = ctx.now / 1000;
  if (error) info.errorInformation = error;
  ctx.store.saveDeployment(info);
  emitDeploymentStatus(ctx, info);
  if (status !== 'Succeeded') {
    for (const t of ctx.store.targetsWithStatus(info.deploymentId, 'Pending', -1)) skipHost(ctx, t);
    for (const t of ctx.store.targetsWithStatus(info.deploymentId, 'InProgress', -1))
      abandonTraffic(ctx, t, `the deployment ${status === 'Stopped' ? 'was stopped' : 'failed'}`);
    for (const cmd of ctx.store.openCommandsOf(info.deploymentId)) {
      if (cmd.status === 'Pending') cancelPendingCommand(ctx, cmd);
      else {
        // In flight: the agent finishes it, and its acks and updates answer Failed from now on.
        cmd.cancelled = true;
        ctx.store.saveCommand(cmd);
      }
    }
  }
  reportToRegistry(ctx, row);
  ctx.log.info({ deploymentId: info.deploymentId, status, errorInformation: error }, `Deployment ${info.deploymentId} ${status}`);
  if (rollback && info.deploymentStyle.deploymentType === 'BLUE_GREEN') rollBackTraffic(ctx, row);
  else if (rollback) rollBack(ctx, row);
}

/**
 * Whether a deployment that ends this way rolls back: never a rollback itself; on a stop, what the
 * StopDeployment call said when it said anything; otherwise the deployment's own configuration,
 * else its group's, must be enabled and list the event.
 */
export function wantsRollback(
  ctx: Pick<EngineContext, 'registry'>,
  row: DeploymentRow,
  cause: 'failure' | 'stop',
  requested?: boolean,
): boolean {
  if (row.info.creator === 'codeDeployRollback') return false;
  if (cause === 'stop' && requested !== undefined) return requested;
  const config = row.info.autoRollbackConfiguration ?? ctx.registry.getDeploymentGroupById(row.groupId)?.autoRollbackConfiguration;
  const event = cause === 'failure' ? 'DEPLOYMENT_FAILURE' : 'DEPLOYMENT_STOP_ON_REQUEST';
  return config?.enabled === true && (config.events ?? []).includes(event);
}

/** A new deployment of the group's last successful revision, linked both ways through rollbackInfo. */
export function rollBack(ctx: EngineContext, row: DeploymentRow): void {
  const info = row.info;
  const previous = ctx.store.lastSucceeded(row.groupId, info.deploymentId);
  const group = ctx.registry.getDeploymentGroupById(row.groupId);
  if (!previous || !group) {
    info.rollbackInfo = { ...info.rollbackInfo, rollbackMessage: previous ? NO_GROUP_MESSAGE : NO_ROLLBACK_MESSAGE };
    ctx.store.saveDeployment(info);
    ctx.log.info({ deploymentId: info.deploymentId }, info.rollbackInfo.rollbackMessage);
    return;
  }
  const rollback = insertDeployment(ctx, {
    group,
    deploymentConfigName: info.deploymentConfigName,
    mhh: row.mhh,
    revision: previous.info.revision,
    creator: 'codeDeployRollback',
    ignoreApplicationStopFailures: info.ignoreApplicationStopFailures,
    fileExistsBehavior: info.fileExistsBehavior,
    updateOutdatedInstancesOnly: false,
    rollbackInfo: { rollbackTriggeringDeploymentId: info.deploymentId },
  });
  info.rollbackInfo = { ...info.rollbackInfo, rollbackDeploymentId: rollback.deploymentId };
  ctx.store.saveDeployment(info);
  ctx.log.info(
    { deploymentId: info.deploymentId, rollbackDeploymentId: rollback.deploymentId },
    `Rolling back ${info.deploymentId} with ${rollback.deploymentId} (revision of ${previous.deploymentId})`,
  );
}

/**
 * A failed blue/green deployment rolls back by moving traffic back: blues registered again and
 * greens deregistered in every target group (the load balancers drain the greens). Nothing to
 * move when traffic never left the blue fleet.
 */
export function rollBackTraffic(ctx: EngineContext, row: DeploymentRow): void {
  const info = row.info;
  const groups = trafficTargetGroups(info);
  const targets = ctx.store.targets(info.deploymentId);
  const allow = (t: (typeof targets)[number]) => t.target.lifecycleEvents.find((e) => e.lifecycleEventName === 'AllowTraffic')?.status;
  const moved = targets.some((t) => t.target.instanceLabel === 'Green' && allow(t) !== 'Pending' && allow(t) !== 'Skipped');
  if (!moved) {
    info.rollbackInfo = {
      ...info.rollbackInfo,
      rollbackMessage: 'Traffic never moved to the replacement instances; the original instances still serve it.',
    };
  } else {
    for (const t of targets.filter((t) => t.target.instanceLabel === 'Blue'))
      beginTrafficStep(ctx.traffic, 'AllowTraffic', groups, t.instanceName);
    for (const t of targets.filter((t) => t.target.instanceLabel === 'Green'))
      beginTrafficStep(ctx.traffic, 'BlockTraffic', groups, t.instanceName);
    info.rollbackInfo = {
      ...info.rollbackInfo,
      rollbackMessage: `Traffic was moved back to the original instances (${
        targets
          .filter((t) => t.target.instanceLabel === 'Blue')
          .map((t) => t.instanceName)
          .join(', ') || 'none'
      }) and away from the replacement instances.`,
    };
  }
  ctx.store.saveDeployment(info);
  ctx.log.info({ deploymentId: info.deploymentId }, info.rollbackInfo.rollbackMessage);
}
