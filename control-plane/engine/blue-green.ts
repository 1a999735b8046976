/**
 * Blue/green deployments to existing instances (DISCOVER_EXISTING): the group's instances are the
 * blue (original) fleet, the deployment's targetInstances the green (replacement) one. Steps
 * (DeploymentInfo.blueGreenPhase, engine state only):
 *   install      greens get the revision, ApplicationStop through ValidateService, in batches of
 *                the deployment config (health-plan.ts over the greens), each then held before
 *                BeforeAllowTraffic (host-progress.ts atTrafficGate);
 *   ready        deploymentReadyOption STOP_DEPLOYMENT: the deployment is Ready until
 *                ContinueDeployment (READY_WAIT) or, after waitTimeInMinutes, it stops;
 *   reroute      every held green goes on: BeforeAllowTraffic, AllowTraffic (registered in the
 *                target groups, healthy), AfterAllowTraffic;
 *   block        every blue: BeforeBlockTraffic, BlockTraffic (deregistered, drained), AfterBlockTraffic;
 *   termination  terminationWaitTimeInMinutes (ContinueDeployment TERMINATION_WAIT or
 *                SkipWaitTimeForInstanceTermination ends it early), then the green fleet becomes the
 *                group's (its tag filters) and, with TERMINATE, the blue instances are deregistered;
 *                the deployment Succeeded.
 * A failure fails the deployment; with automatic rollback, traffic moves back to the blue fleet
 * (deployment-outcome.ts rollBackTraffic) and no second deployment is made.
 */
import type { BlueGreenPhase, DeploymentInfo, ErrorInformation } from '../model.js';
import type { EngineContext } from './engine-context.js';
import type { DeploymentRow, TargetRow } from './engine-store.js';
import { decide, healthPlan } from './health-plan.js';
import { atTrafficGate, releaseGreen, startHost } from './host-progress.js';
import { emitDeploymentStatus } from './deployment-records.js';
import { finishDeployment, HEALTH_CONSTRAINTS, wantsRollback } from './deployment-outcome.js';

const READY_TIMEOUT: ErrorInformation = {
  code: 'TIMEOUT',
  message:
    'The deployment was stopped because traffic was not rerouted to the replacement instances within the wait time (deploymentReadyOption STOP_DEPLOYMENT); call ContinueDeployment sooner, or raise waitTimeInMinutes.',
};

const byLabel = (targets: TargetRow[], label: 'Blue' | 'Green') => targets.filter((t) => t.target.instanceLabel === label);

function setPhase(ctx: EngineContext, row: DeploymentRow, step: BlueGreenPhase['step']): void {
  row.info.blueGreenPhase = { step, since: ctx.now };
  ctx.log.info({ deploymentId: row.info.deploymentId, step }, `Blue/green deployment ${row.info.deploymentId}: ${step}`);
}

function setStatus(ctx: EngineContext, info: DeploymentInfo, status: 'InProgress' | 'Ready'): void {
  if (info.status === status) return;
  info.status = status;
  emitDeploymentStatus(ctx, info);
}

