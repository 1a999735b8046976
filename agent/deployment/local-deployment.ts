/**
 * codedeploy-local's deployment (docs/reference.md section 9.3): the TEXT/JSON specification of a bundle
 * location, then every event run in this process by the command executor, in order, under the
 * deployment group's lock, up to the first failure. What the user sees is the caller's business:
 * it is told when the deployment starts and as each event ends, and gets the result.
 */
import { randomInt } from 'node:crypto';
import type { Logger } from 'pino';
import type { AgentConfig } from '../config/agent-config.js';
import { AgentError, ErrorCodes, ScriptErrorCode } from '../errors.js';
import { toError } from '../../common/errors.js';
import { makeDirs, ROOT_DIR_MODE } from '../../common/file-modes.js';
import { LockBusyError, type FileLock } from '../../common/file-lock.js';
import { parseDeploymentSpec } from '../spec/deployment-spec.js';
import { createDeploymentsLog, type DeploymentsLog } from '../log/deployments-log.js';
import type { RemoteBundleFetcher } from '../bundle/types.js';
import { assertWorkingDirectory, CommandExecutor } from './command-executor.js';
import { groupBusyMessage, lockDeploymentGroup } from './group-lock.js';
import { DeploymentLayout } from './layout.js';
import { allPossibleEventsFor, hookEventsFor } from './lifecycle.js';
import { locationKind, revisionJson, type BundleLocation } from './bundle-location.js';
import { failed, type CommandOutcome } from './diagnostics.js';
import { createMemoryTrimmer } from '../platform/memory-trimmer.js';

/** The deployment codedeploy-local was asked for (its options, checked). */
export interface LocalDeploymentRequest extends BundleLocation {
  fileExistsBehavior: string;
  deploymentGroupId: string;
  deploymentGroupName: string;
  applicationName: string;
}

export interface LocalDeploymentOptions {
  request: LocalDeploymentRequest;
  /** The events to run, in order (eventsToRun). */
  events: readonly string[];
  config: Readonly<AgentConfig>;
  logger: Logger;
  /** The environment hooks inherit. */
  env: NodeJS.ProcessEnv;
  /** Relative local locations are resolved against it. */
  cwd: string;
  /** Builds the S3 and GitHub fetcher; called only for a remote location. */
  remoteFetcher: () => Promise<RemoteBundleFetcher>;
  /**
   * Aborting (codedeploy-local interrupted) stops the running event: a hook's processes get SIGTERM
   * then SIGKILL, a download stops, Install stops between batches; no further event runs.
   */
  signal?: AbortSignal;
  /** The group is locked and the first event is about to run. */
  onStart?: (deploymentDir: string) => void;
  onEvent?: (event: string, outcome: CommandOutcome, ms: number) => void;
}

export interface LocalDeploymentResult {
  deploymentDir: string;
  archiveDir: string;
  scriptsLog: string;
  /** The diagnostics of the event that failed; undefined when every event succeeded. */
  failure?: CommandOutcome['diagnostics'];
  /** The event that failed or was interrupted. */
  failedEvent?: string;
  /** True when the signal stopped the deployment (failure then says what was stopped). */
  interrupted?: boolean;
  /** Set with interrupted when failedEvent was stopped before it started. */
  notStarted?: boolean;
}

const ALPHANUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

export function localDeploymentId(): string {
  let id = '';
  for (let i = 0; i < 9; i++) id += ALPHANUM[randomInt(ALPHANUM.length)];
  return `d-${id}-local`;
}

/** The TEXT/JSON specification codedeploy-local builds (docs/reference.md section 9.3 step 3). */
export function localSpecJson(
  r: LocalDeploymentRequest,
  deploymentId: string,
  events: readonly string[],
  cwd: string,
): Record<string, unknown> {
  return {
    DeploymentId: deploymentId,
    DeploymentGroupId: r.deploymentGroupId,
    DeploymentGroupName: r.deploymentGroupName,
    ApplicationName: r.applicationName,
    ApplicationId: r.bundleLocation,
    DeploymentCreator: 'user',
    DeploymentType: 'IN_PLACE',
    AppSpecFilename: r.appSpecFilename ?? 'appspec.yml',
    AgentActionOverrides: { AgentOverrides: { FileExistsBehavior: r.fileExistsBehavior } },
    Revision: revisionJson(r, cwd),
    AllPossibleLifecycleEvents: allPossibleEventsFor(events),
  };
}

