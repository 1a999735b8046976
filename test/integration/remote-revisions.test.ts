/**
 * S3 and GitHub revisions end to end: a real S3-compatible server (s3rver) and the local
 * GitHub-compatible server, each on 127.0.0.1 port 0, plus a recording HTTP proxy (absolute-URI
 * forwarding for http targets, CONNECT tunnels for the rest).
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as http from 'node:http';
import * as net from 'node:net';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRemoteBundleFetcher } from '../../agent/bundle/remote-fetcher.js';
import { createS3Fetcher, type S3Revision } from '../../agent/bundle/s3-fetcher.js';
import { createGitHubFetcher, type GitHubRevision } from '../../agent/bundle/github-fetcher.js';
import { AgentError, ErrorCodes } from '../../agent/errors.js';
import type { DeploymentSpec, Revision } from '../../agent/spec/deployment-spec.js';
import { createTestGitRepo, startGitHubServer, type GitHubServer } from '../helpers/github-server.js';
import { captureLogger, silentLogger, tempDir } from '../helpers/temp.js';

/** The part of s3rver's API used here (it ships no type declarations; loaded through require). */
interface S3rverInstance {
  run(): Promise<net.AddressInfo>;
  close(): Promise<void>;
}
type S3rverConstructor = new (options: {
  port: number;
  address: string;
  directory: string;
  silent: boolean;
  configureBuckets: Array<{ name: string; configs: string[] }>;
}) => S3rverInstance;
const S3rver = createRequire(import.meta.url)('s3rver') as S3rverConstructor;

const S3_CREDS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
const credentials = () => Promise.resolve(S3_CREDS);
const BUCKET = 'deploy-bucket';

interface RecordingProxy {
  url: string;
  seen: string[];
  close(): Promise<void>;
}

