/**
 * codedeploy-local: runs a whole deployment on this host from a local bundle with no control
 * plane (reference section 9). Output lines and exit statuses follow the official CLI; progress
 * per event goes to stderr so stdout stays what scripts that wrap the official tool expect.
 */
import { randomInt } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Logger } from 'pino';
import { loadAgentConfig } from '../config/agent-config.js';
import { AgentError, ErrorCodes } from '../errors.js';
import { toError } from '../../common/errors.js';
import { CommandExecutor } from '../deployment/command-executor.js';
import { groupBusyMessage, lockDeploymentGroup } from '../deployment/group-lock.js';
import { LockBusyError, type FileLock } from '../../common/file-lock.js';
import { DEFAULT_HOOK_EVENTS, DEFAULT_ORDERED_LIFECYCLE_EVENTS, isPascalCase } from '../deployment/lifecycle.js';
import { parseDeploymentSpec } from '../spec/deployment-spec.js';
import { createFileAgentLog, type AgentLog } from '../log/agent-logger.js';
import { createDeploymentsLog, type DeploymentsLog } from '../log/deployments-log.js';
import { makeDirs, ROOT_DIR_MODE } from '../../common/file-modes.js';
import { assertLogDirWritable } from '../log/log-dir.js';
import { packageVersion } from '../../common/version.js';
import { localRemoteFetcher } from './local-remote.js';
import type { CliIo } from '../../common/cli-io.js';
import { eventsToRun, LOCAL_USAGE, locationKind, parseLocalArgs, validateLocalOptions, type LocalOptions } from './local-options.js';

export interface LocalCommandContext {
  io: CliIo;
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** A logger to use instead of <log_dir>/codedeploy-local.log (tests). */
  logger?: Logger;
}

const LOG_FILE_NAME = 'codedeploy-local.log';
const ALPHANUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

export function localDeploymentId(): string {
  let id = '';
  for (let i = 0; i < 9; i++) id += ALPHANUM[randomInt(ALPHANUM.length)];
  return `d-${id}-local`;
}

async function pathKind(path: string): Promise<'file' | 'directory' | undefined> {
  try {
    const s = await stat(path);
    return s.isDirectory() ? 'directory' : 'file';
  } catch {
    return undefined;
  }
}

