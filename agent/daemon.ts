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
import { AgentError, ErrorCodes, startExitCode } from './errors.js';
import { errnoCode, toError } from '../common/errors.js';
import { packageVersion } from '../common/version.js';
import { createStatusPublisher, type StatusPublisher } from './status/status-publisher.js';
import { statusFilePath } from './status/status-file.js';
import { commandsEndpoint, wireDaemon, type DaemonParts } from './daemon-wiring.js';
import {
  accountEnvironment,
  agentDirectoryGrants,
  describeAccount,
  grantDirectories,
  resolveAgentAccount,
  switchToAccount,
} from './platform/privileges.js';
import { lookupUser } from './hooks/user-lookup.js';
import { createAccountLookup } from './install/accounts.js';
import { createToolRunner } from './platform/tool-runner.js';
import { ensureVersionFile, runtimeFlavour } from './platform/version-file.js';

export interface DaemonOptions {
  config: Readonly<AgentConfig>;
  env: NodeJS.ProcessEnv;
  /** Where operator-facing start-up problems go (stderr). */
  report: (line: string) => void;
  /** Resolves when the daemon should stop (SIGTERM/SIGINT in production). */
  stopSignal: Promise<string>;
  /** Log to this logger instead of <log_dir>/codedeploy-agent.log (tests). */
  logger?: Logger;
  /** The config loader's warnings (ignored and unknown keys), repeated in the agent log at start. */
  configWarnings?: readonly string[];
}

export interface DaemonHandle {
  /** Resolves with the exit code once the daemon has stopped. */
  done: Promise<number>;
}

/**
 * Runs the daemon until the stop signal; resolves with the exit code: 0 after a stop, 78 when it
 * could not start because of its configuration, 1 when it could not start otherwise (errors.ts
 * startExitCode).
 */
export async function runDaemon(o: DaemonOptions): Promise<number> {
  const { config } = o;
  const log = await openAgentLog(o);
  if (typeof log === 'number') return log;
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
    logger.info({ version, config: config.source, node: process.version }, `Starting ${config.programName} ${version}`);
    for (const warning of o.configWarnings ?? []) logger.warn(`config: ${warning}`);
    await writeVersionFile(config, version, logger);
    // :user: - everything from here on (identity, credentials, deployments) runs as that user.
    const env = await dropPrivileges(config, o.env, logger, log.agentLog);
    // Configuration before identity: a bad CA file is a configuration error (exit 78) even while
    // the network is not up yet.
    const trustedCaPem = await readTrustedCa(config);
    const identity = await resolveIdentity({ config, env, logger });
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
    parts = wireDaemon(config, {
      env,
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
    const code = startExitCode(err);
    logger.fatal({ err: error, exitCode: code }, `Could not start: ${error.message}`);
    o.report(`${config.programName}: could not start: ${error.message}`);
    return code;
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

/** The injected logger, or <log_dir>/<program>.log; the exit code (reported) when log_dir is unusable. */
async function openAgentLog(o: DaemonOptions): Promise<{ logger: Logger; agentLog?: AgentLog } | number> {
  const { config } = o;
  if (o.logger) return { logger: o.logger };
  try {
    await assertLogDirWritable(config.logDir, { fileName: `${config.programName}.log`, configSource: config.source });
  } catch (err) {
    // systemd shows the status as "78/CONFIG"; the message says what to fix.
    o.report(`${config.programName}: could not start: ${toError(err).message}`);
    return startExitCode(err);
  }
  const agentLog = createRotatingAgentLog({
    file: join(config.logDir, `${config.programName}.log`),
    rotation: { maxBytes: config.logMaxBytes, keep: config.logFilesKept },
    level: config.verbose ? 'debug' : 'info',
    name: config.programName,
    format: config.logFormat,
  });
  return { logger: agentLog.logger, agentLog };
}

/**
 * :user: / :group: (agent/platform/privileges.ts): after the host locks and the pid file, give the
 * user root_dir, pid_dir and log_dir, then switch to it for good. The locks are flocks on open
 * descriptors and the log file is open: both stay usable. Returns the environment for the rest
 * of the agent (the user's HOME, USER, LOGNAME), or `env` itself when there is nothing to switch.
 */
async function dropPrivileges(
  config: Readonly<AgentConfig>,
  env: NodeJS.ProcessEnv,
  logger: Logger,
  agentLog: AgentLog | undefined,
): Promise<NodeJS.ProcessEnv> {
  const account = await resolveAgentAccount({
    ...(config.user !== undefined ? { user: config.user } : {}),
    ...(config.group !== undefined ? { group: config.group } : {}),
    configSource: config.source,
    euid: process.geteuid?.() ?? 0,
    lookups: { user: lookupUser, group: (name) => createAccountLookup(createToolRunner({ timeoutMs: 10_000 })).gid(name) },
  });
  if (!account) return env;
  // The log file must exist (it is opened on the first write) before it is handed over.
  await agentLog?.flush();
  const started = Date.now();
  const outcomes = await grantDirectories(agentDirectoryGrants(config, { logDir: agentLog !== undefined }), account, config.source);
  const changed = outcomes.map((g) => `${g.key} ${g.changed}`).join(', ');
  logger.info(
    { ms: Date.now() - started },
    `Gave user ${account.user.name} the agent's directories (entries whose owner changed: ${changed})`,
  );
  switchToAccount(account);
  logger.info(
    { uid: account.user.uid, gid: account.gid, groups: process.getgroups?.() },
    `Running as user ${describeAccount(account)} (:user: in ${config.source}); root cannot be regained`,
  );
  return accountEnvironment(env, account);
}

/** :deployment_spec_ca_file:, when set: the CA that PKCS7 specifications must chain to. */
async function readTrustedCa(config: Readonly<AgentConfig>): Promise<string | undefined> {
  if (!config.deploymentSpecCaFile) return undefined;
  let pem: string;
  try {
    pem = await readFile(config.deploymentSpecCaFile, 'utf8');
  } catch (err) {
    throw new AgentError(
      ErrorCodes.CONFIG_INVALID,
      `:deployment_spec_ca_file: ${config.deploymentSpecCaFile} in ${config.source} cannot be read (${errnoCode(err) ?? toError(err).message}); fix the path or the file's permissions, or remove the key`,
      { cause: err, details: { key: 'deployment_spec_ca_file' } },
    );
  }
  if (!pem.includes('BEGIN CERTIFICATE')) {
    throw new AgentError(ErrorCodes.CONFIG_INVALID, `:deployment_spec_ca_file: ${config.deploymentSpecCaFile} holds no PEM certificate`);
  }
  return pem;
}

/**
 * <root_dir>/../.version (platform/version-file.ts), before the privilege drop (the install
 * directory is root's). Not fatal: a read-only install directory only costs the file.
 */
async function writeVersionFile(config: Readonly<AgentConfig>, version: string, logger: Logger): Promise<void> {
  try {
    const outcome = await ensureVersionFile(config.rootDir, version, runtimeFlavour());
    if (outcome.action === 'written') logger.info({ file: outcome.path }, `Wrote ${outcome.path} (${outcome.line})`);
    if (outcome.action === 'skipped') logger.debug(`No version file next to :root_dir: ${config.rootDir}: ${outcome.line}`);
  } catch (err) {
    logger.warn(
      { err: toError(err).message },
      `Could not write the version file next to :root_dir: ${config.rootDir}: ${toError(err).message}`,
    );
  }
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
