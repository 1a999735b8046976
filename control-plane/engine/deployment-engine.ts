/**
 * The deployment engine: CodeDeploy's in-place deployments (EC2/on-premises) over the registry's
 * groups and instances. All state is in SQLite (engine-store.ts) and every change is one
 * synchronous transaction that ends with the same re-evaluation `tick()` runs every second
 * (timeouts, starting hosts within the batching window, success, failure, rollback), so a control
 * plane restarted on the same file simply continues. Listeners and long-poll wake-ups are
 * published after the commit, never for a rolled-back change.
 *
 * The agent-facing side (commands/commands-api.ts) and the public deployment operations
 * (api/deployment-operations.ts) are thin layers over the `EngineCore` returned here.
 */
import type { Logger } from 'pino';
import { ApiError } from '../api/api-error.js';
import type { OperationTable } from '../api/operations.js';
import { createCommandsOperations } from '../commands/commands-api.js';
import { createHostWaiters, type HostWaiters } from '../commands/long-poll.js';
import { createUnknownHostLog, type UnknownHostLog } from '../commands/unknown-hosts.js';
import type { ControlPlaneIdentity, DeploymentInfo, ErrorInformation } from '../model.js';
import type { Registry } from '../registry/registry.js';
import type { SpecSigner } from '../signing/spec-signer.js';
import type { Db } from '../store/database.js';
import { createDeploymentOperations } from '../api/deployment-operations.js';
import type { DeploymentEngine, EngineEvent, NewDeployment } from './engine.js';
import { createEngineStore, type DeploymentRow, type EngineStore } from './engine-store.js';
import { resolveDeploymentInput } from './deployment-input.js';
import { decide, healthPlan } from './health-plan.js';
import { cancelPendingCommand, commandFinished, skipHost, startHost, type Effects, type HostContext } from './host-progress.js';
import { createHostCommandPort, type HostCommandPort } from './host-command-port.js';
import { executionId } from './identifiers.js';
import { insertDeployment, withOverview } from './deployment-records.js';

export interface DeploymentEngineOptions {
  db: Db;
  registry: Registry;
  signer: SpecSigner;
  identity: ControlPlaneIdentity;
  logger: Logger;
  /** ms; default Date.now */
  clock?: () => number;
  /** A host command not completed this long after it became Pending fails. Default 4200 (the service's 70 min). */
  commandTimeoutSeconds?: number;
  /** How long PollHostCommand waits for a command. Default 45. */
  longPollSeconds?: number;
  /** Bounded memory and log of unregistered pollers; default one with the standard bounds. */
  unknownHosts?: UnknownHostLog;
}

export interface DeploymentEngineParts {
  engine: DeploymentEngine;
  commandsOperations: OperationTable;
  deploymentOperations: OperationTable;
  close(): void;
}

/** What the commands API and the deployment operations use (more than the public surface). */
export interface EngineCore {
  engine: DeploymentEngine;
  store: EngineStore;
  registry: Registry;
  identity: ControlPlaneIdentity;
  signer: SpecSigner;
  waiters: HostWaiters;
  unknownHosts: UnknownHostLog;
  hostCommands: HostCommandPort;
  longPollMs: number;
  logger: Logger;
  isClosed(): boolean;
}

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

