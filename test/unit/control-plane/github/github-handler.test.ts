import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Logger } from 'pino';
import * as tar from 'tar';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createGitHubFetcher } from '../../../../agent/bundle/github-fetcher.js';
import { unpackArchive } from '../../../../agent/bundle/unpack.js';
import { createGitHubHandler } from '../../../../control-plane/github/github-handler.js';
import { createTestGitRepo } from '../../../helpers/github-server.js';
import { captureLogger, silentLogger, tempDir } from '../../../helpers/temp.js';

const execFileAsync = promisify(execFile);
const TOKEN = 'ghp_SECRETtoken0123456789abcdefABCDEF';
const NOT_FOUND = { message: 'Not Found', documentation_url: 'https://docs.github.com/rest' };

const FILES_V1 = { 'appspec.yml': 'version: 0.0\nos: linux\n', 'scripts/start.sh': '#!/bin/sh\necho v1\n', 'README.md': 'first\n' };

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

let work: string;
let reposDir: string;
let appDir: string;
let sha1: string;
let sha2: string;
let server: http.Server;
let base: string;
let logs: () => Array<Record<string, unknown>>;

function git(dir: string, ...args: string[]): Promise<{ stdout: string }> {
  return execFileAsync(
    'git',
    ['-C', dir, '-c', 'user.name=Test', '-c', 'user.email=test@example.com', '-c', 'commit.gpgsign=false', ...args],
    {
      env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null' },
    },
  );
}

