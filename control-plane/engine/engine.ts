/**
 * The deployment engine's surface, as the server, the public API and the commands API see it.
 * Implementation: control-plane/engine/ (see deployment-engine.ts).
 */
import type {
  AutoRollbackConfiguration,
  DeploymentInfo,
  EpochSeconds,
  FileExistsBehavior,
  InstanceTarget,
  RevisionLocation,
  TagFilter,
} from '../model.js';

export interface NewDeployment {
  applicationName: string;
  deploymentGroupName: string;
  /** Defaults to the group's targetRevision (RevisionRequiredException when neither is set). */
  revision?: RevisionLocation;
  /** Defaults to the group's config. */
  deploymentConfigName?: string;
  description?: string;
  ignoreApplicationStopFailures?: boolean;
  fileExistsBehavior?: FileExistsBehavior;
  /** Overrides the group's for this deployment. */
  autoRollbackConfiguration?: AutoRollbackConfiguration;
  updateOutdatedInstancesOnly?: boolean;
  creator?: DeploymentInfo['creator'];
  /** A blue/green group's green fleet: registered on-premises instances with these tags. */
  targetInstances?: { tagFilters?: TagFilter[] };
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
  | {
      type: 'deployment-status';
      deploymentId: string;
      status: DeploymentInfo['status'];
      errorInformation?: DeploymentInfo['errorInformation'];
    }
  | { type: 'lifecycle-event'; deploymentId: string; instanceName: string; lifecycleEventName: string; status: string; message?: string }
  | { type: 'target-status'; deploymentId: string; instanceName: string; status: string };

/** When an agent last called the commands API (any operation), and with which agent version. */
export interface HostSeen {
  hostIdentifier: string;
  lastSeen: EpochSeconds;
  packageVersion?: string;
}

export interface DeploymentEngine {
  /** Validates like the real CreateDeployment (ApiError with the real codes) and starts it on the next tick. */
  createDeployment(input: NewDeployment): DeploymentInfo;
  getDeployment(deploymentId: string): DeploymentInfo | undefined;
  stopDeployment(deploymentId: string, autoRollbackEnabled?: boolean): { status: 'Pending' | 'Succeeded'; statusMessage: string };
  /** ContinueDeployment: a blue/green deployment waiting (READY_WAIT: Ready; TERMINATION_WAIT: before its blue instances go) goes on now. */
  continueDeployment(deploymentId: string, waitType: 'READY_WAIT' | 'TERMINATION_WAIT'): void;
  listTargets(deploymentId: string): InstanceTarget[];
  /** Called periodically and after every change: timeouts, dispatch, completion, rollback. */
  tick(): void;
  on(listener: (event: EngineEvent) => void): () => void;
  /** Last commands-API contact of an agent (undefined: never seen). */
  hostSeen(hostIdentifier: string): HostSeen | undefined;
}
