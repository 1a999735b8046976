/**
 * The local control plane, wired by hand: this is the composition root. It opens the one SQLite
 * file and builds the CA and spec signer, the registry, the deployment engine and the API layers
 * over them (none of those builds another), then one HTTP port answering
 *   - POST / with X-Amz-Target: the agent-facing commands API (CodeDeployCommandService_v20141006.*,
 *     and CodeDeployCommandService.* for agents with enable_auth_policy) and the public CodeDeploy
 *     API (CodeDeploy_20141006.*);
 *   - GET /_health: liveness for Docker and scripts (bucket names cannot start with "_");
 *   - GET /_control-plane/info: region, account id and CA certificate, for add-host;
 *   - POST / with a form body and an Action (no X-Amz-Target): the Elastic Load Balancing v2 Query
 *     API of the local load balancers (traffic/), whose listeners open ports of their own; or,
 *     signed for `sns` or with Version=2010-03-31, the SNS Query API of the local SNS (sns/), which
 *     also answers its subscribers' GETs (/?Action=ConfirmSubscription|Unsubscribe, /_sns/*.pem)
 *     and carries deployment groups' triggerConfigurations (notifications/); or, signed for `sts`,
 *     STS GetCallerIdentity (sts/: the account id Terraform and scripts ask for);
 *   - /github/...: GitHub-compatible archive downloads from local git repositories, and
 *     POST /github/webhook, GitHub's push webhook for deploy on push (github/push-webhook.ts);
 *   - GET / with no signature (a browser) and /_console/...: the web console (console/);
 *   - everything else: S3 path-style.
 * One port keeps agent configuration to one URL (deploy_control_endpoint, s3_endpoint_override,
 * github_api_url = <url>/github).
 */
import { chmod, mkdir, rm } from 'node:fs/promises';
import * as http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { acquireFileLock, LockBusyError, readLockHolder, type LockHolder } from '../common/file-lock.js';
import { createDeploymentOperations } from './api/deployment-operations.js';
import { createJsonRouter } from './api/json-router.js';
import { createRegistryOperations } from './api/registry-operations.js';
import { createCommandsOperations } from './commands/commands-api.js';
import { createUnknownHostLog, type UnknownHostLog } from './commands/unknown-hosts.js';
import { createConsoleHandler } from './console/console-handler.js';
import type { DeploymentEngine } from './engine/engine.js';
import { createDeploymentEngine } from './engine/deployment-engine.js';
import { createGitHubHandler } from './github/github-handler.js';
import { PUSH_CONFIG_FILE_NAME } from './github/push-config.js';
import { openPushConfig } from './github/push-config-reader.js';
import { createPushWebhookHandler } from './github/push-webhook.js';
import { CONTROL_PLANE_INFO_PATH, createInfoHandler } from './hosts/info-route.js';
import { guardRequestBody, guardSilentConnection, type BodyTimeoutPolicy } from './http/body-timeout.js';
import type { HttpHandler } from './http/route.js';
import { clip } from './log/clip.js';
import { createDeploymentNotifier, createTriggerTopics } from './notifications/deployment-notifier.js';
import type { DeliveryPolicy } from './sns/sns-delivery.js';
import { createSnsHandler } from './sns/sns-handler.js';
import { createSnsService, type SnsService } from './sns/sns-service.js';
import { loadSnsSigningKey } from './sns/sns-signing.js';
import { isSnsRequest } from './sns/sns-wire.js';
import { createStsHandler, isStsRequest } from './sts/sts-handler.js';
import { packageVersion } from '../common/version.js';
import { DEFAULT_ACCOUNT_ID, DEFAULT_REGION, type ControlPlaneIdentity } from './model.js';
import { createRegistry } from './registry/sqlite-registry.js';
import type { Registry } from './registry/registry.js';
import { createRevisionPinner } from './revisions/revision-pinning.js';
import { createBuiltInObjectLookup, createExternalObjectLookup } from './revisions/s3-object-lookup.js';
import { createS3Handler } from './s3/s3-handler.js';
import { createSpecSigner } from './signing/ca-signer.js';
import { serverTlsCredentials, type TlsCredentials } from './signing/tls-certificate.js';
import { createServerTransport } from './http/server-transport.js';
import { openDatabase } from './store/database.js';
import { createElbv2Handler } from './traffic/elbv2-handler.js';
import { createLoadBalancers, type LoadBalancers } from './traffic/load-balancers.js';