async function startServer(logger: Logger): Promise<void> {
  const handler = createGitHubHandler({ reposDir, logger });
  server = http.createServer((req, res) => {
    void handler(req, res).then((handled) => {
      if (!handled) res.writeHead(418).end('not github');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A GET with the path sent exactly as given (no URL normalisation of `..`), redirects not followed. */
function get(path: string, headers: Record<string, string> = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${base}/`, { method: 'GET', path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () =>
        res.complete
          ? resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) })
          : reject(new Error('incomplete')),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

function json(reply: Reply): unknown {
  return JSON.parse(reply.body.toString('utf8'));
}

/** Follows the API redirect to the codeload route and returns both answers. */
async function download(apiPath: string): Promise<{ redirect: Reply; archive: Reply }> {
  const redirect = await get(apiPath, { authorization: `token ${TOKEN}` });
  expect(redirect.status).toBe(302);
  const location = new URL(String(redirect.headers.location));
  const archive = await get(location.pathname, { authorization: `token ${TOKEN}` });
  return { redirect, archive };
}

/** path -> content of the regular files in a .tar.gz. */
async function tarFiles(data: Buffer): Promise<Map<string, string>> {
  const file = join(work, `archive-${randomBytes(4).toString('hex')}.tar.gz`);
  await writeFile(file, data);
  const files = new Map<string, string>();
  await tar.t({
    file,
    onReadEntry: (entry) => {
      if (entry.type !== 'File') return;
      const chunks: Buffer[] = [];
      entry.on('data', (c: Buffer) => chunks.push(c));
      entry.on('end', () => files.set(entry.path, Buffer.concat(chunks).toString('utf8')));
    },
  });
  return files;
}

/** path -> content of every file under dir. */
async function dirFiles(dir: string, rel = ''): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const entry of await readdir(join(dir, rel), { withFileTypes: true })) {
    const path = rel ? `${rel}/${entry.name}` : entry.name;
    if (entry.isDirectory()) for (const [k, v] of await dirFiles(dir, path)) out.set(k, v);
    else out.set(path, await readFile(join(dir, path), 'utf8'));
  }
  return out;
}

function prefixed(root: string, files: Record<string, string>): Map<string, string> {
  return new Map(Object.entries(files).map(([k, v]) => [`${root}/${k}`, v]));
}

beforeEach(async () => {
  work = await tempDir('cda-cp-gh-');
  // reposDir lives inside another git work tree: a folder in it that is not a repository must not
  // be served as that outer repository.
  await createTestGitRepo(work, { 'outer.txt': 'outer repository\n' });
  reposDir = join(work, 'repos');
  appDir = join(reposDir, 'octo', 'app');
  sha1 = await createTestGitRepo(appDir, FILES_V1);
  await writeFile(join(appDir, 'scripts/start.sh'), '#!/bin/sh\necho v2\n');
  await git(appDir, 'commit', '--quiet', '-am', 'second\n\nwith a body');
  sha2 = (await git(appDir, 'rev-parse', 'HEAD')).stdout.trim();
  const capture = captureLogger();
  logs = capture.lines;
  await startServer(capture.logger);
});

afterEach(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

describe('tarball and zipball', () => {
  it('redirects a tarball request to the codeload route of the resolved sha, which streams git archive of that commit', async () => {
    const { redirect, archive } = await download(`/github/repos/octo/app/tarball/${sha1}`);
    expect(redirect.headers.location).toBe(`${base}/github/_codeload/octo/app/legacy.tar.gz/${sha1}`);
    expect(archive.status).toBe(200);
    expect(archive.headers['content-type']).toBe('application/x-gzip');
    const root = `octo-app-${sha1.slice(0, 7)}`;
    expect(archive.headers['content-disposition']).toBe(`attachment; filename=${root}.tar.gz`);
    expect(archive.body.subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]));
    expect(await tarFiles(archive.body)).toEqual(prefixed(root, FILES_V1));
  });

  it('resolves a branch to its newest commit, and no ref to HEAD', async () => {
    const v2 = { ...FILES_V1, 'scripts/start.sh': '#!/bin/sh\necho v2\n' };
    for (const path of [
      '/github/repos/octo/app/tarball/main',
      '/github/repos/octo/app/tarball',
      `/github/repos/octo/app/tarball/${sha2.slice(0, 10)}`,
    ]) {
      const { redirect, archive } = await download(path);
      expect(redirect.headers.location).toBe(`${base}/github/_codeload/octo/app/legacy.tar.gz/${sha2}`);
      expect(await tarFiles(archive.body)).toEqual(prefixed(`octo-app-${sha2.slice(0, 7)}`, v2));
    }
  });

  it('accepts a URL-encoded ref with a slash (as Octokit sends it) and a tag', async () => {
    await git(appDir, 'branch', 'feature/old', sha1);
    await git(appDir, 'tag', 'v1.0', sha1);
    for (const ref of ['feature%2Fold', 'feature/old', 'v1.0']) {
      const reply = await get(`/github/repos/octo/app/tarball/${ref}`);
      expect(reply.headers.location).toBe(`${base}/github/_codeload/octo/app/legacy.tar.gz/${sha1}`);
    }
  });

  it('builds the redirect from the Host header the client used', async () => {
    const reply = await get('/github/repos/octo/app/tarball/main', { host: 'cp.example:8080' });
    expect(reply.headers.location).toBe(`http://cp.example:8080/github/_codeload/octo/app/legacy.tar.gz/${sha2}`);
    const bad = await get('/github/repos/octo/app/tarball/main', { host: 'evil/\\x' });
    expect(bad.headers.location).toBe(`${base}/github/_codeload/octo/app/legacy.tar.gz/${sha2}`);
  });

  it('serves a zipball as application/zip with the same top-level folder', async () => {
    const { redirect, archive } = await download(`/github/repos/octo/app/zipball/${sha1}`);
    expect(redirect.headers.location).toBe(`${base}/github/_codeload/octo/app/legacy.zip/${sha1}`);
    expect(archive.headers['content-type']).toBe('application/zip');
    const root = `octo-app-${sha1.slice(0, 7)}`;
    expect(archive.headers['content-disposition']).toBe(`attachment; filename=${root}.zip`);
    const file = join(work, 'bundle.zip');
    await writeFile(file, archive.body);
    await unpackArchive({ archivePath: file, type: 'zip', destDir: join(work, 'unzipped'), logger: silentLogger() });
    expect(await dirFiles(join(work, 'unzipped'))).toEqual(prefixed(root, FILES_V1));
  });

  it('serves a bare repository stored as <repo>.git', async () => {
    await execFileAsync('git', ['clone', '--quiet', '--bare', appDir, join(reposDir, 'octo', 'lib.git')]);
    const { redirect, archive } = await download('/github/repos/octo/lib/tarball/main');
    expect(redirect.headers.location).toBe(`${base}/github/_codeload/octo/lib/legacy.tar.gz/${sha2}`);
    expect([...(await tarFiles(archive.body)).keys()].sort()).toEqual([
      `octo-lib-${sha2.slice(0, 7)}/README.md`,
      `octo-lib-${sha2.slice(0, 7)}/appspec.yml`,
      `octo-lib-${sha2.slice(0, 7)}/scripts/start.sh`,
    ]);
  });

  it('accepts and ignores the Authorization header, and never logs it', async () => {
    await download('/github/repos/octo/app/tarball/main');
    const text = JSON.stringify(logs());
    expect(text).not.toContain(TOKEN);
    expect(logs().some((l) => l.msg === 'Served archive' && l.sha === sha2 && typeof l.bytes === 'number' && l.bytes > 0)).toBe(true);
  });
});

describe('git failures while archiving', () => {
  async function brokenRepo(files: Record<string, string>, missing: string): Promise<string> {
    const dir = join(reposDir, 'octo', 'broken');
    const sha = await createTestGitRepo(dir, files);
    const blob = (await git(dir, 'rev-parse', `HEAD:${missing}`)).stdout.trim();
    await rm(join(dir, '.git', 'objects', blob.slice(0, 2), blob.slice(2)));
    return sha;
  }

  it('breaks the connection when git fails after the archive started, so the download is not taken for whole', async () => {
    // 3 MiB of incompressible data comes first in the archive; the missing blob after it fails git mid-stream.
    const dir = join(reposDir, 'octo', 'broken');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'a.bin'), randomBytes(3 * 1024 * 1024));
    const sha = await brokenRepo({ 'z.txt': 'lost\n' }, 'z.txt');
    const res = await fetch(`${base}/github/_codeload/octo/broken/legacy.tar.gz/${sha}`);
    expect(res.status).toBe(200);
    await expect(res.arrayBuffer()).rejects.toThrow();
    await expect
      .poll(() => logs().some((l) => l.msg === 'git archive failed' && typeof l.bytesSent === 'number' && l.bytesSent > 0))
      .toBe(true);
  });

  it('stops git when the client goes away mid-download', async () => {
    // More than loopback socket buffers hold, so git is still writing when the client leaves.
    const dir = join(reposDir, 'octo', 'big');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'big.bin'), randomBytes(16 * 1024 * 1024));
    const sha = await createTestGitRepo(dir, { 'small.txt': 'x\n' });
    await new Promise<void>((resolve, reject) => {
      const req = http.get(`${base}/github/_codeload/octo/big/legacy.tar.gz/${sha}`, (res) => {
        expect(res.statusCode).toBe(200);
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', (err) => (req.destroyed ? undefined : reject(err)));
    });
    await expect.poll(() => logs().some((l) => l.msg === 'archive download abandoned by the client')).toBe(true);
    expect(logs().some((l) => l.msg === 'Served archive' && l.sha === sha)).toBe(false);
  });

  it('answers 500 when git fails before the first bytes were committed', async () => {
    const sha = await brokenRepo({ 'only.txt': 'lost\n' }, 'only.txt');
    const reply = await get(`/github/_codeload/octo/broken/legacy.tar.gz/${sha}`);
    expect(reply.status).toBe(500);
    expect(json(reply)).toEqual({ message: 'Server Error', documentation_url: 'https://docs.github.com/rest' });
    const failure = logs().find((l) => l.msg === 'git archive failed');
    expect(String(failure?.stderr)).toMatch(/cannot read|invalid object/);
  });
});

