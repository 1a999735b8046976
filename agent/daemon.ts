/**
 * codedeploy-agent start: the long-running daemon. Wires the object graph by hand (config ->
 * logger -> identity -> endpoint -> client, spec verifier, fetchers, executor -> poller), reports
 * readiness to systemd, and shuts down gracefully on SIGTERM/SIGINT. Nothing here is global: the
 * caller passes the environment, the signals source and the paths.
 */
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { AgentConfig } from './config/agent-config.js';
import { createRotatingAgentLog, type AgentLog } from './log/agent-logger.js';
import { assertLogDirWritable } from './log/log-dir.js';
import { makeDirs, ROOT_DIR_MODE } from '../common/file-modes.js';
import { createDeploymentsLog, type DeploymentsLog } from './log/deployments-log.js';
import { resolveIdentity } from './identity/resolve-identity.js';
import { fipsAllowed, FIPS_NOT_ALLOWED_MESSAGE, resolveCommandsEndpoint } from './commands-client/endpoint.js';
import { createCommandsClient, defaultSleep, type CommandsClient } from './commands-client/commands-client.js';
import { pollLoopBackoffSeconds } from './commands-client/retry-policy.js';
import type { Pkcs7Verifier } from './spec/pkcs7-verifier.js';
import { parseDeploymentSpecAsync } from './spec/deployment-spec.js';
import { createRemoteBundleFetcher } from './bundle/remote-fetcher.js';
import type { CommandExecutor } from './deployment/command-executor.js';
import { DEFAULT_HOOK_EVENTS } from './deployment/lifecycle.js';
import { DeploymentLayout } from './deployment/layout.js';
import { OngoingCommandTracker } from './poller/ongoing-command-tracker.js';
import { Poller } from './poller/poller.js';
import { PENDING_RESULTS_DIR, PendingResultStore } from './poller/pending-results.js';
import { ResultDelivery } from './poller/result-delivery.js';
import { lockDeploymentGroup } from './deployment/group-lock.js';
import { acquireDirectoryLock, acquireFileLock, describeHolder, LockBusyError, type FileLock } from '../common/file-lock.js';
import { createNotifier } from './systemd/sd-notify.js';
import { AgentError, ErrorCodes } from './errors.js';
import { toError } from '../common/errors.js';
import { packageVersion } from '../common/version.js';
import { createStatusPublisher, type StatusPublisher } from './status/status-publisher.js';
import { statusFilePath } from './status/status-file.js';

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

