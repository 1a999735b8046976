/**
 * One host's way through an in-place deployment: its lifecycle events, its target status and its
 * host commands, one at a time in the order of its lifecycle events (IN_PLACE_LIFECYCLE, or
 * IN_PLACE_TRAFFIC_LIFECYCLE with traffic control; the next becomes Pending only when the previous
 * one succeeded). BlockTraffic and AllowTraffic are not commands: the control plane runs them
 * through the load balancers (traffic-steps.ts) and `pollTraffic` moves them on. These functions
 * run inside the engine's transaction and note what happened in `Effects` (events for listeners,
 * hosts whose long polls should wake) so the engine can publish it after the commit.
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
import { IN_PLACE_LIFECYCLE, IN_PLACE_TRAFFIC_LIFECYCLE, TRAFFIC_EVENTS, trafficTargetGroups } from '../model.js';
import type { TrafficPort } from '../traffic/traffic-port.js';
import type { EngineEvent } from './engine.js';
import type { CommandRow, EngineStore, TargetRow } from './engine-store.js';
import { beginTrafficStep, judgeTrafficStep, type TrafficStep } from './traffic-steps.js';

export interface Effects {
  events: EngineEvent[];
  /** Instance names that have a new Pending command. */
  wake: Set<string>;
  /** Deployments to re-evaluate though no target changed status (a blue/green host reached its gate). */
  touched?: Set<string>;
}

export interface HostContext {
  store: EngineStore;
  effects: Effects;
  /** ms */
  now: number;
  log: Logger;
  /** The local load balancers (BlockTraffic, AllowTraffic); none when the control plane runs without them. */
  traffic?: TrafficPort;
  /** AllowTraffic fails a host not healthy in its target groups this long after it was registered. */
  allowTrafficTimeoutMs: number;
  /** BlockTraffic fails a host still draining this long after it was deregistered. */
  blockTrafficTimeoutMs: number;
}

const seconds = (ms: number) => ms / 1000;

/** The lifecycle a deployment's hosts go through: with BlockTraffic and AllowTraffic when it has traffic control. */
export function lifecycleOf(info: Pick<DeploymentInfo, 'deploymentStyle' | 'loadBalancerInfo'>): readonly string[] {
  return trafficTargetGroups(info).length > 0 ? IN_PLACE_TRAFFIC_LIFECYCLE : IN_PLACE_LIFECYCLE;
}