describe('repository and commit JSON', () => {
  it('describes a repository', async () => {
    const reply = await get('/github/repos/octo/app');
    expect(reply.status).toBe(200);
    const body = json(reply) as Record<string, unknown>;
    expect(body).toEqual({
      id: expect.any(Number),
      name: 'app',
      full_name: 'octo/app',
      owner: { login: 'octo' },
      default_branch: 'main',
      private: false,
    });
    expect(json(await get('/github/repos/octo/app'))).toEqual(body);
  });

  it('describes a commit by ref or sha', async () => {
    const reply = await get('/github/repos/octo/app/commits/main');
    expect(reply.status).toBe(200);
    const body = json(reply) as { sha: string; commit: { message: string; author: { name: string; email: string; date: string } } };
    expect(body.sha).toBe(sha2);
    expect(body.commit.message).toBe('second\n\nwith a body');
    expect(body.commit.author).toEqual({
      name: 'Test',
      email: 'test@example.com',
      date: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
    });
    expect((json(await get(`/github/repos/octo/app/commits/${sha1}`)) as { sha: string }).sha).toBe(sha1);
    const bare = await get('/github/repos/octo/app/commits/main', { accept: 'application/vnd.github.sha' });
    expect(bare.body.toString()).toBe(sha2);
  });

  it('answers / and /rate_limit harmlessly', async () => {
    expect((await get('/github')).status).toBe(200);
    const rate = json(await get('/github/rate_limit')) as { rate: { remaining: number } };
    expect(rate.rate.remaining).toBeGreaterThan(0);
  });
});

