/**
 * One host's way through an in-place deployment: its lifecycle events, its target status and its
 * host commands, one at a time in IN_PLACE_LIFECYCLE order (the next becomes Pending only when the
 * previous one succeeded). These functions run inside the engine's transaction and note what
 * happened in `Effects` (events for listeners, hosts whose long polls should wake) so the engine
 * can publish it after the commit.
 */
import type { Logger } from 'pino';
import type {
  DeploymentInfo,
  InstanceInfo,
  InstanceTarget,
  LifecycleEvent,
  LifecycleEventDiagnostics,
  LifecycleEventStatus,
  TargetStatus,
} from '../model.js';
import { IN_PLACE_LIFECYCLE } from '../model.js';
import type { EngineEvent } from './engine.js';
import type { CommandRow, EngineStore, TargetRow } from './engine-store.js';

export interface Effects {
  events: EngineEvent[];
  /** Instance names that have a new Pending command. */
  wake: Set<string>;
}

export interface HostContext {
  store: EngineStore;
  effects: Effects;
  /** ms */
  now: number;
  log: Logger;
}

const seconds = (ms: number) => ms / 1000;

export function newTarget(deploymentId: string, instance: InstanceInfo, nowMs: number): InstanceTarget {
  return {
    deploymentId,
    targetId: instance.instanceName,
    targetArn: instance.instanceArn,
    status: 'Pending',
    lastUpdatedAt: seconds(nowMs),
    lifecycleEvents: IN_PLACE_LIFECYCLE.map((name) => ({ lifecycleEventName: name, status: 'Pending' as const })),
    instanceLabel: 'Blue',
  };
}

function setEvent(ctx: HostContext, t: TargetRow, name: string, patch: Partial<LifecycleEvent> & { status: LifecycleEventStatus }): void {
  const event = t.target.lifecycleEvents.find((e) => e.lifecycleEventName === name);
  if (!event) return;
  const changed = event.status !== patch.status;
  Object.assign(event, patch);
  t.target.lastUpdatedAt = seconds(ctx.now);
  if (changed) {
    ctx.effects.events.push({
      type: 'lifecycle-event',
      deploymentId: t.deploymentId,
      instanceName: t.instanceName,
      lifecycleEventName: name,
      status: patch.status,
      ...(patch.diagnostics && patch.status === 'Failed' ? { message: patch.diagnostics.message } : {}),
    });
  }
}

function setTargetStatus(ctx: HostContext, t: TargetRow, status: TargetStatus): void {
  if (t.target.status === status) return;
  t.target.status = status;
  t.target.lastUpdatedAt = seconds(ctx.now);
  ctx.effects.events.push({ type: 'target-status', deploymentId: t.deploymentId, instanceName: t.instanceName, status });
}

/** Every event still Pending (from `fromPosition` on) becomes Skipped. */
function skipRest(ctx: HostContext, t: TargetRow, fromPosition: number): void {
  IN_PLACE_LIFECYCLE.forEach((name, i) => {
    if (i < fromPosition) return;
    const event = t.target.lifecycleEvents.find((e) => e.lifecycleEventName === name);
    if (event && (event.status === 'Pending' || event.status === 'InProgress')) setEvent(ctx, t, name, { status: 'Skipped' });
  });
}

function openCommand(ctx: HostContext, t: TargetRow, position: number): void {
  const name = IN_PLACE_LIFECYCLE[position];
  if (name === undefined) return;
  ctx.store.insertCommand(t.deploymentId, t.instanceName, name, position, ctx.now);
  ctx.effects.wake.add(t.instanceName);
}

/** A host leaves the queue: its target is InProgress and its first command Pending. */
export function startHost(ctx: HostContext, t: TargetRow): void {
  setTargetStatus(ctx, t, 'InProgress');
  openCommand(ctx, t, 0);
  ctx.store.saveTarget(t);
}

/** A target that never started (the deployment ended first). */
export function skipHost(ctx: HostContext, t: TargetRow): void {
  skipRest(ctx, t, 0);
  setTargetStatus(ctx, t, 'Skipped');
  ctx.store.saveTarget(t);
}