async function startProxy(): Promise<RecordingProxy> {
  const seen: string[] = [];
  const server = http.createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    const target = new URL(req.url ?? '');
    const upstream = http.request(
      { host: target.hostname, port: target.port, path: `${target.pathname}${target.search}`, method: req.method, headers: req.headers },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  const tunnels = new Set<net.Socket>();
  server.on('connect', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
    seen.push(`CONNECT ${req.url}`);
    tunnels.add(socket);
    socket.on('close', () => tunnels.delete(socket));
    const [host = '', port = ''] = (req.url ?? '').split(':');
    const up = net.connect(Number(port), host, () => {
      socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      up.write(head);
      up.pipe(socket);
      socket.pipe(up);
    });
    up.on('error', () => socket.destroy());
    socket.on('error', () => up.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of tunnels) socket.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A directory that lives for a whole describe block (tempDir() is removed after each test). */
async function suiteDir(prefix: string, cleanups: Array<() => Promise<void>>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const md5 = (data: Buffer | string) => createHash('md5').update(data).digest('hex');

describe('S3 revisions against s3rver', () => {
  let s3rver: S3rverInstance;
  let endpoint: string;
  let dir: string;
  const small = Buffer.from('a small bundle\n');
  const large = randomBytes(6 * 1024 * 1024 + 123);
  const cleanups: Array<() => Promise<void>> = [];

  beforeAll(async () => {
    const root = await suiteDir('cda-s3rver-', cleanups);
    s3rver = new S3rver({
      port: 0,
      address: '127.0.0.1',
      directory: root,
      silent: true,
      configureBuckets: [{ name: BUCKET, configs: [] }],
    });
    const { port } = await s3rver.run();
    endpoint = `http://127.0.0.1:${port}`;
    const client = new S3Client({ region: 'us-east-1', endpoint, forcePathStyle: true, credentials: S3_CREDS });
    await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'apps/small.tar', Body: small }));
    await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'apps/large bundle+1.tgz', Body: large }));
    client.destroy();
  });

  afterAll(async () => {
    await s3rver.close();
    for (const cleanup of cleanups) await cleanup();
  });

  const fetcher = (extra: { proxyUri?: string } = {}, logger = silentLogger()) =>
    createS3Fetcher({ region: 'us-east-1', credentials, endpointOverride: endpoint, useFipsMode: false, logger, maxAttempts: 1, ...extra });
  const rev = (key: string, o: Partial<S3Revision> = {}): S3Revision => ({ type: 'S3', bucket: BUCKET, key, bundleType: 'tar', ...o });

  it('downloads by key and logs the official lines', async () => {
    dir = await tempDir('cda-s3-');
    const { logger, lines } = captureLogger();
    await fetcher({}, logger)(rev('apps/small.tar'), join(dir, 'bundle.tar'));
    expect(await readFile(join(dir, 'bundle.tar'))).toEqual(small);
    expect(await readdir(dir)).toEqual(['bundle.tar']);
    const messages = lines().map((l) => String(l.msg));
    expect(messages).toHaveLength(2);
    expect(messages[0]).toBe(`Downloading artifact bundle from bucket '${BUCKET}' and key 'apps/small.tar', version '', etag ''`);
    // The final line: size, time and rate.
    expect(messages[1]).toMatch(
      new RegExp(`^Download complete from bucket ${BUCKET} and key apps/small\\.tar: [\\d.]+ (B|KiB|MiB) in [\\d.]+ s \\(.+/s\\)$`),
    );
  });

  it('streams a multi-megabyte object with an awkward key intact', async () => {
    dir = await tempDir('cda-s3-');
    await fetcher()(rev('apps/large bundle+1.tgz', { etag: md5(large) }), join(dir, 'bundle.tar'));
    const got = await readFile(join(dir, 'bundle.tar'));
    expect(got.length).toBe(large.length);
    expect(md5(got)).toBe(md5(large));
  });

  it.each([
    ['without quotes', (e: string) => e],
    ['with quotes', (e: string) => `"${e}"`],
  ])('accepts a matching ETag %s', async (_name, form) => {
    dir = await tempDir('cda-s3-');
    await fetcher()(rev('apps/small.tar', { etag: form(md5(small)) }), join(dir, 'bundle.tar'));
    expect(await readFile(join(dir, 'bundle.tar'))).toEqual(small);
  });

  it('rejects a mismatched ETag and leaves no bundle or partial file', async () => {
    dir = await tempDir('cda-s3-');
    const err = await fetcher()(rev('apps/small.tar', { etag: 'ffffffffffffffffffffffffffffffff' }), join(dir, 'bundle.tar')).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(AgentError);
    expect((err as Error).message).toBe(
      `Expected deployment artifact bundle etag ffffffffffffffffffffffffffffffff but was actually "${md5(small)}"`,
    );
    expect(await readdir(dir)).toEqual([]);
  });

  it('names a missing key and a missing bucket, leaving no file', async () => {
    dir = await tempDir('cda-s3-');
    const missingKey = await fetcher()(rev('apps/nope.tar'), join(dir, 'bundle.tar')).catch((e: unknown) => e);
    expect((missingKey as AgentError).code).toBe(ErrorCodes.BUNDLE_FETCH);
    expect((missingKey as Error).message).toBe(
      `The S3 object s3://${BUCKET}/apps/nope.tar does not exist (NoSuchKey): check the revision's bucket and key`,
    );
    const missingBucket = await fetcher()({ ...rev('apps/small.tar'), bucket: 'no-such-bucket' }, join(dir, 'bundle.tar')).catch(
      (e: unknown) => e,
    );
    expect((missingBucket as Error).message).toBe(
      "The S3 bucket 'no-such-bucket' does not exist (NoSuchBucket) for object s3://no-such-bucket/apps/small.tar",
    );
    expect(await readdir(dir)).toEqual([]);
  });

  it('keeps the previous bundle file when a download fails', async () => {
    dir = await tempDir('cda-s3-');
    await fetcher()(rev('apps/small.tar'), join(dir, 'bundle.tar'));
    await expect(fetcher()(rev('apps/small.tar', { etag: 'bad' }), join(dir, 'bundle.tar'))).rejects.toThrow(
      /Expected deployment artifact bundle etag bad/,
    );
    expect(await readFile(join(dir, 'bundle.tar'))).toEqual(small);
    expect(await readdir(dir)).toEqual(['bundle.tar']);
  });

  // s3rver has no object versioning: it ignores versionId and returns the current object. So this
  // checks what we control, that VersionId goes on the wire (seen through the proxy), not that S3
  // serves the right version.
  it('sends VersionId and goes through proxy_uri', async () => {
    dir = await tempDir('cda-s3-');
    const proxy = await startProxy();
    try {
      await fetcher({ proxyUri: proxy.url })(rev('apps/small.tar', { version: 'v-123' }), join(dir, 'bundle.tar'));
      expect(await readFile(join(dir, 'bundle.tar'))).toEqual(small);
      expect(proxy.seen).toHaveLength(1);
      expect(proxy.seen[0]).toMatch(new RegExp(`^GET ${endpoint}/${BUCKET}/apps/small\\.tar\\?.*versionId=v-123`));
    } finally {
      await proxy.close();
    }
  });
});