export interface ControlPlaneOptions {
  dataDir: string;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0 (any free port). */
  port?: number;
  region?: string;
  accountId?: string;
  /** Local git repositories served as <owner>/<repo>; default <dataDir>/github. */
  githubReposDir?: string;
  /** A host command not completed this long after it became ready fails. Default 4200 (70 min). */
  commandTimeoutSeconds?: number;
  /** How long a PollHostCommand is held when there is nothing to do. Default 45. */
  longPollSeconds?: number;
  /** Operator-supplied CA for signing deployment specifications (PEM certificate and PKCS#8 key). */
  caCertFile?: string;
  caKeyFile?: string;
  /** Engine re-evaluation period (timeouts); default 1000 ms. */
  tickMs?: number;
  /** AllowTraffic fails a host not healthy in its target groups this long after its registration. Default 300. */
  allowTrafficTimeoutSeconds?: number;
  /** The lowest health check interval target groups accept (default 5, the API's); the demo and tests go lower. */
  minHealthCheckIntervalSeconds?: number;
  /** The local SNS's delivery retry policy (sns/sns-delivery.ts DEFAULT_DELIVERY_POLICY); tests shorten it. */
  snsDelivery?: Partial<DeliveryPolicy>;
  /**
   * Deploy on push (github/push-config.ts): default <dataDir>/push-deployments.yml (absent: off).
   * Read again at every delivery; when given, it must exist at start.
   */
  pushConfigFile?: string;
  /** Where CODEDEPLOY_WEBHOOK_SECRET is read from; default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Deadlines for request bodies (slow clients are cut off); defaults in DEFAULT_BODY_TIMEOUTS. */
  bodyTimeouts?: Partial<BodyTimeouts>;
  /** A request's headers must be complete this long after it started. Default 20 s. */
  headersTimeoutMs?: number;
  /**
   * Serve every API over HTTPS with a certificate issued by the CA (signing/tls-certificate.ts),
   * kept in <dataDir>/tls, for localhost, 127.0.0.1, ::1, `host` and `tlsNames`; or with
   * tlsCertFile + tlsKeyFile as given. Load balancer listeners stay plain HTTP.
   */
  tls?: boolean;
  tlsNames?: string[];
  tlsCertFile?: string;
  tlsKeyFile?: string;
  /**
   * An external S3-compatible store (MinIO, LocalStack, ...) agents download revisions from
   * (`:s3_endpoint_override:`), and where CreateDeployment looks revisions up to pin them. The
   * built-in S3 endpoint stays available. Default: the built-in one.
   */
  s3Endpoint?: string;
  /** Credentials for s3Endpoint; default the standard AWS chain (environment, shared files). */
  s3Credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  logger: Logger;
}

export interface BodyTimeouts {
  /** JSON APIs, GitHub, health and anything unrouted: small bodies, a total deadline. */
  small: BodyTimeoutPolicy;
  /** S3: uploads of any size, so only a minimum rate. */
  s3: BodyTimeoutPolicy;
}

export const DEFAULT_BODY_TIMEOUTS: BodyTimeouts = {
  small: { totalMs: 30_000, windowMs: 10_000, minBytes: 1024 },
  s3: { totalMs: 0, windowMs: 20_000, minBytes: 16 * 1024 },
};

export interface ControlPlane {
  /** http://host:port, or https:// with tls */
  url: string;
  /** Where agents download S3 revisions (`:s3_endpoint_override:`): `s3Endpoint`, or `url`. */
  s3EndpointForAgents: string;
  /** With tls: the served certificate and the CA file clients trust (undefined for an operator's certificate). */
  tls?: { certificatePath: string; caBundlePath?: string };
  /** The web console: `${url}/`. */
  consoleUrl: string;
  port: number;
  dataDir: string;
  /** The CA certificate agents trust (`:deployment_spec_ca_file:`). */
  caCertificatePath: string;
  engine: DeploymentEngine;
  registry: Registry;
  identity: ControlPlaneIdentity;
  /** What is kept about unregistered pollers (bounded). */
  unknownHosts: UnknownHostLog;
  /** The local load balancers (target groups, listeners, health checks). */
  loadBalancers: LoadBalancers;
  /** The local SNS (topics, subscriptions, deliveries) that deployment group triggers publish to. */
  sns: SnsService;
  close(): Promise<void>;
}

