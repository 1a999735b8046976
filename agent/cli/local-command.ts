/**
 * codedeploy-local: runs a whole deployment on this host from a local bundle with no control
 * plane (docs/reference.md section 9). Parses and checks the options, loads the config, opens the log,
 * has deployment/local-deployment.ts run the events, and prints what the official CLI prints:
 * output lines and exit statuses follow it; progress per event goes to stderr so stdout stays
 * what scripts that wrap the official tool expect.
 */
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Logger } from 'pino';
import { loadAgentConfig } from '../config/agent-config.js';
import { AgentError, ErrorCodes } from '../errors.js';
import { toError } from '../../common/errors.js';
import { eventsToRun } from '../deployment/lifecycle.js';
import { checkEventNames } from '../deployment/lifecycle-check.js';
import { runLocalDeployment } from '../deployment/local-deployment.js';
import { createFileAgentLog, type AgentLog } from '../log/agent-logger.js';
import { assertLogDirWritable } from '../log/log-dir.js';
import { packageVersion } from '../../common/version.js';
import { localRemoteFetcher } from './local-remote.js';
import type { CliIo } from '../../common/cli-io.js';
import { LOCAL_USAGE, parseLocalArgs, validateLocalOptions, type LocalOptions } from './local-options.js';

export interface LocalCommandContext {
  io: CliIo;
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** A logger to use instead of <log_dir>/codedeploy-local.log (tests). */
  logger?: Logger;
}

const LOG_FILE_NAME = 'codedeploy-local.log';

async function pathKind(path: string): Promise<'file' | 'directory' | undefined> {
  try {
    const s = await stat(path);
    return s.isDirectory() ? 'directory' : 'file';
  } catch {
    return undefined;
  }
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
    const configFile = resolve(ctx.cwd, options.configFile);
    if ((await pathKind(configFile)) !== 'file') {
      throw new AgentError(ErrorCodes.CONFIG_INVALID, `configuration file ${options.configFile} does not exist or is not readable`);
    }
    const { config, warnings } = await loadAgentConfig(configFile);
    if (!logger) {
      await assertLogDirWritable(config.logDir, { fileName: LOG_FILE_NAME, configSource: configFile });
      agentLog = createFileAgentLog({
        file: resolve(config.logDir, LOG_FILE_NAME),
        level: config.verbose ? 'debug' : 'info',
        name: 'codedeploy-local',
      });
      logger = agentLog.logger;
    }
    for (const w of warnings) logger.warn(w);

    const deployLogger = logger;
    const result = await runLocalDeployment({
      request: options,
      events,
      config,
      logger,
      env: ctx.env,
      cwd: ctx.cwd,
      remoteFetcher: () => localRemoteFetcher(config, ctx.env, deployLogger),
      onStart: (deploymentDir) => io.stdout(`Starting to execute deployment from within folder ${deploymentDir}\n`),
      onEvent: (event, outcome, ms) =>
        io.stderr(`  ${event.padEnd(20)} ${outcome.status === 'Succeeded' ? 'succeeded' : 'FAILED'} (${(ms / 1000).toFixed(2)}s)\n`),
    });
    const d = result.failure;
    if (d?.script_name) {
      io.stdout(`Your local deployment failed while trying to execute your script at ${result.archiveDir}/${d.script_name}\n`);
      io.stdout(`${d.message}\n`);
    } else if (d) {
      io.stdout(`ERROR: ${d.message}\n`);
    }
    io.stdout(`See the deployment log at ${result.scriptsLog} for more details\n`);
    if (!d) io.stdout('AppSpec file valid. Local deployment successful\n');
    return d ? 1 : 0;
  } catch (err) {
    const error = toError(err);
    logger?.error({ err: error }, error.message);
    io.stdout(`ERROR: ${error.message}\n`);
    return error instanceof AgentError && error.code === ErrorCodes.USAGE ? 2 : 1;
  } finally {
    if (agentLog) await agentLog.close();
    else logger?.flush();
  }
}