export function newTarget(deploymentId: string, instance: InstanceInfo, nowMs: number, lifecycle: readonly string[]): InstanceTarget {
  return {
    deploymentId,
    targetId: instance.instanceName,
    targetArn: instance.instanceArn,
    status: 'Pending',
    lastUpdatedAt: seconds(nowMs),
    lifecycleEvents: lifecycle.map((name) => ({ lifecycleEventName: name, status: 'Pending' as const })),
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
  t.target.lifecycleEvents.forEach((event, i) => {
    if (i < fromPosition) return;
    if (event.status === 'Pending' || event.status === 'InProgress') setEvent(ctx, t, event.lifecycleEventName, { status: 'Skipped' });
  });
}

/**
 * The host goes on at `position`: an agent's event becomes a Pending command; BlockTraffic or
 * AllowTraffic begins at the load balancers and, when it is already done (nothing to drain),
 * the host goes straight on to the next event. Past the last event the host has succeeded.
 */
function advance(ctx: HostContext, info: DeploymentInfo, t: TargetRow, position: number): void {
  for (let at = position; ; at++) {
    const event = t.target.lifecycleEvents[at];
    if (event === undefined) return setTargetStatus(ctx, t, 'Succeeded');
    const name = event.lifecycleEventName;
    // A blue/green green host waits here until the deployment moves traffic (blue-green.ts).
    if (name === 'BeforeAllowTraffic' && t.target.instanceLabel === 'Green' && waitsBeforeTraffic(info)) {
      (ctx.effects.touched ??= new Set()).add(t.deploymentId);
      return;
    }
    if (!TRAFFIC_EVENTS.has(name)) {
      ctx.store.insertCommand(t.deploymentId, t.instanceName, name, at, ctx.now);
      ctx.effects.wake.add(t.instanceName);
      return;
    }
    setEvent(ctx, t, name, { status: 'InProgress', startTime: seconds(ctx.now) });
    beginTrafficStep(ctx.traffic, name as TrafficStep, trafficTargetGroups(info), t.instanceName);
    if (!settleTraffic(ctx, info, t, at)) return;
  }
}

/**
 * Reads where the host of an InProgress traffic event stands: done (event Succeeded, returns
 * true), failed (event Failed, the rest Skipped, host Failed) or still waiting.
 */
function settleTraffic(ctx: HostContext, info: DeploymentInfo, t: TargetRow, position: number): boolean {
  const event = t.target.lifecycleEvents[position];
  if (!event) return false;
  const step = event.lifecycleEventName as TrafficStep;
  const startedMs = (event.startTime ?? seconds(ctx.now)) * 1000;
  const verdict = judgeTrafficStep(ctx.traffic, {
    step,
    targetGroups: trafficTargetGroups(info),
    instanceName: t.instanceName,
    elapsedMs: ctx.now - startedMs,
    timeoutMs: step === 'AllowTraffic' ? ctx.allowTrafficTimeoutMs : ctx.blockTrafficTimeoutMs,
  });
  if (verdict.kind === 'wait') return false;
  if (verdict.kind === 'done') {
    setEvent(ctx, t, step, {
      status: 'Succeeded',
      endTime: seconds(ctx.now),
      diagnostics: { errorCode: 'Success', scriptName: '', message: `${step} succeeded`, logTail: '' },
    });
    return true;
  }
  setEvent(ctx, t, step, {
    status: 'Failed',
    endTime: seconds(ctx.now),
    diagnostics: { errorCode: 'UnknownError', scriptName: '', message: verdict.message, logTail: '' },
  });
  skipRest(ctx, t, position + 1);
  setTargetStatus(ctx, t, 'Failed');
  ctx.log.info({ deploymentId: t.deploymentId, instanceName: t.instanceName, lifecycleEvent: step }, verdict.message);
  return false;
}

/** The traffic event an InProgress host is in, if it is in one. */
function trafficPosition(t: TargetRow): number {
  return t.target.lifecycleEvents.findIndex((e) => e.status === 'InProgress' && TRAFFIC_EVENTS.has(e.lifecycleEventName));
}

/** Every re-evaluation: a host waiting in BlockTraffic or AllowTraffic goes on once drained or healthy, or fails. */
export function pollTraffic(ctx: HostContext, info: DeploymentInfo, t: TargetRow): void {
  const position = trafficPosition(t);
  if (position < 0) return;
  if (settleTraffic(ctx, info, t, position)) advance(ctx, info, t, position + 1);
  ctx.store.saveTarget(t);
}

/** Whether a blue/green deployment still holds its green hosts before BeforeAllowTraffic. */
function waitsBeforeTraffic(info: DeploymentInfo): boolean {
  const step = info.blueGreenPhase?.step;
  return step === 'install' || step === 'ready';
}

/** A green host installed and validated, held before BeforeAllowTraffic until traffic moves. */
export function atTrafficGate(t: TargetRow): boolean {
  if (t.target.status !== 'InProgress' || t.target.instanceLabel !== 'Green') return false;
  const status = (name: string) => t.target.lifecycleEvents.find((e) => e.lifecycleEventName === name)?.status;
  return status('ValidateService') === 'Succeeded' && status('BeforeAllowTraffic') === 'Pending';
}

/** Traffic moves to the green fleet: a host held at the gate goes on with BeforeAllowTraffic. */
export function releaseGreen(ctx: HostContext, info: DeploymentInfo, t: TargetRow): void {
  if (!atTrafficGate(t)) return;
  advance(
    ctx,
    info,
    t,
    t.target.lifecycleEvents.findIndex((e) => e.lifecycleEventName === 'BeforeAllowTraffic'),
  );
  ctx.store.saveTarget(t);
}

/**
 * The deployment ended while the host waited in a traffic event (the event fails and the host with
 * it) or at the blue/green gate (the events it never reached are Skipped, and so is the host).
 */
export function abandonTraffic(ctx: HostContext, t: TargetRow, why: string): void {
  if (atTrafficGate(t)) {
    skipRest(ctx, t, 0);
    setTargetStatus(ctx, t, 'Skipped');
    ctx.store.saveTarget(t);
    return;
  }
  const position = trafficPosition(t);
  if (position < 0) return;
  const step = t.target.lifecycleEvents[position]?.lifecycleEventName ?? '';
  setEvent(ctx, t, step, {
    status: 'Failed',
    endTime: seconds(ctx.now),
    diagnostics: { errorCode: 'UnknownError', scriptName: '', message: `${step} was cut short: ${why}`, logTail: '' },
  });
  skipRest(ctx, t, position + 1);
  setTargetStatus(ctx, t, 'Failed');
  ctx.store.saveTarget(t);
}

/** A host leaves the queue: its target is InProgress and its first command Pending. */
export function startHost(ctx: HostContext, info: DeploymentInfo, t: TargetRow): void {
  setTargetStatus(ctx, t, 'InProgress');
  advance(ctx, info, t, 0);
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
  const last = cmd.position === t.target.lifecycleEvents.length - 1;
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
  } else {
    advance(ctx, info, t, cmd.position + 1);
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
