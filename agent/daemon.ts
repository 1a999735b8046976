/**
 * codedeploy-agent start: the long-running daemon. Opens the agent log, takes the host locks,
 * resolves the identity, has daemon-wiring.ts build the object graph, then runs it: reports
 * readiness to systemd, polls, and shuts down gracefully on the stop signal (SIGTERM/SIGINT).
 * Nothing here is global: the caller passes the environment, the signals source and the paths.
 */
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { AgentConfig } from './config/agent-config.js';
import { createRotatingAgentLog, type AgentLog } from './log/agent-logger.js';
import { assertLogDirWritable } from './log/log-dir.js';
import { makeDirs, ROOT_DIR_MODE } from '../common/file-modes.js';
import { resolveIdentity } from './identity/resolve-identity.js';
import { acquireDirectoryLock, acquireFileLock, describeHolder, LockBusyError, type FileLock } from '../common/file-lock.js';
import { AgentError, ErrorCodes } from './errors.js';
import { toError } from '../common/errors.js';
import { packageVersion } from '../common/version.js';
import { createStatusPublisher, type StatusPublisher } from './status/status-publisher.js';
import { statusFilePath } from './status/status-file.js';
import { commandsEndpoint, wireDaemon, type DaemonParts } from './daemon-wiring.js';

export interface DaemonOptions {
  config: Readonly<AgentConfig>;
  env: NodeJS.ProcessEnv;
  /** Where operator-facing start-up problems go (stderr). */
  report: (line: string) => void;
  /** Resolves when the daemon should stop (SIGTERM/SIGINT in production). */
  stopSignal: Promise<string>;
  /** Log to this logger instead of <log_dir>/codedeploy-agent.log (tests). */
  logger?: Logger;
}

export interface DaemonHandle {
  /** Resolves with the exit code once the daemon has stopped. */
  done: Promise<number>;
}

/** Runs the daemon until the stop signal; resolves with the exit code (1: it could not start). */
export async function runDaemon(o: DaemonOptions): Promise<number> {
  const { config } = o;
  const log = await openAgentLog(o);
  if (!log) return 1;
  const { logger } = log;
  const pidFile = join(config.pidDir, `${config.programName}.pid`);
  let hostLocks: FileLock[] = [];
  let statusPublisher: StatusPublisher | undefined;
  let parts: DaemonParts | undefined;
  try {
    // One agent per host, before anything else: a second start must not touch the running
    // agent's tracking files, outbox or pid file.
    hostLocks = await lockHost(config);
    await writeFile(pidFile, `${process.pid}`);
    const version = packageVersion();
    logger.info({ version, config: config.source, pid: process.pid, node: process.version }, `Starting ${config.programName} ${version}`);
    const identity = await resolveIdentity({ config, env: o.env, logger });
    const endpoint = commandsEndpoint(config, identity);
    const summary = `${identity.summary}; CodeDeploy endpoint: ${endpoint}`;
    logger.info({ kind: identity.kind, hostIdentifier: identity.hostIdentifier, region: identity.region, endpoint }, summary);
    o.report(`${config.programName}: ${summary}`);

    // <pid_dir>/<program>.status.json for `codedeploy-agent status` (agent/status/status-file.ts).
    statusPublisher = await createStatusPublisher({
      file: statusFilePath(config.pidDir, config.programName),
      logger,
      version,
      identityKind: identity.kind,
      hostIdentifier: identity.hostIdentifier,
      region: identity.region,
      endpoint,
    });
    const trustedCaPem = await readTrustedCa(config);
    parts = wireDaemon(config, {
      env: o.env,
      logger,
      identity,
      endpoint,
      version,
      status: statusPublisher,
      ...(trustedCaPem !== undefined ? { trustedCaPem } : {}),
    });
    await serve(parts, statusPublisher, o.stopSignal);
    return 0;
  } catch (err) {
    const error = toError(err);
    logger.fatal({ err: error }, `Could not start: ${error.message}`);
    o.report(`${config.programName}: could not start: ${error.message}`);
    return 1;
  } finally {
    await parts?.delivery.stop();
    parts?.client.close();
    await statusPublisher?.stop().catch(() => undefined);
    await parts?.deploymentsLog?.close();
    // Only the lock holder wrote the pid file, so only it removes it.
    if (hostLocks.length > 0) await rm(pidFile, { force: true }).catch(() => undefined);
    for (const lock of hostLocks) await lock.release();
    logger.flush();
    await log.agentLog?.close();
  }
}