describe('GitHub revisions against the local GitHub server', () => {
  let gh: GitHubServer;
  let sha: string;
  let prefix: string;
  const cleanups: Array<() => Promise<void>> = [];

  beforeAll(async () => {
    const repo = join(await suiteDir('cda-ghrepo-', cleanups), 'app');
    sha = await createTestGitRepo(repo, {
      'appspec.yml': 'version: 0.0\nos: linux\nfiles:\n  - source: /web\n    destination: /var/www\n',
      'web/index.html': '<h1>hello</h1>\n',
    });
    prefix = `octo-app-${sha.slice(0, 7)}/`;
    gh = await startGitHubServer({ repos: { 'octo/app': repo } });
  });

  afterAll(async () => {
    await gh.close();
    for (const cleanup of cleanups) await cleanup();
  });

  const rev = (bundleType: 'tar' | 'zip'): GitHubRevision => ({
    type: 'GitHub',
    account: 'octo',
    repository: 'app',
    commitId: sha,
    bundleType,
  });

  it('fetches the tarball at the commit: a gzip tar with <owner>-<repo>-<sha>/appspec.yml', async () => {
    const dir = await tempDir('cda-gh-');
    await createGitHubFetcher({ apiUrl: gh.apiUrl, logger: silentLogger() })(rev('tar'), join(dir, 'bundle.tar'));
    const listing = execFileSync('tar', ['-tzf', join(dir, 'bundle.tar')], { encoding: 'utf8' }).split('\n');
    expect(listing).toEqual(expect.arrayContaining([prefix, `${prefix}appspec.yml`, `${prefix}web/index.html`]));
    expect(await readdir(dir)).toEqual(['bundle.tar']);
  });

  it('fetches the zipball through a proxy (CONNECT tunnel)', async () => {
    const dir = await tempDir('cda-gh-');
    const proxy = await startProxy();
    try {
      const before = gh.requests.length;
      await createGitHubFetcher({ apiUrl: gh.apiUrl, proxyUri: proxy.url, logger: silentLogger() })(rev('zip'), join(dir, 'bundle.tar'));
      const names = execFileSync(
        'python3',
        ['-c', 'import sys, zipfile; print("\\n".join(zipfile.ZipFile(sys.argv[1]).namelist()))', join(dir, 'bundle.tar')],
        { encoding: 'utf8' },
      ).split('\n');
      expect(names).toEqual(expect.arrayContaining([`${prefix}appspec.yml`, `${prefix}web/index.html`]));
      expect(proxy.seen[0]).toBe(`CONNECT ${new URL(gh.apiUrl).host}`);
      expect(gh.requests.slice(before).map((r) => r.kind)).toEqual(['api', 'codeload']);
    } finally {
      await proxy.close();
    }
  });
});

