/**
 * Executes one host command of one deployment: DownloadBundle, Install, or a lifecycle-event
 * command (docs/reference.md section 4). It never throws: every outcome is a CommandOutcome whose
 * diagnostics go to PutHostCommandComplete (or to codedeploy-local's output).
 */
import { access, chmod, stat } from 'node:fs/promises';
import { DIR_MODE, makeDirs } from '../../common/file-modes.js';
import { constants as fsConstants } from 'node:fs';
import type { Logger } from 'pino';
import type { AgentConfig } from '../config/agent-config.js';
import { AgentError, ErrorCodes, ScriptErrorCode } from '../errors.js';
import { toError } from '../../common/errors.js';
import type { DeploymentSpec, Revision } from '../spec/deployment-spec.js';
import type { HookResult } from '../hooks/types.js';
import { runLifecycleEvent } from '../hooks/lifecycle-event-runner.js';
import { buildHookEnvironment } from '../hooks/hook-env.js';
import { createScriptLogWriter } from '../log/scripts-log.js';
import type { DeploymentsLog } from '../log/deployments-log.js';
import type { ScriptLogWriter } from '../log/types.js';
import { unpackArchive } from '../bundle/unpack.js';
import { removeTree } from '../platform/remove-tree.js';
import { stripTopLevelDirectory } from '../bundle/strip-top-dir.js';
import { copyDirectoryBundle, linkLocalFileBundle } from '../bundle/local-fetcher.js';
import type { ArchiveType } from '../spec/bundle-type.js';
import type { RemoteBundleFetcher } from '../bundle/types.js';
import { install } from '../install/installer.js';
import type { MemoryTrimmer } from '../platform/memory-trimmer.js';
import { loadAppSpec } from './appspec-loader.js';
import { AppSpecHandOff, type CommandAppSpecs } from './command-appspecs.js';
import { checkLifecycleEvents } from './lifecycle-check.js';
import { chooseRevisionDir, isPascalCase, revisionChoice } from './lifecycle.js';
import { DeploymentLayout } from './layout.js';
import { InstructionsStore } from './instructions-store.js';
import { pruneOldRevisions } from './retention.js';
import { failed, succeeded, type CommandOutcome } from './diagnostics.js';

/** A hook script of a deployment starts or ends (the daemon's status file); must not throw. */
export interface HookScriptEvent {
  deploymentId: string;
  deploymentGroupId: string;
  event: string;
  script: string;
  phase: 'start' | 'end';
}

export interface CommandExecutorOptions {
  config: Readonly<AgentConfig>;
  logger: Logger;
  /** Command name -> the lifecycle events it runs, in order. */
  hookMapping: ReadonlyMap<string, readonly string[]>;
  /** The shared deployments log, when enable_deployments_log is on. */
  deploymentsLog?: DeploymentsLog;
  /** The environment hooks inherit (credentials are stripped by buildHookEnvironment). */
  baseEnv: NodeJS.ProcessEnv;
  fetchRemoteBundle?: RemoteBundleFetcher;
  onHookScript?: (event: HookScriptEvent) => void;
  /** Trims the allocator's free memory while DownloadBundle and Install run (memory-trimmer.ts). */
  memoryTrimmer?: MemoryTrimmer;
}

export interface ExecuteOptions {
  signal?: AbortSignal;
}

export class CommandExecutor {
  readonly layout: DeploymentLayout;
  private readonly instructions: InstructionsStore;
  /** isNoop's parsed appspecs, for the same command's execute. */
  private readonly appspecs = new AppSpecHandOff();

  constructor(private readonly options: CommandExecutorOptions) {
    this.layout = new DeploymentLayout(options.config.rootDir);
    this.instructions = new InstructionsStore(this.layout);
  }

  isKnownCommand(name: string): boolean {
    return name === 'DownloadBundle' || name === 'Install' || this.options.hookMapping.has(name);
  }