/** PollHostCommand handed the command out: its event is InProgress from now. */
export function commandDispatched(ctx: HostContext, cmd: CommandRow): void {
  cmd.status = 'Dispatched';
  cmd.dispatchedAt = ctx.now;
  ctx.store.saveCommand(cmd);
  const t = ctx.store.getTarget(cmd.deploymentId, cmd.instanceName);
  if (!t) return;
  setEvent(ctx, t, cmd.commandName, { status: 'InProgress', startTime: seconds(ctx.now) });
  ctx.store.saveTarget(t);
}

/** A Pending command of a halted deployment is never handed out; its host is done. */
export function cancelPendingCommand(ctx: HostContext, cmd: CommandRow): void {
  cmd.status = 'Cancelled';
  cmd.completedAt = ctx.now;
  ctx.store.saveCommand(cmd);
  const t = ctx.store.getTarget(cmd.deploymentId, cmd.instanceName);
  if (!t) return;
  skipRest(ctx, t, cmd.position);
  setTargetStatus(ctx, t, 'Failed');
  ctx.store.saveTarget(t);
}

/**
 * A command's outcome (agent completion or timeout; the command row is already saved): the event
 * records it, then the host goes on to its next command, finishes, or fails.
 */
export function commandFinished(
  ctx: HostContext,
  info: DeploymentInfo,
  cmd: CommandRow,
  ok: boolean,
  diagnostics: LifecycleEventDiagnostics,
): void {
  const t = ctx.store.getTarget(cmd.deploymentId, cmd.instanceName);
  if (!t) return;
  const event = t.target.lifecycleEvents.find((e) => e.lifecycleEventName === cmd.commandName);
  setEvent(ctx, t, cmd.commandName, {
    status: ok ? 'Succeeded' : 'Failed',
    startTime: event?.startTime ?? seconds(cmd.dispatchedAt ?? cmd.readyAt),
    endTime: seconds(ctx.now),
    diagnostics,
  });
  const last = cmd.position === IN_PLACE_LIFECYCLE.length - 1;
  const goOn = ok || (cmd.commandName === 'ApplicationStop' && info.ignoreApplicationStopFailures);
  if (cmd.cancelled) {
    // The deployment stopped or failed while this command ran: the host is done either way.
    skipRest(ctx, t, cmd.position + 1);
    setTargetStatus(ctx, t, ok && last ? 'Succeeded' : 'Failed');
  } else if (!goOn) {
    skipRest(ctx, t, cmd.position + 1);
    setTargetStatus(ctx, t, 'Failed');
    ctx.log.info(
      { deploymentId: cmd.deploymentId, instanceName: cmd.instanceName, lifecycleEvent: cmd.commandName, diagnostics },
      'Host failed its deployment',
    );
  } else if (last) {
    setTargetStatus(ctx, t, 'Succeeded');
  } else {
    openCommand(ctx, t, cmd.position + 1);
  }
  ctx.store.saveTarget(t);
}

const ERROR_CODES: Record<number, LifecycleEventDiagnostics['errorCode']> = {
  0: 'Success',
  1: 'ScriptMissing',
  2: 'ScriptNotExecutable',
  3: 'ScriptTimedOut',
  4: 'ScriptFailed',
};

/** The agent's completion payload (`{"error_code":N,"script_name":..,"message":..,"log":..}`) as API diagnostics. */
export function diagnosticsOf(payload: string | undefined, ok: boolean): LifecycleEventDiagnostics {
  if (payload === undefined || payload === '')
    return { errorCode: ok ? 'Success' : 'UnknownError', scriptName: '', message: '', logTail: '' };
  let parsed: unknown;
  try {
    parsed = JSON.parse(payload);
  } catch {
    parsed = undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return { errorCode: ok ? 'Success' : 'UnknownError', scriptName: '', message: payload, logTail: '' };
  }
  const p = parsed as Record<string, unknown>;
  const code = typeof p.error_code === 'number' ? p.error_code : ok ? 0 : 5;
  const text = (v: unknown) => (typeof v === 'string' ? v : '');
  return {
    errorCode: ERROR_CODES[code] ?? 'UnknownError',
    scriptName: text(p.script_name),
    message: text(p.message),
    logTail: text(p.log),
  };
}
