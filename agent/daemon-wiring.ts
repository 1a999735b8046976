/**
 * The daemon's object graph, wired by hand and started by nobody. wireDaemon builds the commands
 * client, the bundle fetchers, the executor (loaded on the first command), the outbox, the poller
 * and the systemd notifier from the config and from what start-up already found out (the host's
 * identity, the status file's writer, the trusted CA). It starts no timer, opens no socket, file or
 * process: daemon.ts takes the host locks, starts the parts and stops them, and a test can wire a
 * daemon and look at its parts without running it.
 */
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { AgentConfig } from './config/agent-config.js';
import type { HostIdentity } from './identity/resolve-identity.js';
import { createDeploymentsLog, type DeploymentsLog } from './log/deployments-log.js';
import { fipsAllowed, FIPS_NOT_ALLOWED_MESSAGE, resolveCommandsEndpoint } from './commands-client/endpoint.js';
import { createCommandsClient, type CommandsClient } from './commands-client/commands-client.js';
import { pollLoopBackoffSeconds } from './platform/retry-policy.js';
import { sleep as realSleep, type Sleep } from './platform/sleep.js';
import type { Pkcs7Verifier } from './spec/pkcs7-verifier.js';
import { parseDeploymentSpecAsync, type DeploymentSpec, type Envelope } from './spec/deployment-spec.js';
import { createRemoteBundleFetcher } from './bundle/remote-fetcher.js';
import type { DownloadProgress } from './bundle/download-progress.js';
import type { CommandExecutor, CommandExecutorOptions, HookScriptEvent } from './deployment/command-executor.js';
import { DEFAULT_HOOK_EVENTS } from './deployment/lifecycle.js';
import { DeploymentLayout } from './deployment/layout.js';
import { lockDeploymentGroup } from './deployment/group-lock.js';
import { OngoingCommandTracker } from './poller/ongoing-command-tracker.js';
import { Poller, type CommandObserver, type PollerOptions } from './poller/poller.js';
import { PENDING_RESULTS_DIR, PendingResultStore } from './poller/pending-results.js';
import { ResultDelivery } from './poller/result-delivery.js';
import { createNotifier, type Notifier } from './systemd/sd-notify.js';
import { describeHolder } from '../common/file-lock.js';
import { AgentError, ErrorCodes } from './errors.js';
import { createMemoryTrimmer } from './platform/memory-trimmer.js';

/** What the daemon found out before wiring, and the seams a test replaces. */
export interface DaemonPorts {
  /** The agent's environment (hooks inherit it; NOTIFY_SOCKET and AWS_CA_BUNDLE are read). */
  env: NodeJS.ProcessEnv;
  logger: Logger;
  identity: HostIdentity;
  /** The commands API endpoint (commandsEndpoint(config, identity)). */
  endpoint: string;
  /** The agent version sent to the control plane. */
  version: string;
  /** The status file's writer: the poller tells it about commands, the executor about hook scripts. */
  status: CommandObserver & {
    hookScript(event: HookScriptEvent): void;
    downloadProgress?(command: { deploymentId: string }, progress: DownloadProgress): void;
  };
  /** The contents of :deployment_spec_ca_file:, already read and checked. */
  trustedCaPem?: string;
  /** Waits between polls and retries (default: real timers). */
  sleep?: Sleep;
}

/** The wired daemon, not yet running. */
export interface DaemonParts {
  logger: Logger;
  notifier: Notifier;
  client: CommandsClient;
  layout: DeploymentLayout;
  /** Present when :enable_deployments_log: is on; its file is opened on the first line. */
  deploymentsLog?: DeploymentsLog;
  /** What the executor is built with on the first command. */
  executorOptions: Readonly<CommandExecutorOptions>;
  executor: Pick<CommandExecutor, 'execute' | 'isNoop'>;
  /** The outbox: results not yet acknowledged by the control plane. */
  pendingResultsDir: string;
  delivery: ResultDelivery;
  pollerOptions: Readonly<PollerOptions>;
  poller: Poller;
  sleep: Sleep;
}

/** The commands API endpoint for this host; throws when FIPS mode is asked for outside the USA. */
export function commandsEndpoint(config: Readonly<AgentConfig>, identity: Pick<HostIdentity, 'region' | 'domain'>): string {
  if (config.useFipsMode && !fipsAllowed(identity.region)) throw new AgentError(ErrorCodes.CONFIG_INVALID, FIPS_NOT_ALLOWED_MESSAGE);
  return resolveCommandsEndpoint({
    region: identity.region,
    domain: identity.domain,
    useFipsMode: config.useFipsMode,
    enableAuthPolicy: config.enableAuthPolicy,
    ...(config.deployControlEndpoint ? { deployControlEndpoint: config.deployControlEndpoint } : {}),
  });
}