export async function runLocalDeployment(o: LocalDeploymentOptions): Promise<LocalDeploymentResult> {
  const { config, events } = o;
  const specJson = localSpecJson(o.request, localDeploymentId(), events, o.cwd);
  const spec = parseDeploymentSpec({ Format: 'TEXT/JSON', Payload: JSON.stringify(specJson) }, { allowUnsigned: true });
  let deploymentsLog: DeploymentsLog | undefined;
  let groupLock: FileLock | undefined;
  try {
    // Before anything is written: a missing working directory is a configuration problem.
    await assertWorkingDirectory(config);
    await createRootDir(config.rootDir);
    const layout = new DeploymentLayout(config.rootDir);
    if (config.enableDeploymentsLog) deploymentsLog = createDeploymentsLog({ path: layout.deploymentsLogFile });
    const remote = locationKind(o.request.bundleLocation) !== 'local';
    const executor = new CommandExecutor({
      config,
      logger: o.logger,
      ...(remote ? { fetchRemoteBundle: await o.remoteFetcher() } : {}),
      hookMapping: new Map(hookEventsFor(events).map((e) => [e, [e]])),
      ...(deploymentsLog ? { deploymentsLog } : {}),
      baseEnv: o.env,
      memoryTrimmer: createMemoryTrimmer(),
    });
    groupLock = await lockGroup(layout, spec.deploymentGroupId);
    const deploymentDir = executor.deploymentDir(spec);
    const result: LocalDeploymentResult = {
      deploymentDir,
      archiveDir: layout.archiveDir(deploymentDir),
      scriptsLog: layout.scriptsLog(deploymentDir),
    };
    o.onStart?.(deploymentDir);
    for (const event of events) {
      if (o.signal?.aborted) {
        const why = o.signal.reason instanceof Error ? o.signal.reason.message : 'it was cancelled';
        const failure = failed(ScriptErrorCode.UNKNOWN_ERROR, `${event} did not start because ${why}`).diagnostics;
        return { ...result, failure, failedEvent: event, interrupted: true, notStarted: true };
      }
      const started = Date.now();
      const outcome = await executor.execute(event, spec, o.signal ? { signal: o.signal } : {});
      o.onEvent?.(event, outcome, Date.now() - started);
      if (outcome.status !== 'Succeeded') {
        return { ...result, failure: outcome.diagnostics, failedEvent: event, ...(o.signal?.aborted ? { interrupted: true } : {}) };
      }
    }
    return result;
  } finally {
    await groupLock?.release();
    await deploymentsLog?.close();
  }
}

/**
 * One writer per deployment group (the daemon or another codedeploy-local may be deploying into
 * it): refuse rather than wait, so a second run in a terminal or CI says why at once.
 */
async function lockGroup(layout: DeploymentLayout, groupId: string): Promise<FileLock> {
  try {
    return await lockDeploymentGroup(layout, groupId, { wait: false });
  } catch (err) {
    if (err instanceof LockBusyError) throw new AgentError(ErrorCodes.DEPLOYMENT_ROOT, groupBusyMessage(groupId, err.holder));
    throw err;
  }
}

/** root_dir holds bundles and hook output: 0700 like the daemon's, whatever the umask (docs/design.md section 8). */
async function createRootDir(rootDir: string): Promise<void> {
  try {
    await makeDirs(rootDir, { mode: ROOT_DIR_MODE });
  } catch (err) {
    throw new AgentError(
      ErrorCodes.DEPLOYMENT_ROOT,
      `cannot create the deployment root ${rootDir}: ${toError(err).message}; fix its owner or mode, or set :root_dir:`,
      { cause: err },
    );
  }
}