/**
 * Runs the wired parts: fails what the previous run left running, polls, tells systemd, and on
 * the stop signal (or the poller ending) stops polling, waits for running commands and gives
 * their results a short chance to reach the control plane.
 */
async function serve(parts: DaemonParts, statusPublisher: StatusPublisher, stopSignal: Promise<string>): Promise<void> {
  const { logger, notifier, poller, delivery } = parts;
  const recovered = await poller.recoverFromCrash();
  if (recovered > 0) logger.warn({ recovered }, `Reported ${recovered} command(s) interrupted by the previous stop as failed`);

  const loop = poller.start();
  void notifier.ready('idle: polling for commands');
  const stopWatchdog = notifier.startWatchdog();
  logger.info({ hostIdentifier: parts.pollerOptions.hostIdentifier }, 'Polling for commands');

  const signal = await Promise.race([stopSignal, loop.then(() => 'poller-ended')]);
  logger.info({ signal, running: poller.runningCommands }, `Stopping (${signal})`);
  statusPublisher.stopping();
  await notifier.stopping();
  stopWatchdog();
  await poller.stop();
  // Results of commands that just ended get a short chance to go out before we exit.
  const grace = new AbortController();
  await Promise.race([delivery.idle(), parts.sleep(5000, grace.signal).catch(() => undefined)]);
  grace.abort();
  if (delivery.pendingCount > 0)
    logger.warn(
      { pending: delivery.pendingCount },
      `${delivery.pendingCount} result(s) not yet acknowledged by the control plane stay in ${parts.pendingResultsDir} and are sent at the next start`,
    );
  await delivery.stop();
  logger.info('Stopped');
}

/** The injected logger, or <log_dir>/<program>.log; undefined (reported) when log_dir is unusable. */
async function openAgentLog(o: DaemonOptions): Promise<{ logger: Logger; agentLog?: AgentLog } | undefined> {
  const { config } = o;
  if (o.logger) return { logger: o.logger };
  try {
    await assertLogDirWritable(config.logDir, { fileName: `${config.programName}.log`, configSource: config.source });
  } catch (err) {
    o.report(`${config.programName}: could not start: ${toError(err).message}`);
    return undefined;
  }
  const agentLog = createRotatingAgentLog({
    file: join(config.logDir, `${config.programName}.log`),
    rotation: { maxBytes: config.logMaxBytes, keep: config.logFilesKept },
    level: config.verbose ? 'debug' : 'info',
    name: config.programName,
  });
  return { logger: agentLog.logger, agentLog };
}

/** :deployment_spec_ca_file:, when set: the CA that PKCS7 specifications must chain to. */
async function readTrustedCa(config: Readonly<AgentConfig>): Promise<string | undefined> {
  if (!config.deploymentSpecCaFile) return undefined;
  const pem = await readFile(config.deploymentSpecCaFile, 'utf8');
  if (!pem.includes('BEGIN CERTIFICATE')) {
    throw new AgentError(ErrorCodes.CONFIG_INVALID, `:deployment_spec_ca_file: ${config.deploymentSpecCaFile} holds no PEM certificate`);
  }
  return pem;
}

/**
 * The host locks: <pid_dir>/<program>.lock, and root_dir itself (two agents with different pid
 * dirs must not share a deployment root either; a directory lock adds no file to root_dir).
 * flock-based (common/file-lock.ts): a crashed agent never blocks the next start.
 */
async function lockHost(config: Readonly<AgentConfig>): Promise<FileLock[]> {
  const locks: FileLock[] = [];
  try {
    await makeDirs(config.rootDir, { mode: ROOT_DIR_MODE });
    // The pid dir stays world-readable so `codedeploy-agent status` works without root.
    await makeDirs(config.pidDir, { mode: 0o755, parentMode: 0o755 });
    locks.push(await acquireFileLock(join(config.pidDir, `${config.programName}.lock`), { program: config.programName }));
    locks.push(await acquireDirectoryLock(config.rootDir));
    return locks;
  } catch (err) {
    for (const lock of locks) await lock.release();
    if (err instanceof LockBusyError) {
      throw new AgentError(
        ErrorCodes.ALREADY_RUNNING,
        `another ${config.programName} is already running (${describeHolder(err.holder)} holds ${err.path}); stop it first (systemctl stop codedeploy-agent) or use \`${config.programName} status\``,
      );
    }
    throw err;
  }
}