describe('not found', () => {
  it.each([
    ['an unknown repository', '/github/repos/octo/nope/tarball/main'],
    ['an unknown owner', '/github/repos/nobody/app/tarball/main'],
    ['an unknown ref', '/github/repos/octo/app/tarball/no-such-branch'],
    ['an unknown sha', `/github/repos/octo/app/zipball/${'0'.repeat(40)}`],
    ['a range instead of a ref', '/github/repos/octo/app/tarball/main..HEAD'],
    ['a ref that looks like an option', '/github/repos/octo/app/tarball/--output=x'],
    ['an encoded option ref', '/github/repos/octo/app/tarball/%2D%2Doutput%3Dx'],
    ['an unknown commit', '/github/repos/octo/app/commits/nope'],
    ['.. as the repository', '/github/repos/octo/../tarball/main'],
    ['.. as the owner', '/github/repos/../app/tarball/main'],
    ['encoded ..', '/github/repos/octo/%2e%2e/tarball/main'],
    ['an encoded slash in a name', '/github/repos/octo%2Fapp/x/tarball/main'],
    ['a malformed escape', '/github/repos/octo/%zz/tarball/main'],
    ['a codeload path with a ref instead of a sha', '/github/_codeload/octo/app/legacy.tar.gz/main'],
    ['a codeload path with an unknown sha', `/github/_codeload/octo/app/legacy.tar.gz/${'a'.repeat(40)}`],
    ['an unknown archive format', `/github/_codeload/octo/app/legacy.rar/${'b'.repeat(40)}`],
    ['an unknown route', '/github/users/octo'],
  ])('answers 404 for %s', async (_name, path) => {
    const reply = await get(path);
    expect(reply.status).toBe(404);
    expect(json(reply)).toEqual(NOT_FOUND);
  });

  it('never hands an option-looking ref to git', async () => {
    await get('/github/repos/octo/app/tarball/--output=x');
    await get(`/github/repos/octo/app/zipball/--output=${join(work, 'escaped')}`);
    expect((await readdir(appDir)).sort()).toEqual(['.git', 'README.md', 'appspec.yml', 'scripts']);
    expect(await readdir(work)).not.toContain('escaped');
  });

  it('does not serve a folder that is not a repository, even inside another work tree', async () => {
    await mkdir(join(reposDir, 'octo', 'plain'), { recursive: true });
    await writeFile(join(reposDir, 'octo', 'plain', 'file.txt'), 'x');
    for (const path of ['/github/repos/octo/plain/tarball/HEAD', '/github/repos/octo/plain']) {
      expect((await get(path)).status).toBe(404);
    }
  });

  it('does not follow a symbolic link out of reposDir', async () => {
    const outside = await tempDir('cda-cp-gh-outside-');
    await createTestGitRepo(join(outside, 'secret'), { 'secret.txt': 'secret\n' });
    await symlink(join(outside, 'secret'), join(reposDir, 'octo', 'evil'));
    await symlink(outside, join(reposDir, 'mallory'));
    for (const path of ['/github/repos/octo/evil/tarball/HEAD', '/github/repos/mallory/secret/tarball/HEAD', '/github/repos/octo/evil']) {
      const reply = await get(path);
      expect(reply.status).toBe(404);
      expect(json(reply)).toEqual(NOT_FOUND);
    }
  });

  it('follows a symbolic link that stays inside reposDir', async () => {
    await symlink(appDir, join(reposDir, 'octo', 'alias'));
    const reply = await get('/github/repos/octo/alias/tarball/main');
    expect(reply.headers.location).toBe(`${base}/github/_codeload/octo/alias/legacy.tar.gz/${sha2}`);
  });

  it('serves an owner or repository whose name starts with ".." (a name, not a way up)', async () => {
    const sha = await createTestGitRepo(join(reposDir, '..dots', '..app'), FILES_V1);
    const reply = await get('/github/repos/..dots/..app/tarball/main');
    expect(reply.status).toBe(302);
    expect(reply.headers.location).toBe(`${base}/github/_codeload/..dots/..app/legacy.tar.gz/${sha}`);
  });

  it('answers 404 to other methods', async () => {
    const res = await fetch(`${base}/github/repos/octo/app/tarball/main`, { method: 'POST' });
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual(NOT_FOUND);
  });

  it('leaves paths outside the prefix to other handlers', async () => {
    for (const path of ['/', '/githubx/repos/octo/app', '/bucket/github/repos/octo/app']) {
      const reply = await get(path);
      expect(reply.status).toBe(418);
    }
  });
});