  deploymentDir(spec: DeploymentSpec): string {
    return this.layout.deploymentDir(spec.deploymentGroupId, spec.deploymentId);
  }

  /** True when running the command would do nothing (no appspec or no scripts for its events). */
  async isNoop(commandName: string, spec: DeploymentSpec): Promise<boolean> {
    if (commandName === 'DownloadBundle' || commandName === 'Install') return false;
    const events = this.options.hookMapping.get(commandName);
    if (!events) return false; // unknown: not a no-op, it fails (the official agent acks it as a no-op)
    const appspecs = this.appspecs.begin(commandName, spec);
    for (const event of events) {
      try {
        const archive = await this.chooseArchive(event, spec);
        if (!archive) continue;
        const { spec: appspec } = await appspecs.load(archive);
        if ((appspec.hooks.get(event)?.length ?? 0) > 0) return false;
      } catch {
        return false; // running it will report the problem
      }
    }
    return true;
  }

  private withTrimming(work: () => Promise<void>): Promise<void> {
    return this.options.memoryTrimmer ? this.options.memoryTrimmer.during(work) : work();
  }

  async execute(commandName: string, spec: DeploymentSpec, options: ExecuteOptions = {}): Promise<CommandOutcome> {
    const logger = this.options.logger.child({ deploymentId: spec.deploymentId, command: commandName });
    if (!this.isKnownCommand(commandName) || !isPascalCase(commandName)) {
      const message = isPascalCase(commandName)
        ? `Unsupported command type: ${commandName}.`
        : `Received command is not in PascalCase form: ${commandName}`;
      logger.error({ message }, 'Unsupported command');
      return failed(ScriptErrorCode.UNKNOWN_ERROR, message);
    }
    const started = Date.now();
    try {
      const deploymentDir = this.deploymentDir(spec);
      try {
        await makeDirs(deploymentDir);
      } catch (err) {
        throw new AgentError(ErrorCodes.DEPLOYMENT_ROOT, `Error creating deployment root directory ${deploymentDir}`, { cause: err });
      }
      logger.info({ deploymentDir }, `Executing ${commandName}`);
      let outcome: CommandOutcome;
      if (commandName === 'DownloadBundle') {
        await this.withTrimming(() => this.downloadBundle(spec, deploymentDir, logger, options.signal));
        outcome = succeeded();
      } else if (commandName === 'Install') {
        await this.withTrimming(() => this.install(spec, deploymentDir, logger, options.signal));
        outcome = succeeded();
      } else {
        outcome = await this.runHooks(commandName, spec, deploymentDir, this.appspecs.take(commandName, spec), logger, options.signal);
      }
      logger.info(
        { status: outcome.status, ms: Date.now() - started, errorCode: outcome.diagnostics.error_code },
        `${commandName} ${outcome.status.toLowerCase()}`,
      );
      return outcome;
    } catch (err) {
      const error = toError(err);
      logger.error({ err: error, ms: Date.now() - started }, `${commandName} failed: ${error.message}`);
      return failed(ScriptErrorCode.UNKNOWN_ERROR, error.message);
    }
  }