/** The TEXT/JSON specification codedeploy-local builds (reference section 9.3 step 3). */
export function buildLocalSpec(o: LocalOptions, deploymentId: string, events: string[], cwd = process.cwd()): Record<string, unknown> {
  const location = o.bundleLocation;
  let revision: Record<string, unknown>;
  const kind = locationKind(location);
  if (kind === 's3') {
    const url = new URL(location);
    const s3: Record<string, unknown> = { Bucket: url.hostname, Key: decodeURIComponent(url.pathname.replace(/^\//, '')), BundleType: o.type };
    const version = url.searchParams.get('versionId');
    const etag = url.searchParams.get('etag');
    if (version) s3.Version = version;
    if (etag) s3.ETag = etag;
    revision = { RevisionType: 'S3', S3Revision: s3 };
  } else if (kind === 'github') {
    revision = { RevisionType: 'GitHub', GitHubRevision: githubRevision(location, o.type) };
  } else {
    const path = resolve(cwd, location);
    revision =
      o.type === 'directory'
        ? { RevisionType: 'Local Directory', LocalRevision: { Location: path, BundleType: 'directory' } }
        : { RevisionType: 'Local File', LocalRevision: { Location: path, BundleType: o.type } };
  }
  return {
    DeploymentId: deploymentId,
    DeploymentGroupId: o.deploymentGroupId,
    DeploymentGroupName: o.deploymentGroupName,
    ApplicationName: o.applicationName,
    ApplicationId: location,
    DeploymentCreator: 'user',
    DeploymentType: 'IN_PLACE',
    AppSpecFilename: o.appSpecFilename ?? 'appspec.yml',
    AgentActionOverrides: { AgentOverrides: { FileExistsBehavior: o.fileExistsBehavior } },
    Revision: revision,
    AllPossibleLifecycleEvents: [...new Set([...DEFAULT_ORDERED_LIFECYCLE_EVENTS, ...events])],
  };
}

function githubRevision(location: string, type: string): Record<string, unknown> {
  const bundleType = type === 'zip' || type === 'tar' ? type : 'zip';
  const api = /^https:\/\/api\.github\.com\/repos\/([^/]+)\/([^/]+)\/(tarball|zipball)\/([^/?#]+)/i.exec(location);
  if (api) {
    return { Account: api[1], Repository: api[2], CommitId: api[4], BundleType: api[3] === 'tarball' ? 'tar' : 'zip' };
  }
  const web = /^https:\/\/github\.com\/([^/]+)\/([^/?#]+?)(?:\.git)?\/?$/i.exec(location);
  if (web) return { Account: web[1], Repository: web[2], CommitId: 'HEAD', BundleType: bundleType };
  throw new AgentError(
    ErrorCodes.LOCAL_VALIDATION,
    `location ${location} is not a supported https location: use https://github.com/<owner>/<repo> or https://api.github.com/repos/<owner>/<repo>/(tarball|zipball)/<ref>`,
  );
}

export async function runCodedeployLocal(argv: string[], ctx: LocalCommandContext): Promise<number> {
  const { io } = ctx;
  let options: LocalOptions;
  try {
    options = parseLocalArgs(argv, ctx.cwd);
  } catch (err) {
    io.stderr(`ERROR: ${toError(err).message}\n\n${LOCAL_USAGE}`);
    return 2;
  }
  if (options.help) {
    io.stdout(LOCAL_USAGE);
    return 0;
  }
  if (options.version) {
    io.stdout(`${packageVersion()}\n`);
    return 0;
  }

  let deploymentsLog: DeploymentsLog | undefined;
  let groupLock: FileLock | undefined;
  let agentLog: AgentLog | undefined;
  let logger = ctx.logger;
  try {
    await validateLocalOptions(options, { kind: pathKind }, ctx.cwd);
    const events = eventsToRun(options.events);
    for (const e of events) {
      if (!isPascalCase(e)) throw new AgentError(ErrorCodes.LOCAL_VALIDATION, `Received command is not in PascalCase form: ${e}`);
    }
    const configFile = resolve(ctx.cwd, options.configFile);
    if ((await pathKind(configFile)) !== 'file') {
      throw new AgentError(ErrorCodes.CONFIG_INVALID, `configuration file ${options.configFile} does not exist or is not readable`);
    }
    const { config, warnings } = await loadAgentConfig(configFile);
    if (!logger) {
      await assertLogDirWritable(config.logDir, { fileName: LOG_FILE_NAME, configSource: configFile });
      agentLog = createFileAgentLog({ file: resolve(config.logDir, LOG_FILE_NAME), level: config.verbose ? 'debug' : 'info', name: 'codedeploy-local' });
      logger = agentLog.logger;
    }
    for (const w of warnings) logger.warn(w);

    const deploymentId = localDeploymentId();
    const specJson = buildLocalSpec(options, deploymentId, events, ctx.cwd);
    const spec = parseDeploymentSpec({ Format: 'TEXT/JSON', Payload: JSON.stringify(specJson) }, { allowUnsigned: true });
    const hookEvents = [...new Set([...DEFAULT_HOOK_EVENTS, ...events])].filter((e) => e !== 'DownloadBundle' && e !== 'Install');
    await createRootDir(config.rootDir);
    if (config.enableDeploymentsLog) deploymentsLog = createDeploymentsLog({ path: resolve(config.rootDir, 'deployment-logs', 'codedeploy-agent-deployments.log') });
    const remote = locationKind(options.bundleLocation) !== 'local';
    const executor = new CommandExecutor({
      config,
      logger,
      ...(remote ? { fetchRemoteBundle: await localRemoteFetcher(config, ctx.env, logger) } : {}),
      hookMapping: new Map(hookEvents.map((e) => [e, [e]])),
      ...(deploymentsLog ? { deploymentsLog } : {}),
      baseEnv: ctx.env,
    });
    // One writer per deployment group (the daemon or another codedeploy-local may be deploying
    // into it): refuse rather than wait, so a second run in a terminal or CI says why at once.
    try {
      groupLock = await lockDeploymentGroup(executor.layout, spec.deploymentGroupId, { wait: false });
    } catch (err) {
      if (err instanceof LockBusyError) throw new AgentError(ErrorCodes.DEPLOYMENT_ROOT, groupBusyMessage(spec.deploymentGroupId, err.holder));
      throw err;
    }
    const deploymentDir = executor.deploymentDir(spec);
    io.stdout(`Starting to execute deployment from within folder ${deploymentDir}\n`);
    let ok = true;
    for (const event of events) {
      const started = Date.now();
      const outcome = await executor.execute(event, spec);
      const seconds = ((Date.now() - started) / 1000).toFixed(2);
      if (outcome.status === 'Succeeded') {
        io.stderr(`  ${event.padEnd(20)} succeeded (${seconds}s)\n`);
        continue;
      }
      ok = false;
      const d = outcome.diagnostics;
      io.stderr(`  ${event.padEnd(20)} FAILED (${seconds}s)\n`);
      if (d.script_name) {
        io.stdout(`Your local deployment failed while trying to execute your script at ${executor.layout.archiveDir(deploymentDir)}/${d.script_name}\n`);
        io.stdout(`${d.message}\n`);
      } else {
        io.stdout(`ERROR: ${d.message}\n`);
      }
      break;
    }
    io.stdout(`See the deployment log at ${executor.layout.scriptsLog(deploymentDir)} for more details\n`);
    if (ok) io.stdout('AppSpec file valid. Local deployment successful\n');
    return ok ? 0 : 1;
  } catch (err) {
    const error = toError(err);
    logger?.error({ err: error }, error.message);
    io.stdout(`ERROR: ${error.message}\n`);
    return error instanceof AgentError && error.code === ErrorCodes.USAGE ? 2 : 1;
  } finally {
    await groupLock?.release();
    await deploymentsLog?.close();
    if (agentLog) await agentLog.close();
    else logger?.flush();
  }
}

/** root_dir holds bundles and hook output: 0700 like the daemon's, whatever the umask (DESIGN.md section 8). */
async function createRootDir(rootDir: string): Promise<void> {
  try {
    await makeDirs(rootDir, { mode: ROOT_DIR_MODE });
  } catch (err) {
    throw new AgentError(ErrorCodes.DEPLOYMENT_ROOT, `cannot create the deployment root ${rootDir}: ${toError(err).message}; fix its owner or mode, or set :root_dir:`, { cause: err });
  }
}
