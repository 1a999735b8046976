/**
 * The deployment engine's surface, as the server, the public API and the commands API see it.
 * Implementation: control-plane/engine/ (see deployment-engine.ts).
 */
import type { DeploymentInfo, FileExistsBehavior, InstanceTarget, RevisionLocation } from '../model.js';

export interface NewDeployment {
  applicationName: string;
  deploymentGroupName: string;
  revision: RevisionLocation;
  /** Defaults to the group's config. */
  deploymentConfigName?: string;
  description?: string;
  ignoreApplicationStopFailures?: boolean;
  fileExistsBehavior?: FileExistsBehavior;
  creator?: DeploymentInfo['creator'];
}

/** A host command as the commands API hands it out (wire names). */
export interface PolledHostCommand {
  HostCommandIdentifier: string;
  HostIdentifier: string;
  DeploymentExecutionId: string;
  CommandName: string;
  Nonce: number;
}

/** What happens in the engine, for the demo's progress output and for logs. */
export type EngineEvent =
  | { type: 'deployment-status'; deploymentId: string; status: DeploymentInfo['status']; errorInformation?: DeploymentInfo['errorInformation'] }
  | { type: 'lifecycle-event'; deploymentId: string; instanceName: string; lifecycleEventName: string; status: string; message?: string }
  | { type: 'target-status'; deploymentId: string; instanceName: string; status: string };

export interface DeploymentEngine {
  createDeployment(input: NewDeployment): DeploymentInfo;
  getDeployment(deploymentId: string): DeploymentInfo | undefined;
  stopDeployment(deploymentId: string, autoRollbackEnabled?: boolean): { status: 'Pending' | 'Succeeded'; statusMessage: string };
  listTargets(deploymentId: string): InstanceTarget[];
  /** Called periodically and after every change: timeouts, dispatch, completion, rollback. */
  tick(): void;
  on(listener: (event: EngineEvent) => void): () => void;
}