export function createDeploymentEngine(opts: DeploymentEngineOptions): DeploymentEngineParts {
  const { db, registry, identity } = opts;
  const log = opts.logger;
  const clock = opts.clock ?? Date.now;
  const timeoutMs = (opts.commandTimeoutSeconds ?? 4200) * 1000;
  // A region name long enough to break the DeploymentExecutionId constraint fails here, at start.
  executionId(identity, 'd-AAAAAAAAA');
  const store = createEngineStore(db);
  const waiters = createHostWaiters();
  const listeners = new Set<(event: EngineEvent) => void>();
  let effects: Effects | undefined;
  let closed = false;
  const transaction = db.transaction(<T>(fn: () => T): T => fn());

  /** Runs `fn` in one transaction (joining the current one when nested), then publishes its effects. */
  function run<T>(fn: (ctx: HostContext) => T): T {
    if (effects) return fn({ store, effects, now: clock(), log });
    const fx: Effects = { events: [], wake: new Set() };
    effects = fx;
    let result: T;
    try {
      result = transaction(() => fn({ store, effects: fx, now: clock(), log })) as T;
    } finally {
      effects = undefined;
    }
    for (const event of fx.events) {
      for (const listener of listeners) {
        try {
          listener(event);
        } catch (err) {
          log.warn({ err }, 'engine listener failed');
        }
      }
    }
    for (const name of fx.wake) waiters.wake(name);
    return result;
  }

  const emitStatus = (ctx: HostContext, info: DeploymentInfo) =>
    ctx.effects.events.push({ type: 'deployment-status', deploymentId: info.deploymentId, status: info.status, ...(info.errorInformation ? { errorInformation: info.errorInformation } : {}) });

  const record = (row: DeploymentRow) => {
    const i = row.info;
    registry.recordDeployment(row.groupId, { deploymentId: i.deploymentId, status: i.status, createTime: i.createTime, ...(i.completeTime !== undefined ? { endTime: i.completeTime } : {}) }, i.revision);
  };

  /** The deployment ends: pending hosts are skipped, running commands cancelled, the outcome recorded, maybe a rollback. */
  function finish(ctx: HostContext, row: DeploymentRow, status: 'Succeeded' | 'Failed' | 'Stopped', error?: ErrorInformation, rollback = false): void {
    const info = row.info;
    info.status = status;
    info.completeTime = ctx.now / 1000;
    if (error) info.errorInformation = error;
    ctx.store.saveDeployment(info);
    emitStatus(ctx, info);
    if (status !== 'Succeeded') {
      for (const t of ctx.store.targetsWithStatus(info.deploymentId, 'Pending', -1)) skipHost(ctx, t);
      for (const cmd of ctx.store.openCommandsOf(info.deploymentId)) {
        if (cmd.status === 'Pending') cancelPendingCommand(ctx, cmd);
        else {
          cmd.cancelled = true;
          ctx.store.saveCommand(cmd);
        }
      }
    }
    record(row);
    log.info({ deploymentId: info.deploymentId, status, errorInformation: error }, `Deployment ${info.deploymentId} ${status}`);
    if (rollback) rollBack(ctx, row);
  }

  function wantsRollback(row: DeploymentRow, cause: 'failure' | 'stop', requested?: boolean): boolean {
    if (row.info.creator === 'codeDeployRollback') return false;
    if (cause === 'stop' && requested !== undefined) return requested;
    const config = row.info.autoRollbackConfiguration ?? registry.getDeploymentGroupById(row.groupId)?.autoRollbackConfiguration;
    const event = cause === 'failure' ? 'DEPLOYMENT_FAILURE' : 'DEPLOYMENT_STOP_ON_REQUEST';
    return config?.enabled === true && (config.events ?? []).includes(event);
  }

  function rollBack(ctx: HostContext, row: DeploymentRow): void {
    const info = row.info;
    const previous = ctx.store.lastSucceeded(row.groupId, info.deploymentId);
    const group = registry.getDeploymentGroupById(row.groupId);
    if (!previous || !group) {
      info.rollbackInfo = { ...info.rollbackInfo, rollbackMessage: previous ? 'Automatic rollback not performed because the deployment group no longer exists.' : NO_ROLLBACK_MESSAGE };
      ctx.store.saveDeployment(info);
      log.info({ deploymentId: info.deploymentId }, info.rollbackInfo.rollbackMessage);
      return;
    }
    const rollback = insertDeployment(ctx, registry, {
      group,
      deploymentConfigName: info.deploymentConfigName,
      mhh: row.mhh,
      revision: previous.info.revision,
      creator: 'codeDeployRollback',
      ignoreApplicationStopFailures: info.ignoreApplicationStopFailures,
      fileExistsBehavior: info.fileExistsBehavior,
      updateOutdatedInstancesOnly: false,
      rollbackInfo: { rollbackTriggeringDeploymentId: info.deploymentId },
      emitStatus,
    });
    info.rollbackInfo = { ...info.rollbackInfo, rollbackDeploymentId: rollback.deploymentId };
    ctx.store.saveDeployment(info);
    log.info({ deploymentId: info.deploymentId, rollbackDeploymentId: rollback.deploymentId }, `Rolling back ${info.deploymentId} with ${rollback.deploymentId} (revision of ${previous.deploymentId})`);
  }

  function evaluate(ctx: HostContext, row: DeploymentRow): void {
    const info = row.info;
    if (info.status === 'Created') {
      info.status = 'InProgress';
      info.startTime = ctx.now / 1000;
      ctx.store.saveDeployment(info);
      emitStatus(ctx, info);
      record(row);
    }
    if (info.status !== 'InProgress') return;
    const counts = ctx.store.targetCounts(info.deploymentId);
    const total = Object.values(counts).reduce((a, b) => a + (b ?? 0), 0);
    if (total === 0) return finish(ctx, row, 'Failed', NO_INSTANCES, wantsRollback(row, 'failure'));
    const plan = healthPlan(total, row.mhh);
    if ('invalid' in plan) return finish(ctx, row, 'Failed', { code: 'HEALTH_CONSTRAINTS_INVALID', message: plan.invalid }, wantsRollback(row, 'failure'));
    const decision = decide(plan, {
      pending: counts.Pending ?? 0,
      inProgress: counts.InProgress ?? 0,
      succeeded: counts.Succeeded ?? 0,
      failed: (counts.Failed ?? 0) + (counts.Skipped ?? 0),
    });
    if (decision.kind === 'succeeded') return finish(ctx, row, 'Succeeded');
    if (decision.kind === 'failed') return finish(ctx, row, 'Failed', HEALTH_CONSTRAINTS, wantsRollback(row, 'failure'));
    if (decision.start > 0) for (const t of ctx.store.targetsWithStatus(info.deploymentId, 'Pending', decision.start)) startHost(ctx, t);
  }

  function expire(ctx: HostContext): void {
    for (const cmd of ctx.store.commandsReadyBefore(ctx.now - timeoutMs)) {
      const row = ctx.store.getDeployment(cmd.deploymentId);
      if (!row) continue;
      cmd.status = 'TimedOut';
      cmd.completedAt = ctx.now;
      ctx.store.saveCommand(cmd);
      const message = `The command timed out after ${Math.round(timeoutMs / 1000)} seconds without a completion from the agent (host ${cmd.instanceName})`;
      log.warn({ deploymentId: cmd.deploymentId, instanceName: cmd.instanceName, command: cmd.commandName }, message);
      commandFinished(ctx, row.info, cmd, false, { errorCode: 'UnknownError', scriptName: '', message, logTail: '' });
    }
  }

  /**
   * Re-evaluates active deployments: all of them (the periodic tick, and after a restart), or only
   * those this transaction touched (a target changed status, or it was just created), which is
   * all that can have changed after an agent call. Evaluating can create a deployment (a
   * rollback), so it repeats until nothing new is active.
   */
  function tickIn(ctx: HostContext, scope: 'all' | 'changed' = 'changed'): void {
    expire(ctx);
    const seen = new Set<string>();
    for (;;) {
      const touched = new Set<string>();
      if (scope === 'changed') for (const e of ctx.effects.events) if (e.type !== 'lifecycle-event') touched.add(e.deploymentId);
      const due = ctx.store.activeIds().filter((a) => !seen.has(`${a.deploymentId}:${a.status}`) && (scope === 'all' || a.status === 'Created' || touched.has(a.deploymentId)));
      if (due.length === 0) return;
      for (const a of due) {
        seen.add(`${a.deploymentId}:${a.status}`);
        const row = ctx.store.getDeployment(a.deploymentId);
        if (row) evaluate(ctx, row);
      }
    }
  }

  const engine: DeploymentEngine = {
    createDeployment(input: NewDeployment): DeploymentInfo {
      const id = run((ctx) => {
        const resolved = resolveDeploymentInput(registry, input);
        const active = ctx.store.activeInGroup(resolved.group.deploymentGroupId);
        if (active) {
          throw new ApiError(
            'DeploymentLimitExceededException',
            `The deployment group ${resolved.group.deploymentGroupName} has an active deployment ${active}. Wait for it to finish, or stop it with StopDeployment, then try again.`,
          );
        }
        const info = insertDeployment(ctx, registry, {
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
          emitStatus,
        });
        log.info({ deploymentId: info.deploymentId, application: info.applicationName, group: info.deploymentGroupName, config: info.deploymentConfigName }, `Deployment ${info.deploymentId} created`);
        tickIn(ctx);
        return info.deploymentId;
      });
      return engine.getDeployment(id) as DeploymentInfo;
    },
    getDeployment(deploymentId) {
      const row = store.getDeployment(deploymentId);
      return row && withOverview(store, row.info);
    },
    stopDeployment(deploymentId, autoRollbackEnabled) {
      return run((ctx) => {
        const row = ctx.store.getDeployment(deploymentId);
        if (!row) throw new ApiError('DeploymentDoesNotExistException', `The deployment ${deploymentId} could not be found.`);
        if (row.info.status !== 'Created' && row.info.status !== 'InProgress') {
          throw new ApiError('DeploymentAlreadyCompletedException', `The deployment ${deploymentId} has already completed.`);
        }
        finish(ctx, row, 'Stopped', MANUAL_STOP, wantsRollback(row, 'stop', autoRollbackEnabled));
        tickIn(ctx);
        return ctx.store.openCommandsOf(deploymentId).length > 0
          ? { status: 'Pending' as const, statusMessage: 'Stopping Pending. Stopping to schedule commands in the deployment instances' }
          : { status: 'Succeeded' as const, statusMessage: 'Stopping Succeeded. No command was running on the deployment instances' };
      });
    },
    listTargets(deploymentId) {
      return store.targets(deploymentId).map((t) => t.target);
    },
    tick() {
      if (closed) return;
      run((ctx) => tickIn(ctx, 'all'));
    },
    on(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    hostSeen(hostIdentifier) {
      const seen = store.hostSeen(hostIdentifier);
      return seen && { hostIdentifier, ...seen };
    },
  };

  const hostCommands = createHostCommandPort({
    store,
    registry,
    identity,
    signer: opts.signer,
    logger: log,
    run,
    tickIn,
    finished: (ctx, cmd, ok, diagnostics) => {
      const row = ctx.store.getDeployment(cmd.deploymentId);
      if (row) commandFinished(ctx, row.info, cmd, ok, diagnostics);
    },
    isClosed: () => closed,
  });

  const core: EngineCore = {
    engine,
    store,
    registry,
    identity,
    signer: opts.signer,
    waiters,
    unknownHosts: opts.unknownHosts ?? createUnknownHostLog({ logger: log, clock }),
    hostCommands,
    longPollMs: (opts.longPollSeconds ?? 45) * 1000,
    logger: log,
    isClosed: () => closed,
  };

  return {
    engine,
    commandsOperations: createCommandsOperations(core),
    deploymentOperations: createDeploymentOperations(core),
    close() {
      closed = true;
      waiters.closeAll();
      listeners.clear();
    },
  };
}

