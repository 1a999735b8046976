/**
 * The local control plane, wired by hand: this is the composition root. It opens the one SQLite
 * file and builds the CA and spec signer, the registry, the deployment engine and the API layers
 * over them (none of those builds another), then one HTTP port answering
 *   - POST / with X-Amz-Target: the agent-facing commands API (CodeDeployCommandService_v20141006.*,
 *     and CodeDeployCommandService.* for agents with enable_auth_policy) and the public CodeDeploy
 *     API (CodeDeploy_20141006.*);
 *   - GET /_health: liveness for Docker and scripts (bucket names cannot start with "_");
 *   - POST / with a form body and an Action (no X-Amz-Target): the Elastic Load Balancing v2 Query
 *     API of the local load balancers (traffic/), whose listeners open ports of their own;
 *   - /github/...: GitHub-compatible archive downloads from local git repositories;
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
import type { DeploymentEngine } from './engine/engine.js';
import { createDeploymentEngine } from './engine/deployment-engine.js';
import { createGitHubHandler } from './github/github-handler.js';
import { guardRequestBody, guardSilentConnection, type BodyTimeoutPolicy } from './http/body-timeout.js';
import type { HttpHandler } from './http/route.js';
import { clip } from './log/clip.js';
import { DEFAULT_ACCOUNT_ID, DEFAULT_REGION, type ControlPlaneIdentity } from './model.js';
import { createRegistry } from './registry/sqlite-registry.js';
import type { Registry } from './registry/registry.js';
import { createS3Handler } from './s3/s3-handler.js';
import { createSpecSigner } from './signing/ca-signer.js';
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
  /** Deadlines for request bodies (slow clients are cut off); defaults in DEFAULT_BODY_TIMEOUTS. */
  bodyTimeouts?: Partial<BodyTimeouts>;
  /** A request's headers must be complete this long after it started. Default 20 s. */
  headersTimeoutMs?: number;
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
  /** http://host:port */
  url: string;
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
  close(): Promise<void>;
}

export async function startControlPlane(opts: ControlPlaneOptions): Promise<ControlPlane> {
  const logger = opts.logger;
  await mkdir(opts.dataDir, { recursive: true, mode: 0o700 });
  await chmod(opts.dataDir, 0o700);
  const identity: ControlPlaneIdentity = { region: opts.region ?? DEFAULT_REGION, accountId: opts.accountId ?? DEFAULT_ACCOUNT_ID };
  const githubReposDir = opts.githubReposDir ?? join(opts.dataDir, 'github');
  await mkdir(githubReposDir, { recursive: true });

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
    const { registry, context: registryContext } = createRegistry({
      db,
      identity,
      logger: logger.child({ part: 'registry' }),
      hasTargetGroup: (name) => late.loadBalancers?.hasTargetGroup(name) ?? false,
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
    const unknownHosts = createUnknownHostLog({ logger: logger.child({ part: 'commands' }) });
    const commandsOperations = createCommandsOperations(engineCore, { unknownHosts, longPollSeconds: opts.longPollSeconds });
    const publicOperations = { ...createRegistryOperations(registryContext), ...createDeploymentOperations(engineCore) };
    const s3 = createS3Handler({ db, dataDir: opts.dataDir, logger: logger.child({ part: 's3' }) });
    closers.unshift(() => s3.close());
    const github = createGitHubHandler({ reposDir: githubReposDir, pathPrefix: '/github', logger: logger.child({ part: 'github' }) });

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
    const elbv2 = createElbv2Handler({ service: loadBalancers, logger: logger.child({ part: 'elbv2' }) });
    const handlers: HttpHandler[] = [json, health, elbv2, github, s3.handler];
    const bodyTimeouts: BodyTimeouts = { ...DEFAULT_BODY_TIMEOUTS, ...opts.bodyTimeouts };

    // Node checks header deadlines on this interval; the default (30 s) would let a slow-headers
    // client hold a connection for up to headersTimeout + 30 s.
    const server = http.createServer({ connectionsCheckingInterval: 2000 }, (req, res) => {
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
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
    });
    const port = (server.address() as AddressInfo).port;
    const host = opts.host ?? '127.0.0.1';
    const urlHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
    const url = `http://${urlHost}:${port}`;

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
      { url, dataDir: opts.dataDir, caCertificate: signer.caCertificatePath, region: identity.region },
      `Control plane listening on ${url}`,
    );
    let closed: Promise<void> | undefined;
    return {
      url,
      port,
      dataDir: opts.dataDir,
      caCertificatePath: signer.caCertificatePath,
      engine: engineCore.engine,
      registry,
      identity,
      unknownHosts,
      loadBalancers,
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
