/**
 * The re-evaluation every engine transaction ends with (and the periodic tick runs over all active
 * deployments): host commands past their timeout fail, a Created deployment starts, hosts waiting
 * in BlockTraffic or AllowTraffic move on when the load balancers say so, and an InProgress
 * deployment starts more hosts within its batching window, succeeds or fails (health-plan.ts).
 */
import type { EngineContext } from './engine-context.js';
import type { DeploymentRow } from './engine-store.js';
import { decide, healthPlan } from './health-plan.js';
import { commandFinished, pollTraffic, startHost } from './host-progress.js';
import { evaluateBlueGreen } from './blue-green.js';
import { trafficTargetGroups } from '../model.js';
import { reportToRegistry, emitDeploymentStatus } from './deployment-records.js';
import { finishDeployment, HEALTH_CONSTRAINTS, NO_INSTANCES, wantsRollback } from './deployment-outcome.js';

/** One deployment's next step from its targets' counts. */
export function evaluateDeployment(ctx: EngineContext, row: DeploymentRow): void {
  const info = row.info;
  if (info.status === 'Created') {
    info.status = 'InProgress';
    info.startTime = ctx.now / 1000;
    ctx.store.saveDeployment(info);
    emitDeploymentStatus(ctx, info);
    reportToRegistry(ctx, row);
  }
  if (info.status !== 'InProgress' && info.status !== 'Ready') return;
  if (trafficTargetGroups(info).length > 0)
    for (const t of ctx.store.targetsWithStatus(info.deploymentId, 'InProgress', -1)) pollTraffic(ctx, info, t);
  if (info.deploymentStyle.deploymentType === 'BLUE_GREEN') return evaluateBlueGreen(ctx, row);
  const counts = ctx.store.targetCounts(info.deploymentId);
  const total = Object.values(counts).reduce((a, b) => a + (b ?? 0), 0);
  if (total === 0) return finishDeployment(ctx, row, 'Failed', NO_INSTANCES, wantsRollback(ctx, row, 'failure'));
  const plan = healthPlan(total, row.mhh);
  if ('invalid' in plan)
    return finishDeployment(
      ctx,
      row,
      'Failed',
      { code: 'HEALTH_CONSTRAINTS_INVALID', message: plan.invalid },
      wantsRollback(ctx, row, 'failure'),
    );
  const decision = decide(plan, {
    pending: counts.Pending ?? 0,
    inProgress: counts.InProgress ?? 0,
    succeeded: counts.Succeeded ?? 0,
    failed: (counts.Failed ?? 0) + (counts.Skipped ?? 0),
  });
  if (decision.kind === 'succeeded') return finishDeployment(ctx, row, 'Succeeded');
  if (decision.kind === 'failed') return finishDeployment(ctx, row, 'Failed', HEALTH_CONSTRAINTS, wantsRollback(ctx, row, 'failure'));
  if (decision.start > 0)
    for (const t of ctx.store.targetsWithStatus(info.deploymentId, 'Pending', decision.start)) startHost(ctx, info, t);
}

/** Host commands not completed within the timeout of becoming ready fail, as the agent's own failure would. */
export function expireCommands(ctx: EngineContext): void {
  for (const cmd of ctx.store.commandsReadyBefore(ctx.now - ctx.commandTimeoutMs)) {
    const row = ctx.store.getDeployment(cmd.deploymentId);
    if (!row) continue;
    cmd.status = 'TimedOut';
    cmd.completedAt = ctx.now;
    ctx.store.saveCommand(cmd);
    const message = `The command timed out after ${Math.round(ctx.commandTimeoutMs / 1000)} seconds without a completion from the agent (host ${cmd.instanceName})`;
    ctx.log.warn({ deploymentId: cmd.deploymentId, instanceName: cmd.instanceName, command: cmd.commandName }, message);
    commandFinished(ctx, row.info, cmd, false, { errorCode: 'UnknownError', scriptName: '', message, logTail: '' });
  }
}

/**
 * Re-evaluates active deployments: all of them (the periodic tick, and after a restart), or only
 * those this transaction touched (a target changed status, or it was just created), which is
 * all that can have changed after an agent call. Evaluating can create a deployment (a
 * rollback), so it repeats until nothing new is active.
 */
export function reevaluate(ctx: EngineContext, scope: 'all' | 'changed' = 'changed'): void {
  expireCommands(ctx);
  const seen = new Set<string>();
  for (;;) {
    const touched = new Set<string>();
    if (scope === 'changed') {
      for (const e of ctx.effects.events) if (e.type !== 'lifecycle-event') touched.add(e.deploymentId);
      for (const id of ctx.effects.touched ?? []) touched.add(id);
    }
    const due = ctx.store
      .activeIds()
      .filter(
        (a) => !seen.has(`${a.deploymentId}:${a.status}`) && (scope === 'all' || a.status === 'Created' || touched.has(a.deploymentId)),
      );
    if (due.length === 0) return;
    for (const a of due) {
      seen.add(`${a.deploymentId}:${a.status}`);
      const row = ctx.store.getDeployment(a.deploymentId);
      if (row) evaluateDeployment(ctx, row);
    }
  }
}