/** Starts the daemon. Start-up failures reject; after start, problems are logged and retried. */
export async function runDaemon(o: DaemonOptions): Promise<number> {
  const { config } = o;
  let agentLog: AgentLog | undefined;
  let logger = o.logger;
  if (!logger) {
    try {
      await assertLogDirWritable(config.logDir, { fileName: `${config.programName}.log`, configSource: config.source });
    } catch (err) {
      o.report(`${config.programName}: could not start: ${toError(err).message}`);
      return 1;
    }
    agentLog = createRotatingAgentLog({
      file: join(config.logDir, `${config.programName}.log`),
      rotation: { maxBytes: config.logMaxBytes, keep: config.logFilesKept },
      level: config.verbose ? 'debug' : 'info',
      name: config.programName,
    });
    logger = agentLog.logger;
  }
  const notifier = createNotifier({ env: o.env, logger });
  let deploymentsLog: DeploymentsLog | undefined;
  let client: CommandsClient | undefined;
  const pidFile = join(config.pidDir, `${config.programName}.pid`);
  let statusPublisher: StatusPublisher | undefined;
  let hostLocks: FileLock[] = [];
  let delivery: ResultDelivery | undefined;
  try {
    // One agent per host, before anything else: a second start must not touch the running
    // agent's tracking files, outbox or pid file.
    hostLocks = await lockHost(config);
    await writeFile(pidFile, `${process.pid}`);
    const version = packageVersion();
    logger.info({ version, config: config.source, pid: process.pid, node: process.version }, `Starting ${config.programName} ${version}`);
    const identity = await resolveIdentity({ config, env: o.env, logger });
    if (config.useFipsMode && !fipsAllowed(identity.region)) throw new AgentError(ErrorCodes.CONFIG_INVALID, FIPS_NOT_ALLOWED_MESSAGE);
    const endpoint = resolveCommandsEndpoint({
      region: identity.region,
      domain: identity.domain,
      useFipsMode: config.useFipsMode,
      enableAuthPolicy: config.enableAuthPolicy,
      ...(config.deployControlEndpoint ? { deployControlEndpoint: config.deployControlEndpoint } : {}),
    });
    const summary = `${identity.summary}; CodeDeploy endpoint: ${endpoint}`;
    logger.info({ kind: identity.kind, hostIdentifier: identity.hostIdentifier, region: identity.region, endpoint }, summary);
    o.report(`${config.programName}: ${summary}`);

    // <pid_dir>/<program>.status.json for `codedeploy-agent status` (agent/ops/status-file.ts).
    statusPublisher = await createStatusPublisher({
      file: statusFilePath(config.pidDir, config.programName),
      logger,
      version,
      identityKind: identity.kind,
      hostIdentifier: identity.hostIdentifier,
      region: identity.region,
      endpoint,
    });
    const onHookScript = statusPublisher.hookScript;
    const caBundlePath = config.caBundle ?? o.env.AWS_CA_BUNDLE ?? undefined;
    client = createCommandsClient({
      endpoint,
      region: identity.region,
      credentials: identity.credentials,
      enableAuthPolicy: config.enableAuthPolicy,
      packageVersion: version,
      logger,
      pollReadTimeoutMs: config.httpReadTimeoutSeconds * 1000,
      ...(config.proxyUri ? { proxyUri: config.proxyUri } : {}),
      ...(caBundlePath ? { caBundlePath } : {}),
    });
    const trustedCaPem = config.deploymentSpecCaFile ? await readFile(config.deploymentSpecCaFile, 'utf8') : undefined;
    if (trustedCaPem !== undefined && !trustedCaPem.includes('BEGIN CERTIFICATE')) {
      throw new AgentError(ErrorCodes.CONFIG_INVALID, `:deployment_spec_ca_file: ${config.deploymentSpecCaFile} holds no PEM certificate`);
    }
    const layout = new DeploymentLayout(config.rootDir);
    if (config.enableDeploymentsLog) deploymentsLog = createDeploymentsLog({ path: layout.deploymentsLogFile });
    const fetchRemoteBundle = createRemoteBundleFetcher({
      logger,
      s3: {
        region: identity.region,
        credentials: identity.credentials,
        identityDescription: identity.summary,
        useFipsMode: config.useFipsMode,
        readTimeoutMs: config.httpReadTimeoutSeconds * 1000,
        // A daemon rides out an S3 outage of a few minutes instead of failing the deployment.
        outageWindowMs: 300_000,
        retryMaxDelayMs: Math.min(20_000, config.retryBackoffMaxSeconds * 1000),
        logger,
        ...(config.s3EndpointOverride ? { endpointOverride: config.s3EndpointOverride } : {}),
        ...(config.proxyUri ? { proxyUri: config.proxyUri } : {}),
        ...(caBundlePath ? { caBundlePath } : {}),
      },
      github: {
        apiUrl: config.githubApiUrl,
        logger,
        ...(config.proxyUri ? { proxyUri: config.proxyUri } : {}),
        ...(caBundlePath ? { caBundlePath } : {}),
      },
    });
    // The deployment machinery (archives, YAML, installer, hooks) and PKI.js are loaded on the
    // first command, so an idle agent stays small (npm run bench measures its idle RSS).
    let executorLoad: Promise<CommandExecutor> | undefined;
    const loadExecutor = (): Promise<CommandExecutor> =>
      (executorLoad ??= import('./deployment/command-executor.js').then(
        ({ CommandExecutor: Executor }) =>
          new Executor({
            config,
            logger,
            hookMapping: new Map(DEFAULT_HOOK_EVENTS.map((e) => [e, [e]])),
            baseEnv: o.env,
            ...(deploymentsLog ? { deploymentsLog } : {}),
            fetchRemoteBundle,
            onHookScript,
          }),
      ));
    const executor: Pick<CommandExecutor, 'execute' | 'isNoop'> = {
      isNoop: async (name, spec) => (await loadExecutor()).isNoop(name, spec),
      execute: async (name, spec, opts) => (await loadExecutor()).execute(name, spec, opts),
    };
    let verifierLoad: Promise<Pkcs7Verifier> | undefined;
    const loadVerifier = (): Promise<Pkcs7Verifier> =>
      (verifierLoad ??= import('./spec/pkcs7-verifier.js').then(({ createPkcs7Verifier }) =>
        createPkcs7Verifier({ logger, ...(trustedCaPem && config.deploymentSpecCaFile ? { trustedCaPem, trustedCaSource: config.deploymentSpecCaFile } : {}) }),
      ));
    delivery = new ResultDelivery({
      client,
      store: new PendingResultStore(join(config.rootDir, PENDING_RESULTS_DIR)),
      logger,
      sleep: defaultSleep,
      maxDelayMs: config.retryBackoffMaxSeconds * 1000,
    });
    const poller = new Poller({
      client,
      executor,
      hostIdentifier: identity.hostIdentifier,
      parseSpec: async (envelope) => parseDeploymentSpecAsync(envelope, { allowUnsigned: config.allowUnsignedSpecs, verifyPkcs7: await loadVerifier() }),
      tracker: new OngoingCommandTracker(layout.ongoingDir(config.ongoingDeploymentTracking)),
      results: delivery,
      retryMaxDelayMs: config.retryBackoffMaxSeconds * 1000,
      lockGroup: (groupId, signal, log) =>
        lockDeploymentGroup(layout, groupId, {
          wait: true,
          signal,
          onWait: (holder) => log.warn({ deploymentGroupId: groupId }, `Deployment group ${groupId} is locked by ${describeHolder(holder)}; waiting for it`),
        }),
      logger,
      waitBetweenRunsSeconds: config.waitBetweenRunsSeconds,
      backoffSeconds: (n) => Math.min(pollLoopBackoffSeconds(n), config.retryBackoffMaxSeconds),
      shutdownWaitSeconds: config.killAgentMaxWaitTimeSeconds,
      updateAfterSeconds: config.commandUpdateIntervalSeconds,
      updateIntervalSeconds: config.commandUpdateIntervalSeconds,
      sleep: defaultSleep,
      reporter: notifier,
      observer: statusPublisher,
    });
    const recovered = await poller.recoverFromCrash();
    if (recovered > 0) logger.warn({ recovered }, `Reported ${recovered} command(s) interrupted by the previous stop as failed`);

    const loop = poller.start();
    void notifier.ready('idle: polling for commands');
    const stopWatchdog = notifier.startWatchdog();
    logger.info({ hostIdentifier: identity.hostIdentifier }, 'Polling for commands');

    const signal = await Promise.race([o.stopSignal, loop.then(() => 'poller-ended')]);
    logger.info({ signal, running: poller.runningCommands }, `Stopping (${signal})`);
    statusPublisher.stopping();
    await notifier.stopping();
    stopWatchdog();
    await poller.stop();
    // Results of commands that just ended get a short chance to go out before we exit.
    const grace = new AbortController();
    await Promise.race([delivery.idle(), defaultSleep(5000, grace.signal).catch(() => undefined)]);
    grace.abort();
    if (delivery.pendingCount > 0) logger.warn({ pending: delivery.pendingCount }, `${delivery.pendingCount} result(s) not yet acknowledged by the control plane stay in ${join(config.rootDir, PENDING_RESULTS_DIR)} and are sent at the next start`);
    await delivery.stop();
    logger.info('Stopped');
    return 0;
  } catch (err) {
    const error = toError(err);
    logger.fatal({ err: error }, `Could not start: ${error.message}`);
    o.report(`${config.programName}: could not start: ${error.message}`);
    return 1;
  } finally {
    await delivery?.stop();
    client?.close();
    await statusPublisher?.stop().catch(() => undefined);
    await deploymentsLog?.close();
    // Only the lock holder wrote the pid file, so only it removes it.
    if (hostLocks.length > 0) await rm(pidFile, { force: true }).catch(() => undefined);
    for (const lock of hostLocks) await lock.release();
    logger.flush();
    await agentLog?.close();
  }
}

/**
 * The host locks: <pid_dir>/<program>.lock, and root_dir itself (two agents with different pid
 * dirs must not share a deployment root either; a directory lock adds no file to root_dir).
 * flock-based (platform/file-lock.ts): a crashed agent never blocks the next start.
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