export function wireDaemon(config: Readonly<AgentConfig>, ports: DaemonPorts): DaemonParts {
  const { logger, identity } = ports;
  const sleep = ports.sleep ?? realSleep;
  const caBundlePath = config.caBundle ?? ports.env.AWS_CA_BUNDLE ?? undefined;
  const proxy = config.proxyUri ? { proxyUri: config.proxyUri } : {};
  const caBundle = caBundlePath ? { caBundlePath } : {};
  const notifier = createNotifier({ env: ports.env, logger });
  const client = createCommandsClient({
    endpoint: ports.endpoint,
    region: identity.region,
    credentials: identity.credentials,
    enableAuthPolicy: config.enableAuthPolicy,
    packageVersion: ports.version,
    logger,
    pollReadTimeoutMs: config.httpReadTimeoutSeconds * 1000,
    ...proxy,
    ...caBundle,
  });
  const layout = new DeploymentLayout(config.rootDir);
  const deploymentsLog = config.enableDeploymentsLog ? createDeploymentsLog({ path: layout.deploymentsLogFile }) : undefined;
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
      ...proxy,
      ...caBundle,
    },
    github: { apiUrl: config.githubApiUrl, logger, ...proxy, ...caBundle },
    // The status file shows how a DownloadBundle's download goes (`codedeploy-agent status`).
    onProgress: (spec, progress) => ports.status.downloadProgress?.(spec, progress),
  });
  const executorOptions: CommandExecutorOptions = {
    config,
    logger,
    hookMapping: new Map(DEFAULT_HOOK_EVENTS.map((e) => [e, [e]])),
    baseEnv: ports.env,
    ...(deploymentsLog ? { deploymentsLog } : {}),
    fetchRemoteBundle,
    onHookScript: (event) => ports.status.hookScript(event),
    memoryTrimmer: createMemoryTrimmer(),
  };
  const pendingResultsDir = join(config.rootDir, PENDING_RESULTS_DIR);
  const delivery = new ResultDelivery({
    client,
    store: new PendingResultStore(pendingResultsDir),
    logger,
    sleep,
    maxDelayMs: config.retryBackoffMaxSeconds * 1000,
  });
  const executor = lazyExecutor(executorOptions);
  const pollerOptions: PollerOptions = {
    client,
    executor,
    hostIdentifier: identity.hostIdentifier,
    parseSpec: lazySpecParser(config, logger, ports.trustedCaPem),
    tracker: new OngoingCommandTracker(layout.ongoingDir(config.ongoingDeploymentTracking)),
    results: delivery,
    retryMaxDelayMs: config.retryBackoffMaxSeconds * 1000,
    lockGroup: (groupId, signal, log) =>
      lockDeploymentGroup(layout, groupId, {
        wait: true,
        signal,
        onWait: (holder) =>
          log.warn({ deploymentGroupId: groupId }, `Deployment group ${groupId} is locked by ${describeHolder(holder)}; waiting for it`),
      }),
    logger,
    waitBetweenRunsSeconds: config.waitBetweenRunsSeconds,
    backoffSeconds: (n) => Math.min(pollLoopBackoffSeconds(n), config.retryBackoffMaxSeconds),
    shutdownWaitSeconds: config.killAgentMaxWaitTimeSeconds,
    updateAfterSeconds: config.commandUpdateIntervalSeconds,
    updateIntervalSeconds: config.commandUpdateIntervalSeconds,
    sleep,
    reporter: notifier,
    observer: ports.status,
  };
  return {
    logger,
    notifier,
    client,
    layout,
    ...(deploymentsLog ? { deploymentsLog } : {}),
    executorOptions,
    executor,
    pendingResultsDir,
    delivery,
    pollerOptions,
    poller: new Poller(pollerOptions),
    sleep,
  };
}

/**
 * The deployment machinery (archives, YAML, installer, hooks) is loaded on the first command, so
 * an idle agent stays small (npm run bench measures its idle RSS).
 */
function lazyExecutor(options: CommandExecutorOptions): Pick<CommandExecutor, 'execute' | 'isNoop'> {
  let load: Promise<CommandExecutor> | undefined;
  const executor = (): Promise<CommandExecutor> =>
    (load ??= import('./deployment/command-executor.js').then(({ CommandExecutor: Executor }) => new Executor(options)));
  return {
    isNoop: async (name, spec) => (await executor()).isNoop(name, spec),
    execute: async (name, spec, opts) => (await executor()).execute(name, spec, opts),
  };
}

/** Verifies and parses specifications; PKI.js is loaded with the first one, like the executor. */
function lazySpecParser(
  config: Readonly<AgentConfig>,
  logger: Logger,
  trustedCaPem: string | undefined,
): (envelope: Envelope | undefined) => Promise<DeploymentSpec> {
  let load: Promise<Pkcs7Verifier> | undefined;
  const verifier = (): Promise<Pkcs7Verifier> =>
    (load ??= import('./spec/pkcs7-verifier.js').then(({ createPkcs7Verifier }) =>
      createPkcs7Verifier({
        logger,
        ...(trustedCaPem && config.deploymentSpecCaFile ? { trustedCaPem, trustedCaSource: config.deploymentSpecCaFile } : {}),
      }),
    ));
  return async (envelope) =>
    parseDeploymentSpecAsync(envelope, { allowUnsigned: config.allowUnsignedSpecs, verifyPkcs7: await verifier() });
}
