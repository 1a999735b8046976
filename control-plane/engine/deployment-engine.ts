/**
 * The deployment engine: CodeDeploy's in-place deployments (EC2/on-premises) over the registry's
 * groups and instances. All state is in SQLite (engine-store.ts) and every change is one
 * synchronous transaction (engine-context.ts) that ends with the same re-evaluation `tick()` runs
 * every second (deployment-evaluation.ts: timeouts, starting hosts within the batching window,
 * success, failure, rollback), so a control plane restarted on the same file simply continues.
 * Listeners and long-poll wake-ups are published after the commit, never for a rolled-back change.
 *
 * This file only assembles the engine: its state, the public surface and the host-command port.
 * The layers over it (commands/commands-api.ts, api/deployment-operations.ts) are built by the
 * composition root (server.ts) from the `EngineCore` returned here.
 */
import type { Logger } from 'pino';
import { createHostWaiters } from '../commands/long-poll.js';
import type { ControlPlaneIdentity, DeploymentInfo } from '../model.js';
import type { Registry } from '../registry/registry.js';
import type { SpecSigner } from '../signing/spec-signer.js';
import type { TrafficPort } from '../traffic/traffic-port.js';
import type { Db } from '../store/database.js';
import type { DeploymentEngine } from './engine.js';
import { runInEngine, type EngineState } from './engine-context.js';
import type { EngineCore } from './engine-core.js';
import { createEngineStore } from './engine-store.js';
import { continueDeployment, startDeployment, stopDeployment } from './deployment-control.js';
import { reevaluate } from './deployment-evaluation.js';
import { withOverview } from './deployment-records.js';
import { createHostCommandPort } from './host-command-port.js';
import { executionId } from './identifiers.js';

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
  /** The local load balancers (deployment groups WITH_TRAFFIC_CONTROL); without them such deployments fail their hosts at BlockTraffic. */
  traffic?: TrafficPort;
  /** AllowTraffic fails a host not healthy in its target groups this long after its registration. Default 300. */
  allowTrafficTimeoutSeconds?: number;
}

export function createDeploymentEngine(opts: DeploymentEngineOptions): EngineCore {
  // A region name long enough to break the DeploymentExecutionId constraint fails here, at start.
  executionId(opts.identity, 'd-AAAAAAAAA');
  const inTransaction = opts.db.transaction((fn: () => unknown) => fn());
  const state: EngineState = {
    store: createEngineStore(opts.db),
    registry: opts.registry,
    identity: opts.identity,
    log: opts.logger,
    clock: opts.clock ?? Date.now,
    commandTimeoutMs: (opts.commandTimeoutSeconds ?? 4200) * 1000,
    traffic: opts.traffic,
    allowTrafficTimeoutMs: (opts.allowTrafficTimeoutSeconds ?? 300) * 1000,
    // Draining ends by itself within the deregistration delay (at most 3600 s); this only guards a stuck pool.
    blockTrafficTimeoutMs: (opts.commandTimeoutSeconds ?? 4200) * 1000,
    transaction: <T>(fn: () => T): T => inTransaction(fn) as T,
    waiters: createHostWaiters(),
    listeners: new Set(),
    closed: false,
  };
  const engine = createEngineSurface(state);
  return {
    engine,
    store: state.store,
    registry: state.registry,
    hostCommands: createHostCommandPort(state, opts.signer),
    waiters: state.waiters,
    isClosed: () => state.closed,
    close() {
      state.closed = true;
      state.waiters.closeAll();
      state.listeners.clear();
    },
  };
}

/** The public surface over the state: each change one transaction, reads straight from the store. */
function createEngineSurface(state: EngineState): DeploymentEngine {
  const { store } = state;
  const engine: DeploymentEngine = {
    createDeployment(input) {
      const id = runInEngine(state, (ctx) => startDeployment(ctx, input));
      return engine.getDeployment(id) as DeploymentInfo;
    },
    getDeployment(deploymentId) {
      const row = store.getDeployment(deploymentId);
      return row && withOverview(store, row.info);
    },
    stopDeployment(deploymentId, autoRollbackEnabled) {
      return runInEngine(state, (ctx) => stopDeployment(ctx, deploymentId, autoRollbackEnabled));
    },
    continueDeployment(deploymentId, waitType) {
      runInEngine(state, (ctx) => continueDeployment(ctx, deploymentId, waitType));
    },
    listTargets(deploymentId) {
      return store.targets(deploymentId).map((t) => t.target);
    },
    tick() {
      if (state.closed) return;
      runInEngine(state, (ctx) => reevaluate(ctx, 'all'));
    },
    on(listener) {
      state.listeners.add(listener);
      return () => state.listeners.delete(listener);
    },
    hostSeen(hostIdentifier) {
      const seen = store.hostSeen(hostIdentifier);
      return seen && { hostIdentifier, ...seen };
    },
  };
  return engine;
}