describe('createRemoteBundleFetcher', () => {
  const spec = (revision: Revision, token?: string): DeploymentSpec => ({
    deploymentId: 'd-TEST00001',
    deploymentGroupId: 'dg-1',
    deploymentGroupName: 'group',
    applicationName: 'app',
    deploymentCreator: 'user',
    deploymentType: 'IN_PLACE',
    appSpecFilename: 'appspec.yml',
    revision,
    ...(token ? { gitHubAccessToken: token } : {}),
  });

  it('dispatches S3 and GitHub revisions, passing the spec token to GitHub only', async () => {
    const root = await tempDir('cda-remote-');
    const s3root = join(root, 's3');
    const s3rver = new S3rver({
      port: 0,
      address: '127.0.0.1',
      directory: s3root,
      silent: true,
      configureBuckets: [{ name: BUCKET, configs: [] }],
    });
    const { port } = await s3rver.run();
    const endpoint = `http://127.0.0.1:${port}`;
    const sha = await createTestGitRepo(join(root, 'repo'), { 'appspec.yml': 'version: 0.0\nos: linux\n' });
    const gh = await startGitHubServer({ repos: { 'octo/app': join(root, 'repo') } });
    try {
      const client = new S3Client({ region: 'us-east-1', endpoint, forcePathStyle: true, credentials: S3_CREDS });
      await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'b.tar', Body: 'S3 bytes' }));
      client.destroy();
      const { logger, lines } = captureLogger();
      const fetchRemote = createRemoteBundleFetcher({
        s3: { region: 'us-east-1', credentials, endpointOverride: endpoint, useFipsMode: false },
        github: { apiUrl: gh.apiUrl },
        logger: silentLogger(),
      });
      const s3rev: Revision = { type: 'S3', bucket: BUCKET, key: 'b.tar', bundleType: 'tar' };
      await fetchRemote(s3rev, { bundleFile: join(root, 's3.bundle'), logger, spec: spec(s3rev, 'unused-token') });
      expect(await readFile(join(root, 's3.bundle'), 'utf8')).toBe('S3 bytes');

      const ghrev: Revision = { type: 'GitHub', account: 'octo', repository: 'app', commitId: sha, bundleType: 'tar' };
      await fetchRemote(ghrev, { bundleFile: join(root, 'gh.bundle'), logger, spec: spec(ghrev, 'ghp_spec_TOKEN_42') });
      expect(execFileSync('tar', ['-tzf', join(root, 'gh.bundle')], { encoding: 'utf8' })).toContain(
        `octo-app-${sha.slice(0, 7)}/appspec.yml`,
      );
      expect(gh.requests[0]?.authorization).toBe('token ghp_spec_TOKEN_42');
      // The per-call (deployment) logger got both downloads' lines, and no token.
      const messages = lines().map((l) => String(l.msg));
      expect(messages.some((m) => m.startsWith(`Download complete from bucket ${BUCKET} and key b.tar: `))).toBe(true);
      expect(messages.some((m) => m.startsWith(`Download complete from ${gh.apiUrl}/repos/octo/app/tarball/${sha}: `))).toBe(true);
      expect(JSON.stringify(lines())).not.toContain('ghp_spec_TOKEN_42');
    } finally {
      await gh.close();
      await s3rver.close();
    }
  });

  it('raises a clear error for a kind that is not configured', async () => {
    const fetchRemote = createRemoteBundleFetcher({ logger: silentLogger() });
    const s3rev: Revision = { type: 'S3', bucket: 'b', key: 'k', bundleType: 'zip' };
    const ghrev: Revision = { type: 'GitHub', account: 'o', repository: 'r', commitId: 'c', bundleType: 'zip' };
    const s3err = await fetchRemote(s3rev, { bundleFile: '/nonexistent/x', logger: silentLogger(), spec: spec(s3rev) }).catch(
      (e: unknown) => e,
    );
    expect((s3err as AgentError).code).toBe(ErrorCodes.NOT_SUPPORTED);
    expect((s3err as Error).message).toBe('Cannot download s3://b/k: S3 downloads are not configured (no region or credentials for S3)');
    const gherr = await fetchRemote(ghrev, { bundleFile: '/nonexistent/x', logger: silentLogger(), spec: spec(ghrev) }).catch(
      (e: unknown) => e,
    );
    expect((gherr as Error).message).toBe('Cannot download GitHub revision o/r@c: GitHub downloads are not configured');
  });
});
