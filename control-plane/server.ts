/**
 * The local control plane, wired by hand: one SQLite file, the CA and spec signer, the registry,
 * the deployment engine, and one HTTP port answering
 *   - POST / with X-Amz-Target: the agent-facing commands API (CodeDeployCommandService_v20141006.*,
 *     and CodeDeployCommandService.* for agents with enable_auth_policy) and the public CodeDeploy
 *     API (CodeDeploy_20141006.*);
 *   - GET /_health: liveness for Docker and scripts (bucket names cannot start with "_");
 *   - /github/...: GitHub-compatible archive downloads from local git repositories;
 *   - everything else: S3 path-style.
 * One port keeps agent configuration to one URL (deploy_control_endpoint, s3_endpoint_override,
 * github_api_url = <url>/github).
 */
import { chmod, mkdir, open, readFile, rm } from 'node:fs/promises';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { createJsonRouter } from './api/json-router.js';
import type { DeploymentEngine } from './engine/engine.js';
import { createDeploymentEngine } from './engine/deployment-engine.js';
import { createGitHubHandler } from './github/github-handler.js';
import type { HttpHandler } from './http/route.js';
import { DEFAULT_ACCOUNT_ID, DEFAULT_REGION, type ControlPlaneIdentity } from './model.js';
import { createRegistry } from './registry/sqlite-registry.js';
import type { Registry } from './registry/registry.js';
import { createS3Handler } from './s3/s3-handler.js';
import { createSpecSigner } from './signing/ca-signer.js';
import { openDatabase } from './store/database.js';

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
  logger: Logger;
}

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
    const signer = await createSpecSigner({ dir: join(opts.dataDir, 'ca'), caCertFile: opts.caCertFile, caKeyFile: opts.caKeyFile, logger: logger.child({ part: 'ca' }) });
    const { registry, operations: registryOperations } = createRegistry({ db, identity, logger: logger.child({ part: 'registry' }) });
    const engineParts = createDeploymentEngine({
      db,
      registry,
      signer,
      identity,
      logger: logger.child({ part: 'engine' }),
      commandTimeoutSeconds: opts.commandTimeoutSeconds,
      longPollSeconds: opts.longPollSeconds,
    });
    closers.unshift(() => engineParts.close());
    const s3 = createS3Handler({ db, dataDir: opts.dataDir, logger: logger.child({ part: 's3' }) });
    closers.unshift(() => s3.close());
    const github = createGitHubHandler({ reposDir: githubReposDir, pathPrefix: '/github', logger: logger.child({ part: 'github' }) });

    const json = createJsonRouter({
      logger: logger.child({ part: 'api' }),
      shutdown: shutdown.signal,
      apis: [
        { name: 'CodeDeployCommand', targetPrefixes: ['CodeDeployCommandService_v20141006', 'CodeDeployCommandService'], operations: engineParts.commandsOperations, internalErrorCode: 'ServerException' },
        { name: 'CodeDeploy', targetPrefixes: ['CodeDeploy_20141006'], operations: { ...registryOperations, ...engineParts.deploymentOperations }, internalErrorCode: 'InternalFailure' },
      ],
    });
    const health: HttpHandler = async (req, res) => {
      if (req.method !== 'GET' || (req.url ?? '') !== '/_health') return false;
      const body = JSON.stringify({ status: 'ok', region: identity.region });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
      return true;
    };
    const handlers: HttpHandler[] = [json, health, github, s3.handler];

    const server = http.createServer((req, res) => {
      void (async () => {
        try {
          for (const handle of handlers) if (await handle(req, res)) return;
          res.writeHead(404).end();
        } catch (err) {
          logger.error({ err, method: req.method, url: req.url }, 'request failed');
          if (!res.headersSent) res.writeHead(500).end();
          else res.destroy();
        }
      })();
    });
    // Long polls hold requests for up to longPollSeconds; keep Node's own limits above that.
    server.requestTimeout = 0;
    server.headersTimeout = 60_000;
    server.keepAliveTimeout = 65_000;
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
        engineParts.engine.tick();
      } catch (err) {
        logger.error({ err }, 'engine tick failed');
      }
    }, opts.tickMs ?? 1000);
    tick.unref();
    engineParts.engine.tick();

    logger.info({ url, dataDir: opts.dataDir, caCertificate: signer.caCertificatePath, region: identity.region }, `Control plane listening on ${url}`);
    let closed: Promise<void> | undefined;
    return {
      url,
      port,
      dataDir: opts.dataDir,
      caCertificatePath: signer.caCertificatePath,
      engine: engineParts.engine,
      registry,
      identity,
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

/**
 * One control plane per data dir: two engines on one database would hand out the same commands.
 * `<dataDir>/control-plane.pid` is created exclusively; a file left by a process that is gone
 * (a crash, a kill -9) is taken over.
 */
async function lockDataDir(dataDir: string): Promise<() => Promise<void>> {
  const file = join(dataDir, 'control-plane.pid');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(file, 'wx', 0o600);
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      return () => rm(file, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number((await readFile(file, 'utf8').catch(() => '')).trim());
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && isAlive(pid)) {
        throw new Error(`the data dir ${dataDir} is in use by another control plane (pid ${pid}); stop it or use another --data-dir`);
      }
      await rm(file, { force: true });
    }
  }
  throw new Error(`cannot lock the data dir ${dataDir} (${file})`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