export async function startControlPlane(opts: ControlPlaneOptions): Promise<ControlPlane> {
  const logger = opts.logger;
  await mkdir(opts.dataDir, { recursive: true, mode: 0o700 });
  await chmod(opts.dataDir, 0o700);
  const identity: ControlPlaneIdentity = { region: opts.region ?? DEFAULT_REGION, accountId: opts.accountId ?? DEFAULT_ACCOUNT_ID };
  const githubReposDir = opts.githubReposDir ?? join(opts.dataDir, 'github');
  await mkdir(githubReposDir, { recursive: true });
  const pushConfig = await openPushConfig({
    file: opts.pushConfigFile ?? join(opts.dataDir, PUSH_CONFIG_FILE_NAME),
    required: opts.pushConfigFile !== undefined,
    env: opts.env ?? process.env,
    logger: logger.child({ part: 'push' }),
  });

  const releaseLock = await lockDataDir(opts.dataDir);
  let db;
  try {
    db = openDatabase(join(opts.dataDir, 'control-plane.db'));
  } catch (err) {
    await releaseLock();
    throw err;
  }
  const shutdown = new AbortController();
  const closers: (() => void | Promise<void>)[] = [() => void db.close(), releaseLock];
  try {
    const signer = await createSpecSigner({
      dir: join(opts.dataDir, 'ca'),
      caCertFile: opts.caCertFile,
      caKeyFile: opts.caKeyFile,
      logger: logger.child({ part: 'ca' }),
    });
    if (!opts.tls && (opts.tlsCertFile !== undefined || opts.tlsKeyFile !== undefined || (opts.tlsNames ?? []).length > 0))
      throw new Error('a TLS certificate or TLS names were given without tls: turn on tls (--tls) or leave them out');
    const tls: TlsCredentials | undefined = opts.tls
      ? await serverTlsCredentials({
          dataDir: opts.dataDir,
          ca: signer.ca,
          caCertificatePath: signer.caCertificatePath,
          host: opts.host ?? '127.0.0.1',
          extraNames: opts.tlsNames,
          certFile: opts.tlsCertFile,
          keyFile: opts.tlsKeyFile,
          logger: logger.child({ part: 'tls' }),
        })
      : undefined;
    // The registry asks the load balancers which target groups exist (only from API calls, which
    // come after start-up); the load balancers read instance tags from the registry, from the
    // moment they reopen their listeners.
    const late: { loadBalancers?: LoadBalancers; engine?: DeploymentEngine } = {};
    // A target's standing changed: re-evaluate soon (deferred: it may be reported inside the engine's own transaction).
    let reevaluationDue = false;
    const targetChanged = () => {
      if (reevaluationDue) return;
      reevaluationDue = true;
      setImmediate(() => {
        reevaluationDue = false;
        try {
          late.engine?.tick();
        } catch (err) {
          logger.error({ err }, 'engine re-evaluation after a target change failed');
        }
      });
    };
    let snsBaseUrl = 'http://127.0.0.1/';
    const sns = createSnsService({
      db,
      identity,
      logger: logger.child({ part: 'sns' }),
      signingKey: await loadSnsSigningKey({ dir: join(opts.dataDir, 'sns'), logger: logger.child({ part: 'sns' }) }),
      baseUrl: () => snsBaseUrl,
      delivery: { policy: opts.snsDelivery },
    });
    closers.unshift(() => sns.close());
    const { registry, context: registryContext } = createRegistry({
      db,
      identity,
      logger: logger.child({ part: 'registry' }),
      hasTargetGroup: (name) => late.loadBalancers?.hasTargetGroup(name) ?? false,
      triggerTopics: createTriggerTopics({ sns, identity, logger: logger.child({ part: 'notifications' }) }),
    });
    const loadBalancers = await createLoadBalancers({
      db,
      identity,
      host: opts.host ?? '127.0.0.1',
      logger: logger.child({ part: 'traffic' }),
      instanceTags: (name) => registry.getInstance(name)?.tags,
      minHealthCheckIntervalSeconds: opts.minHealthCheckIntervalSeconds,
      onTargetChange: targetChanged,
    });
    late.loadBalancers = loadBalancers;
    closers.unshift(() => loadBalancers.close());
    const engineCore = createDeploymentEngine({
      db,
      registry,
      signer,
      identity,
      logger: logger.child({ part: 'engine' }),
      commandTimeoutSeconds: opts.commandTimeoutSeconds,
      traffic: loadBalancers,
      allowTrafficTimeoutSeconds: opts.allowTrafficTimeoutSeconds,
    });
    late.engine = engineCore.engine;
    closers.unshift(() => engineCore.close());
    const notifier = createDeploymentNotifier({
      engine: engineCore.engine,
      registry,
      sns,
      identity,
      logger: logger.child({ part: 'notifications' }),
    });
    closers.unshift(() => notifier.close());
    const unknownHosts = createUnknownHostLog({ logger: logger.child({ part: 'commands' }) });
    const commandsOperations = createCommandsOperations(engineCore, { unknownHosts, longPollSeconds: opts.longPollSeconds });
    const s3 = createS3Handler({ db, dataDir: opts.dataDir, logger: logger.child({ part: 's3' }) });
    closers.unshift(() => s3.close());
    // CreateDeployment pins S3 revisions to the object's version and ETag, looked up where agents download from.
    const objectLookup = opts.s3Endpoint
      ? createExternalObjectLookup({ endpoint: opts.s3Endpoint, region: identity.region, credentials: opts.s3Credentials })
      : createBuiltInObjectLookup(s3.store);
    closers.unshift(() => objectLookup.close());
    const pinRevision = createRevisionPinner({ lookup: objectLookup, registry, logger: logger.child({ part: 'api' }) });
    const publicOperations = {
      ...createRegistryOperations(registryContext),
      ...createDeploymentOperations(engineCore, { pinRevision }),
    };
    const webhook = createPushWebhookHandler({
      path: '/github/webhook',
      config: pushConfig,
      engine: engineCore.engine,
      logger: logger.child({ part: 'push' }),
    });
    const github = createGitHubHandler({
      reposDir: githubReposDir,
      pathPrefix: '/github',
      webhook,
      logger: logger.child({ part: 'github' }),
    });

    const json = createJsonRouter({
      logger: logger.child({ part: 'api' }),
      shutdown: shutdown.signal,
      apis: [
        {
          name: 'CodeDeployCommand',
          targetPrefixes: ['CodeDeployCommandService_v20141006', 'CodeDeployCommandService'],
          operations: commandsOperations,
          internalErrorCode: 'ServerException',
        },
        { name: 'CodeDeploy', targetPrefixes: ['CodeDeploy_20141006'], operations: publicOperations, internalErrorCode: 'InternalFailure' },
      ],
    });
    const health: HttpHandler = async (req, res) => {
      if (req.method !== 'GET' || (req.url ?? '') !== '/_health') return false;
      const body = JSON.stringify({ status: 'ok', region: identity.region });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
      return true;
    };
    // GET /_control-plane/info: region, account and CA for `codedeploy-control-plane add-host`.
    const info = createInfoHandler(() => ({
      service: 'codedeploy-control-plane',
      version: packageVersion(),
      region: identity.region,
      accountId: identity.accountId,
      caCertificate: signer.caCertificatePem,
      ...(opts.s3Endpoint !== undefined ? { s3Endpoint: opts.s3Endpoint } : {}),
    }));
    const snsApi = createSnsHandler({ service: sns, logger: logger.child({ part: 'sns' }) });
    const sts = createStsHandler({ identity });
    const elbv2 = createElbv2Handler({
      service: loadBalancers,
      logger: logger.child({ part: 'elbv2' }),
      decline: (req) => isSnsRequest(req) || isStsRequest(req),
    });
    // The web console: GET / without any signature (S3's ListBuckets is always signed) and /_console/*.
    const webConsole = createConsoleHandler({
      engine: engineCore.engine,
      operations: publicOperations,
      shutdown: shutdown.signal,
      logger: logger.child({ part: 'console' }),
    });
    const handlers: HttpHandler[] = [json, health, info, sts, snsApi, elbv2, github, webConsole, s3.handler];
    const bodyTimeouts: BodyTimeouts = { ...DEFAULT_BODY_TIMEOUTS, ...opts.bodyTimeouts };

    // HTTP, or HTTPS with tls (http/server-transport.ts: how the deadlines below hold for TLS).
    const server = createServerTransport({ tls, headersTimeoutMs: opts.headersTimeoutMs ?? 20_000 }, (req, res) => {
      guardRequestBody(req, res, bodyPolicy(req, bodyTimeouts), (why) =>
        logger.info(
          { ...why, method: req.method, url: clip(req.url ?? ''), remote: req.socket.remoteAddress },
          `Request body too slow (${why.rule} deadline); connection closed`,
        ),
      );
      void (async () => {
        try {
          for (const handle of handlers) if (await handle(req, res)) return;
          res.writeHead(404).end();
        } catch (err) {
          logger.error({ err, method: req.method, url: clip(req.url ?? '') }, 'request failed');
          if (!res.headersSent) res.writeHead(500).end();
          else res.destroy();
        }
      })();
    });
    // Long polls hold requests for up to longPollSeconds and S3 uploads may take hours, so Node's
    // total request limit is off; bodies have their own deadlines (http/body-timeout.ts).
    server.requestTimeout = 0;
    server.headersTimeout = opts.headersTimeoutMs ?? 20_000;
    server.keepAliveTimeout = 65_000;
    server.on('connection', (socket: Socket) => guardSilentConnection(socket, server.headersTimeout));
    if (tls)
      server.on('tlsClientError', (err: NodeJS.ErrnoException, socket: Socket) =>
        logger.debug(
          { err: err.code ?? err.message, remote: socket.remoteAddress },
          'TLS handshake failed (a plain HTTP client?); connection closed',
        ),
      );
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
    });
    const port = (server.address() as AddressInfo).port;
    const host = opts.host ?? '127.0.0.1';
    const urlHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
    const url = `${tls ? 'https' : 'http'}://${urlHost}:${port}`;
    snsBaseUrl = `${url}/`;

    const tick = setInterval(() => {
      try {
        engineCore.engine.tick();
      } catch (err) {
        logger.error({ err }, 'engine tick failed');
      }
    }, opts.tickMs ?? 1000);
    tick.unref();
    engineCore.engine.tick();

    logger.info(
      {
        url,
        dataDir: opts.dataDir,
        caCertificate: signer.caCertificatePath,
        region: identity.region,
        ...(tls ? { tlsCertificate: tls.certificatePath } : {}),
        ...(opts.s3Endpoint ? { s3Endpoint: opts.s3Endpoint } : {}),
      },
      `Control plane listening on ${url}`,
    );
    let closed: Promise<void> | undefined;
    return {
      url,
      s3EndpointForAgents: opts.s3Endpoint ?? url,
      ...(tls ? { tls: { certificatePath: tls.certificatePath, caBundlePath: tls.caBundlePath } } : {}),
      consoleUrl: `${url}/`,
      port,
      dataDir: opts.dataDir,
      caCertificatePath: signer.caCertificatePath,
      engine: engineCore.engine,
      registry,
      identity,
      unknownHosts,
      loadBalancers,
      sns,
      close() {
        closed ??= (async () => {
          clearInterval(tick);
          shutdown.abort(new Error('control plane stopping'));
          await new Promise<void>((resolve) => {
            server.close(() => resolve());
            server.closeIdleConnections();
            setTimeout(() => server.closeAllConnections(), 2000).unref();
          });
          for (const close of closers) await close();
          logger.info('Control plane stopped');
        })();
        return closed;
      },
    };
  } catch (err) {
    shutdown.abort();
    for (const close of closers) await close();
    throw err;
  }
}