describe('the agent GitHub fetcher through the endpoint', () => {
  it.each([['tar'], ['zip']] as const)('downloads a %s bundle that unpacks to the commit', async (bundleType) => {
    const { logger, lines } = captureLogger();
    const fetcher = createGitHubFetcher({ apiUrl: `${base}/github`, logger, maxRetries: 0 });
    const bundle = join(work, `bundle.${bundleType}`);
    await fetcher({ type: 'GitHub', account: 'octo', repository: 'app', commitId: sha1, bundleType }, bundle, { token: TOKEN });
    const dest = join(work, 'unpacked');
    await unpackArchive({ archivePath: bundle, type: bundleType, destDir: dest, logger: silentLogger() });
    expect(await dirFiles(dest)).toEqual(prefixed(`octo-app-${sha1.slice(0, 7)}`, FILES_V1));
    expect(JSON.stringify(lines())).not.toContain(TOKEN);
    expect(JSON.stringify(logs())).not.toContain(TOKEN);
  });

  it('fails with the official message for an unknown commit', async () => {
    const fetcher = createGitHubFetcher({ apiUrl: `${base}/github`, logger: silentLogger(), maxRetries: 0 });
    const err = await fetcher(
      { type: 'GitHub', account: 'octo', repository: 'app', commitId: 'deadbeef', bundleType: 'tar' },
      join(work, 'b.tar'),
    ).catch((e: unknown) => e);
    expect((err as Error).message).toBe(
      `Could not download bundle at '${base}/github/repos/octo/app/tarball/deadbeef' after 0 retries. Server returned codes: 404 'Not Found'`,
    );
  });
});