/** One re-evaluation of an active blue/green deployment (traffic events were polled already). */
export function evaluateBlueGreen(ctx: EngineContext, row: DeploymentRow): void {
  const info = row.info;
  const phase = info.blueGreenPhase ?? { step: 'install', since: ctx.now };
  const targets = ctx.store.targets(info.deploymentId);
  const greens = byLabel(targets, 'Green');
  const blues = byLabel(targets, 'Blue');
  const failure = () => finishDeployment(ctx, row, 'Failed', HEALTH_CONSTRAINTS, wantsRollback(ctx, row, 'failure'));

  if (phase.step === 'install') {
    const plan = healthPlan(greens.length, row.mhh);
    if ('invalid' in plan) {
      finishDeployment(ctx, row, 'Failed', { code: 'HEALTH_CONSTRAINTS_INVALID', message: plan.invalid }, false);
      return;
    }
    const held = greens.filter(atTrafficGate).length;
    const count = (s: string) => greens.filter((t) => t.target.status === s).length;
    const decision = decide(plan, {
      pending: count('Pending'),
      inProgress: count('InProgress') - held,
      succeeded: held,
      failed: count('Failed') + count('Skipped'),
    });
    if (decision.kind === 'failed') return failure();
    if (decision.kind === 'continue') {
      if (decision.start > 0)
        for (const t of greens.filter((g) => g.target.status === 'Pending').slice(0, decision.start)) startHost(ctx, info, t);
      return;
    }
    const ready = info.blueGreenDeploymentConfiguration?.deploymentReadyOption;
    if (ready?.actionOnTimeout === 'STOP_DEPLOYMENT') {
      setPhase(ctx, row, 'ready');
      setStatus(ctx, info, 'Ready');
      ctx.store.saveDeployment(info);
      return;
    }
    return enterReroute(ctx, row, greens);
  }

  if (phase.step === 'ready') {
    const waitMs = (info.blueGreenDeploymentConfiguration?.deploymentReadyOption.waitTimeInMinutes ?? 0) * 60_000;
    if (ctx.now - phase.since >= waitMs) finishDeployment(ctx, row, 'Stopped', READY_TIMEOUT, false);
    return;
  }

  if (phase.step === 'reroute') {
    if (greens.some((t) => t.target.status === 'InProgress')) return;
    // A green that failed after it was installed failed while traffic moved to it.
    const failedRerouting = greens.some((t) => t.target.status === 'Failed' && eventStatus(t, 'ValidateService') === 'Succeeded');
    if (failedRerouting || !greens.some((t) => t.target.status === 'Succeeded')) return failure();
    setPhase(ctx, row, 'block');
    for (const t of blues) if (t.target.status === 'Pending') startHost(ctx, info, t);
    ctx.store.saveDeployment(info);
    return;
  }

  if (phase.step === 'block') {
    if (blues.some((t) => t.target.status === 'InProgress' || t.target.status === 'Pending')) return;
    if (blues.some((t) => t.target.status === 'Failed')) return failure();
    setPhase(ctx, row, 'termination');
    info.instanceTerminationWaitTimeStarted = true;
    ctx.store.saveDeployment(info);
    return evaluateBlueGreen(ctx, row);
  }

  // termination
  const waitMs =
    (info.blueGreenDeploymentConfiguration?.terminateBlueInstancesOnDeploymentSuccess.terminationWaitTimeInMinutes ?? 0) * 60_000;
  if (ctx.now - phase.since < waitMs) return;
  completeBlueGreen(ctx, row, blues);
}

function eventStatus(t: TargetRow, name: string): string | undefined {
  return t.target.lifecycleEvents.find((e) => e.lifecycleEventName === name)?.status;
}

function enterReroute(ctx: EngineContext, row: DeploymentRow, greens: TargetRow[]): void {
  setPhase(ctx, row, 'reroute');
  setStatus(ctx, row.info, 'InProgress');
  ctx.store.saveDeployment(row.info);
  for (const t of greens) releaseGreen(ctx, row.info, t);
}

/** The green fleet is the group's now; TERMINATE deregisters the blue instances; the deployment Succeeded. */
function completeBlueGreen(ctx: EngineContext, row: DeploymentRow, blues: TargetRow[]): void {
  const info = row.info;
  const terminate = info.blueGreenDeploymentConfiguration?.terminateBlueInstancesOnDeploymentSuccess.action !== 'KEEP_ALIVE';
  ctx.registry.replaceFleet(row.groupId, info.targetInstances?.tagFilters ?? [], terminate ? blues.map((t) => t.instanceName) : []);
  finishDeployment(ctx, row, 'Succeeded');
}

/** ContinueDeployment: READY_WAIT reroutes now; TERMINATION_WAIT ends the wait before the blue fleet goes. */
export function skipWait(ctx: EngineContext, row: DeploymentRow, step: 'reroute' | 'termination'): void {
  if (step === 'reroute') return enterReroute(ctx, row, byLabel(ctx.store.targets(row.info.deploymentId), 'Green'));
  completeBlueGreen(ctx, row, byLabel(ctx.store.targets(row.info.deploymentId), 'Blue'));
}