/** Which body deadline a request gets: S3 takes whatever the other surfaces do not. */
function bodyPolicy(req: http.IncomingMessage, t: BodyTimeouts): BodyTimeoutPolicy {
  const url = req.url ?? '';
  const small =
    (req.method === 'POST' && typeof req.headers['x-amz-target'] === 'string') ||
    (req.method === 'POST' && url === '/' && String(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) ||
    url === '/_health' ||
    url === CONTROL_PLANE_INFO_PATH ||
    url === '/github' ||
    url.startsWith('/github/');
  return small ? t.small : t.s3;
}

/**
 * One control plane per data dir: two engines on one database would hand out the same commands.
 * The lock is flock(2) on `<dataDir>/control-plane.lock` (common/file-lock.ts), so the
 * kernel releases it when the holder dies however it dies, and a stale file, or a pid in it that
 * now belongs to some other process, never blocks a start. The `control-plane.pid` of earlier
 * versions is removed once the lock is ours.
 */
async function lockDataDir(dataDir: string): Promise<() => Promise<void>> {
  const file = join(dataDir, 'control-plane.lock');
  try {
    const lock = await acquireFileLock(file, { program: 'codedeploy-control-plane', mode: 0o600 });
    await rm(join(dataDir, 'control-plane.pid'), { force: true });
    return () => lock.release();
  } catch (err) {
    if (!(err instanceof LockBusyError)) throw err;
    const holder = await holderOf(file, err.holder);
    const who = holder.pid === undefined ? 'pid not known yet' : `pid ${holder.pid}`;
    throw new Error(`the data dir ${dataDir} is in use by another control plane (${who}); stop it or use another --data-dir`);
  }
}

/** The holder writes its pid just after it takes the lock: give it a moment when the file is still empty. */
async function holderOf(file: string, first: LockHolder): Promise<LockHolder> {
  let holder = first;
  for (let i = 0; holder.pid === undefined && i < 10; i++) {
    await new Promise((r) => setTimeout(r, 20));
    holder = await readLockHolder(file);
  }
  return holder;
}
