/**
 * What the engine's functions share. `EngineState` is the long-lived part (store, registry,
 * listeners, long-poll waiters, settings); `EngineContext` is what one transaction's functions get
 * (the state's collaborators plus the transaction's clock reading and effects). Every change runs
 * through `runInEngine`: one synchronous SQLite transaction, after whose commit the effects are
 * published (listeners told, long polls woken), never for a rolled-back change.
 */
import type { Logger } from 'pino';
import type { HostWaiters } from '../commands/long-poll.js';
import type { ControlPlaneIdentity } from '../model.js';
import type { Registry } from '../registry/registry.js';
import type { TrafficPort } from '../traffic/traffic-port.js';
import type { EngineEvent } from './engine.js';
import type { EngineStore } from './engine-store.js';
import type { Effects, HostContext } from './host-progress.js';

export interface EngineState {
  store: EngineStore;
  registry: Registry;
  identity: ControlPlaneIdentity;
  log: Logger;
  /** ms */
  clock: () => number;
  /** A host command not completed this long after it became Pending fails. */
  commandTimeoutMs: number;
  /** The local load balancers, for BlockTraffic and AllowTraffic. */
  traffic?: TrafficPort;
  allowTrafficTimeoutMs: number;
  blockTrafficTimeoutMs: number;
  /** Runs `fn` in one database transaction (the db's `transaction` wrapper). */
  transaction: <T>(fn: () => T) => T;
  waiters: HostWaiters;
  listeners: Set<(event: EngineEvent) => void>;
  /** The effects of the transaction in progress; set only while one runs. */
  effects?: Effects;
  closed: boolean;
}

/** One transaction's view: HostContext (store, effects, now, log) plus what deployment-level functions need. */
export interface EngineContext extends HostContext {
  registry: Registry;
  commandTimeoutMs: number;
}

function contextOf(state: EngineState, effects: Effects): EngineContext {
  return {
    store: state.store,
    effects,
    now: state.clock(),
    log: state.log,
    registry: state.registry,
    commandTimeoutMs: state.commandTimeoutMs,
    traffic: state.traffic,
    allowTrafficTimeoutMs: state.allowTrafficTimeoutMs,
    blockTrafficTimeoutMs: state.blockTrafficTimeoutMs,
  };
}

/** Runs `fn` in one transaction (joining the current one when nested), then publishes its effects. */
export function runInEngine<T>(state: EngineState, fn: (ctx: EngineContext) => T): T {
  if (state.effects) return fn(contextOf(state, state.effects));
  const effects: Effects = { events: [], wake: new Set() };
  state.effects = effects;
  let result: T;
  try {
    result = state.transaction(() => fn(contextOf(state, effects)));
  } finally {
    state.effects = undefined;
  }
  publish(state, effects);
  return result;
}

/** After the commit: every event to every listener (a failing listener is logged, not fatal), then the wake-ups. */
function publish(state: EngineState, effects: Effects): void {
  for (const event of effects.events) {
    for (const listener of state.listeners) {
      try {
        listener(event);
      } catch (err) {
        state.log.warn({ err }, 'engine listener failed');
      }
    }
  }
  for (const name of effects.wake) state.waiters.wake(name);
}
