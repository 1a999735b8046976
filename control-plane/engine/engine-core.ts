/**
 * What the deployment engine hands to the layers built over it: the composition root (server.ts)
 * gets it from createDeploymentEngine and passes it to the public deployment operations
 * (api/deployment-operations.ts) and to the agent-facing commands API (commands/commands-api.ts).
 * It is more than the public `DeploymentEngine` surface: the store (read side of the public API),
 * the host-command port and the long-poll waiters the engine wakes.
 */
import type { HostWaiters } from '../commands/long-poll.js';
import type { Registry } from '../registry/registry.js';
import type { DeploymentEngine } from './engine.js';
import type { EngineStore } from './engine-store.js';
import type { HostCommandPort } from './host-command-port.js';

export interface EngineCore {
  engine: DeploymentEngine;
  store: EngineStore;
  registry: Registry;
  hostCommands: HostCommandPort;
  /** PollHostCommand parks here; the engine wakes an instance's polls when it has a new command. */
  waiters: HostWaiters;
  isClosed(): boolean;
  /** Ends waiting polls and stops publishing; the database stays open (its owner closes it). */
  close(): void;
}