  private async downloadBundle(spec: DeploymentSpec, deploymentDir: string, logger: Logger, signal?: AbortSignal): Promise<void> {
    const { config } = this.options;
    const groupId = spec.deploymentGroupId;
    await pruneOldRevisions({
      groupDir: this.layout.groupDir(groupId),
      currentDeploymentDir: deploymentDir,
      maxRevisions: config.maxRevisions,
      protectedDirs: [await this.instructions.lastSuccessful(groupId), await this.instructions.mostRecent(groupId)],
      logger,
    });
    const bundleFile = this.layout.bundleFile(deploymentDir);
    const archiveDir = this.layout.archiveDir(deploymentDir);
    const revision = spec.revision;
    await removeTree(archiveDir);
    await removeTree(this.layout.archiveTempDir(deploymentDir));

    if (revision.type === 'Local Directory' || revision.bundleType === 'directory') {
      if (revision.type !== 'Local Directory' && revision.type !== 'Local File') {
        throw new AgentError(ErrorCodes.SPEC_INVALID, `Bundle type "directory" is only valid for local revisions`);
      }
      await ensureExists(revision.location, 'directory');
      const copied = await copyDirectoryBundle(revision.location, archiveDir);
      logger.info({ location: revision.location, entries: copied }, 'Copied local directory bundle');
    } else {
      if (revision.type === 'Local File') {
        await ensureExists(revision.location, 'file');
        await linkLocalFileBundle(revision.location, bundleFile);
      } else {
        if (!this.options.fetchRemoteBundle) {
          throw new AgentError(ErrorCodes.NOT_SUPPORTED, `${revision.type} revisions are not supported by this command yet`);
        }
        await this.options.fetchRemoteBundle(revision, { bundleFile, logger, spec, ...(signal ? { signal } : {}) });
      }
      const type: ArchiveType = revision.bundleType === 'zip' || revision.bundleType === 'tgz' ? revision.bundleType : 'tar';
      const result = await unpackArchive({ archivePath: bundleFile, type, destDir: archiveDir, logger });
      const stripped = await stripTopLevelDirectory(archiveDir, this.layout.archiveTempDir(deploymentDir), logger);
      logger.info({ entries: result.entries, stripped }, 'Unpacked bundle');
    }
    // Unpacking creates it 0777 so the archive's own modes apply below it; itself, it gets ours.
    await chmod(archiveDir, DIR_MODE);
    await makeDirs(this.layout.instructionsDir);
    await this.instructions.setMostRecent(groupId, deploymentDir);
  }

  private async install(spec: DeploymentSpec, deploymentDir: string, logger: Logger, signal?: AbortSignal): Promise<void> {
    const { config } = this.options;
    await makeDirs(this.layout.instructionsDir);
    const archiveDir = this.layout.archiveDir(deploymentDir);
    const { spec: appspec, name } = await loadAppSpec(archiveDir, spec.appSpecFilename);
    if (spec.allPossibleLifecycleEvents) {
      checkLifecycleEvents(name, appspec, [...this.options.hookMapping.keys()], spec.allPossibleLifecycleEvents);
    }
    const summary = await install({
      deploymentGroupId: spec.deploymentGroupId,
      appspec,
      archiveDir,
      instructionsDir: this.layout.instructionsDir,
      ...(spec.fileExistsBehavior ? { specFileExistsBehavior: spec.fileExistsBehavior } : {}),
      baseDir: config.workingDirectory,
      logger,
      concurrency: config.installConcurrency,
      ...(signal ? { signal } : {}),
    });
    logger.info({ ...summary }, 'Install complete');
    await this.instructions.setLastSuccessful(spec.deploymentGroupId, deploymentDir);
  }

  private async chooseArchive(event: string, spec: DeploymentSpec): Promise<string | undefined> {
    const currentDir = this.deploymentDir(spec);
    const choice = revisionChoice(event, spec.deploymentCreator, spec.deploymentType);
    const currentArchiveExists = await exists(this.layout.archiveDir(currentDir));
    const dir = chooseRevisionDir(choice, {
      currentDeploymentDir: currentDir,
      currentArchiveExists,
      ...(choice === 'LastSuccessfulOrIgnore' ? { lastSuccessfulDir: await this.instructions.lastSuccessful(spec.deploymentGroupId) } : {}),
      ...(choice === 'MostRecentOrIgnore' ? { mostRecentDir: await this.instructions.mostRecent(spec.deploymentGroupId) } : {}),
    });
    return dir === undefined ? undefined : this.layout.archiveDir(dir);
  }

