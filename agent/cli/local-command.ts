/**
 * codedeploy-local: runs a whole deployment on this host from a local bundle with no control
 * plane (docs/reference.md section 9). Parses and checks the options, loads the config, opens the log,
 * has deployment/local-deployment.ts run the events, and prints what the official CLI prints:
 * output lines and exit statuses follow it; progress per event goes to stderr so stdout stays
 * what scripts that wrap the official tool expect. Which config and working directory it uses:
 * local-config.ts. Interrupted (SIGINT/SIGTERM, see codedeploy-local.ts), it stops the running
 * event, says what was stopped and exits 130/143.
 */
import { access, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Logger } from 'pino';
import { AgentError, ErrorCodes } from '../errors.js';
import { toError } from '../../common/errors.js';
import { eventsToRun } from '../deployment/lifecycle.js';
import { checkEventNames } from '../deployment/lifecycle-check.js';
import { runLocalDeployment, type LocalDeploymentResult } from '../deployment/local-deployment.js';
import { HookStopReason } from '../hooks/types.js';
import { createFileAgentLog, type AgentLog } from '../log/agent-logger.js';
import { assertLogDirWritable } from '../log/log-dir.js';
import { packageVersion } from '../../common/version.js';
import { localRemoteFetcher } from './local-remote.js';
import type { CliIo } from '../../common/cli-io.js';
import { hostLocalDefaults, resolveLocalConfig, type LocalDefaults } from './local-config.js';
import { LOCAL_USAGE, parseLocalArgs, validateLocalOptions, type LocalOptions } from './local-options.js';

export interface LocalCommandContext {
  io: CliIo;
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** A logger to use instead of <log_dir>/codedeploy-local.log (tests). */
  logger?: Logger;
  /** The host's default config files, working directory and root-ness (tests inject their own). */
  defaults?: LocalDefaults;
  /** Aborted with a LocalInterrupt when the process gets SIGINT or SIGTERM (codedeploy-local.ts). */
  interrupt?: AbortSignal;
}

/** The abort reason of an interrupted codedeploy-local; hooks say "stopped because <message>". */
export class LocalInterrupt extends HookStopReason {
  constructor(readonly signalName: 'SIGINT' | 'SIGTERM') {
    super(`codedeploy-local was interrupted by ${signalName}`);
  }

  /** The shell's convention, 128 + the signal number: 130 for SIGINT, 143 for SIGTERM. */
  get exitCode(): number {
    return this.signalName === 'SIGINT' ? 130 : 143;
  }
}

const LOG_FILE_NAME = 'codedeploy-local.log';
/** The most lines of a failed script's output that are printed (the tail is at most ~2 KB anyway). */
const TAIL_LINES = 20;

async function pathKind(path: string): Promise<'file' | 'directory' | undefined> {
  try {
    const s = await stat(path);
    return s.isDirectory() ? 'directory' : 'file';
  } catch {
    return undefined;
  }
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
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

  let agentLog: AgentLog | undefined;
  let logger = ctx.logger;
  try {
    await validateLocalOptions(options, { kind: pathKind }, ctx.cwd);
    const events = eventsToRun(options.events);
    checkEventNames(events);
    const { config, warnings, notice, file } = await resolveLocalConfig({
      configFile: options.configFile,
      cwd: ctx.cwd,
      env: ctx.env,
      defaults: ctx.defaults ?? hostLocalDefaults(),
    });
    if (notice) io.stderr(notice);
    const localLog = resolve(config.logDir, LOG_FILE_NAME);
    if (!logger) {
      await assertLogDirWritable(config.logDir, { fileName: LOG_FILE_NAME, ...(file !== undefined ? { configSource: file } : {}) });
      agentLog = createFileAgentLog({
        file: localLog,
        level: config.verbose ? 'debug' : 'info',
        name: 'codedeploy-local',
        format: config.logFormat,
      });
      logger = agentLog.logger;
    }
    for (const w of warnings) logger.warn(w);
    logger.info({ workingDirectory: config.workingDirectory, rootDir: config.rootDir, config: config.source }, 'codedeploy-local starting');

    const deployLogger = logger;
    const result = await runLocalDeployment({
      request: options,
      events,
      config,
      logger,
      env: ctx.env,
      cwd: ctx.cwd,
      remoteFetcher: () => localRemoteFetcher(config, ctx.env, deployLogger, (line) => io.stderr(line)),
      ...(ctx.interrupt ? { signal: ctx.interrupt } : {}),
      onStart: (deploymentDir) => io.stdout(`Starting to execute deployment from within folder ${deploymentDir}\n`),
      onEvent: (event, outcome, ms) =>
        io.stderr(`  ${event.padEnd(20)} ${outcome.status === 'Succeeded' ? 'succeeded' : 'FAILED'} (${(ms / 1000).toFixed(2)}s)\n`),
    });
    await report(io, result, localLog);
    const reason: unknown = ctx.interrupt?.reason;
    if (result.interrupted && reason instanceof LocalInterrupt) {
      logger.warn({ event: result.failedEvent, signal: reason.signalName }, `deployment interrupted by ${reason.signalName}`);
      return reason.exitCode;
    }
    return result.failure ? 1 : 0;
  } catch (err) {
    const error = toError(err);
    logger?.error({ err: error }, error.message);
    io.stdout(`ERROR: ${error.message}\n`);
    const reason: unknown = ctx.interrupt?.reason;
    if (reason instanceof LocalInterrupt) return reason.exitCode;
    return error instanceof AgentError && error.code === ErrorCodes.USAGE ? 2 : 1;
  } finally {
    if (agentLog) await agentLog.close();
    else logger?.flush();
  }
}

/**
 * The official lines (docs/reference.md section 9.3 step 7), plus ours: the interruption, the last
 * lines of a failed script's output, and a pointer to the log that exists (scripts.log only once a
 * hook has written it; before that, codedeploy-local.log, where the error is).
 */
async function report(io: CliIo, result: LocalDeploymentResult, localLog: string): Promise<void> {
  const d = result.failure;
  if (result.interrupted) {
    const event = result.failedEvent ?? 'an event';
    const what = result.notStarted ? `before ${event}` : `while running ${event}${d?.script_name ? ` (script ${d.script_name})` : ''}`;
    io.stdout(`Your local deployment was interrupted ${what}; the deployment did not complete\n`);
    io.stdout(`${d?.message ?? ''}\n`);
  } else if (d?.script_name) {
    io.stdout(`Your local deployment failed while trying to execute your script at ${result.archiveDir}/${d.script_name}\n`);
    io.stdout(`${d.message}\n`);
  } else if (d) {
    io.stdout(`ERROR: ${d.message}\n`);
  }
  if (d?.script_name && d.log !== '') {
    const lines = d.log.replace(/\n$/, '').split('\n').slice(-TAIL_LINES);
    io.stdout(`The last lines of its output (from scripts.log):\n${lines.map((l) => `    ${l}\n`).join('')}`);
  }
  if (await exists(result.scriptsLog)) io.stdout(`See the deployment log at ${result.scriptsLog} for more details\n`);
  else io.stdout(`See the codedeploy-local log at ${localLog} for more details\n`);
  if (!d) io.stdout('AppSpec file valid. Local deployment successful\n');
}