  private async runHooks(
    commandName: string,
    spec: DeploymentSpec,
    deploymentDir: string,
    appspecs: CommandAppSpecs,
    logger: Logger,
    signal?: AbortSignal,
  ): Promise<CommandOutcome> {
    const events = this.options.hookMapping.get(commandName) ?? [];
    let log: ScriptLogWriter | undefined;
    try {
      for (const event of events) {
        const archiveDir = await this.chooseArchive(event, spec);
        if (!archiveDir) {
          logger.info({ event }, `${event}: no previous revision, nothing to run`);
          continue;
        }
        const { spec: appspec } = await appspecs.load(archiveDir);
        const scripts = appspec.hooks.get(event) ?? [];
        if (scripts.length === 0) continue;
        await this.checkWorkingDirectory();
        log ??= createScriptLogWriter({
          scriptsLogPath: this.layout.scriptsLog(deploymentDir),
          deploymentId: spec.deploymentId,
          logger,
          ...(this.options.deploymentsLog ? { deploymentsLog: this.options.deploymentsLog } : {}),
        });
        const result: HookResult = await runLifecycleEvent({
          event,
          scripts,
          archiveDir,
          env: buildHookEnvironment({
            baseEnv: this.options.baseEnv,
            lifecycleEvent: event,
            deploymentId: spec.deploymentId,
            applicationName: spec.applicationName,
            deploymentGroupName: spec.deploymentGroupName,
            deploymentGroupId: spec.deploymentGroupId,
            revisionEnv: revisionEnvironment(spec.revision),
          }),
          cwd: this.options.config.workingDirectory,
          rootDir: this.options.config.rootDir,
          killGraceMs: this.options.config.hookKillGraceSeconds * 1000,
          outputDrainMs: this.options.config.hookOutputDrainSeconds * 1000,
          log,
          logger: logger.child({ lifecycleEvent: event }),
          ...(signal ? { signal } : {}),
          ...(this.options.onHookScript
            ? {
                onScript: (e) =>
                  this.options.onHookScript?.({ ...e, deploymentId: spec.deploymentId, deploymentGroupId: spec.deploymentGroupId }),
              }
            : {}),
        });
        if (result.errorCode !== ScriptErrorCode.SUCCEEDED) {
          return failed(result.errorCode, result.message, result.scriptName, result.log);
        }
      }
      return succeeded();
    } finally {
      await log?.close();
    }
  }

  private async checkWorkingDirectory(): Promise<void> {
    await assertWorkingDirectory(this.options.config);
  }
}

/** The hooks' working directory must be a directory: else a CONFIG_INVALID error that says where to fix it. */
export async function assertWorkingDirectory(config: Pick<AgentConfig, 'workingDirectory' | 'source'>): Promise<void> {
  const dir = config.workingDirectory;
  try {
    const s = await stat(dir);
    if (s.isDirectory()) return;
  } catch {
    // reported below
  }
  throw new AgentError(
    ErrorCodes.CONFIG_INVALID,
    `The working directory for hook scripts (${dir}) does not exist or is not a directory. Create it, or set :working_directory: in ${config.source}`,
  );
}

/** BUNDLE_* variables of docs/reference.md section 7.3; undefined values are left unset. */
export function revisionEnvironment(revision: Revision): Record<string, string | undefined> {
  if (revision.type === 'S3') {
    return { BUNDLE_BUCKET: revision.bucket, BUNDLE_KEY: revision.key, BUNDLE_VERSION: revision.version, BUNDLE_ETAG: revision.etag };
  }
  if (revision.type === 'GitHub') return { BUNDLE_COMMIT: revision.commitId };
  return {};
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path, fsConstants.F_OK);
    return true;
  } catch {
    return false;
  }
}

async function ensureExists(path: string, kind: 'file' | 'directory'): Promise<void> {
  let s;
  try {
    s = await stat(path);
  } catch (err) {
    throw new AgentError(ErrorCodes.BUNDLE_FETCH, `The local revision ${path} does not exist or is not readable`, { cause: err });
  }
  if (kind === 'directory' ? !s.isDirectory() : !s.isFile()) {
    throw new AgentError(ErrorCodes.BUNDLE_FETCH, `The local revision ${path} is not a ${kind}`);
  }
}
