import { execFileSync } from 'node:child_process';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createGitHubFetcher, gitHubArchiveUrl, type GitHubRevision } from '../../../agent/bundle/github-fetcher.js';
import { AgentError, ErrorCodes } from '../../../agent/errors.js';
import { createTestGitRepo, startGitHubServer, type GitHubServer } from '../../helpers/github-server.js';
import { captureLogger, silentLogger, tempDir } from '../../helpers/temp.js';

const TOKEN = 'ghp_SECRETtoken0123456789abcdefABCDEF';

let server: GitHubServer;
let sha: string;
let work: string;
let sleeps: number[];

const recordSleep = (ms: number): Promise<void> => {
  sleeps.push(ms);
  return Promise.resolve();
};

function revision(overrides: Partial<GitHubRevision> = {}): GitHubRevision {
  return { type: 'GitHub', account: 'octo', repository: 'app', commitId: sha, bundleType: 'tar', ...overrides };
}

function fetcher(logger = silentLogger()) {
  // random() = 0.5 makes the full-jitter delays predictable: 0.5 x min(cap, base x 2^(n-1)).
  return createGitHubFetcher({
    apiUrl: server.apiUrl,
    logger,
    sleep: recordSleep,
    random: () => 0.5,
    retryBaseDelayMs: 1000,
    retryMaxDelayMs: 30_000,
  });
}

function tarListing(file: string): string[] {
  return execFileSync('tar', ['-tzf', file], { encoding: 'utf8' }).split('\n').filter(Boolean);
}

beforeEach(async () => {
  sleeps = [];
  work = await tempDir('cda-gh-');
  sha = await createTestGitRepo(join(work, 'repo'), {
    'appspec.yml': 'version: 0.0\nos: linux\n',
    'scripts/start.sh': '#!/bin/sh\necho start\n',
  });
  server = await startGitHubServer({ repos: { 'octo/app': join(work, 'repo') } });
});

afterEach(async () => {
  await server.close();
});

describe('gitHubArchiveUrl', () => {
  it.each([
    ['tar', 'https://api.github.com/repos/account/repository/tarball/commitid'],
    ['zip', 'https://api.github.com/repos/account/repository/zipball/commitid'],
  ] as const)('builds the official URL for %s', (bundleType, url) => {
    expect(
      gitHubArchiveUrl('https://api.github.com/', {
        type: 'GitHub',
        account: 'account',
        repository: 'repository',
        commitId: 'commitid',
        bundleType,
      }),
    ).toBe(url);
  });
});

describe('createGitHubFetcher', () => {
  it('downloads the tarball at the commit through the 302 redirect, anonymously without a token', async () => {
    const bundle = join(work, 'bundle.tar');
    await fetcher()(revision(), bundle);
    expect(tarListing(bundle)).toContain(`octo-app-${sha.slice(0, 7)}/appspec.yml`);
    expect(server.requests.map((r) => [r.kind, r.path, r.status])).toEqual([
      ['api', `/repos/octo/app/tarball/${sha}`, 302],
      ['codeload', `/codeload/octo/app/legacy.tar.gz/${sha}`, 200],
    ]);
    expect(server.requests.every((r) => r.authorization === undefined)).toBe(true);
    expect(server.requests[0]?.userAgent).toMatch(/^codedeploy-agent-ts\//);
    expect((await readdir(work)).sort()).toEqual(['bundle.tar', 'repo']);
  });

  it('sends "Authorization: token <t>" and never logs the token', async () => {
    const { logger, lines } = captureLogger();
    const bundle = join(work, 'bundle.tar');
    await fetcher(logger)(revision(), bundle, { token: TOKEN });
    expect(server.requests[0]?.authorization).toBe(`token ${TOKEN}`);
    const messages = lines().map((l) => String(l.msg));
    expect(messages).toContain(`Downloading artifact bundle from ${server.apiUrl}/repos/octo/app/tarball/${sha}`);
    const url = `${server.apiUrl}/repos/octo/app/tarball/${sha}`;
    expect(messages.find((m) => m.startsWith(`Download complete from ${url}: `))).toMatch(
      /: \d+(\.\d)? (B|KiB) in \d+(\.\d)? s \(.+\/s\)$/,
    );
    expect(JSON.stringify(lines())).not.toContain(TOKEN);
  });

  it('retries 502 twice with backoff, then succeeds', async () => {
    server.fail({ status: 502 }, { status: 502 });
    const bundle = join(work, 'bundle.tar');
    await fetcher()(revision(), bundle);
    expect(sleeps).toEqual([500, 1000]);
    expect(server.requests.map((r) => r.status)).toEqual([502, 502, 302, 200]);
    expect(tarListing(bundle)).toContain(`octo-app-${sha.slice(0, 7)}/scripts/start.sh`);
  });

  it('honours Retry-After on 429', async () => {
    server.fail({ status: 429, headers: { 'retry-after': '7' } });
    await fetcher()(revision(), join(work, 'bundle.tar'));
    expect(sleeps).toEqual([7000]);
  });

  it('gives up after 3 retries with the official message listing every code', async () => {
    server.fail({ status: 503 }, { status: 502 }, { status: 500 }, { status: 502 });
    const bundle = join(work, 'bundle.tar');
    const err = await fetcher()(revision(), bundle).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AgentError);
    expect((err as AgentError).code).toBe(ErrorCodes.BUNDLE_FETCH);
    expect((err as Error).message).toBe(
      `Could not download bundle at '${server.apiUrl}/repos/octo/app/tarball/${sha}' after 3 retries. ` +
        `Server returned codes: 503 'Service Unavailable'; 502 'Bad Gateway'; 500 'Internal Server Error'; 502 'Bad Gateway'`,
    );
    expect(sleeps).toEqual([500, 1000, 2000]);
    expect(await readdir(work)).toEqual(['repo']);
  });

  it('fails at once on 404 (an unknown commit does not appear by waiting), keeping the message format', async () => {
    const err = await fetcher()(revision({ commitId: 'deadbeef' }), join(work, 'bundle.tar')).catch((e: unknown) => e);
    expect((err as Error).message).toBe(
      `Could not download bundle at '${server.apiUrl}/repos/octo/app/tarball/deadbeef' after 0 retries. Server returned codes: 404 'Not Found'`,
    );
    expect(sleeps).toEqual([]);
    expect(server.requests).toHaveLength(1);
    expect(await readdir(work)).toEqual(['repo']);
  });

  it('does not put the token in the error or the logs when the download fails', async () => {
    const { logger, lines } = captureLogger();
    server.fail({ status: 401, message: 'Bad credentials' });
    const err = await fetcher(logger)(revision(), join(work, 'bundle.tar'), { token: TOKEN }).catch((e: unknown) => e);
    expect((err as Error).message).toContain(`401 'Unauthorized: Bad credentials'`);
    expect(
      JSON.stringify({ message: (err as Error).message, details: (err as AgentError).details, cause: String((err as Error).cause) }),
    ).not.toContain(TOKEN);
    expect(JSON.stringify(lines())).not.toContain(TOKEN);
  });

  it('retries a dropped connection and a body cut off mid-stream, leaving no partial file', async () => {
    server.fail({ destroy: true }, { truncateAfterBytes: 10, on: 'codeload' });
    const bundle = join(work, 'bundle.zip');
    await fetcher()(revision({ bundleType: 'zip' }), bundle);
    expect(server.requests.map((r) => [r.kind, r.status])).toEqual([
      ['api', 0],
      ['api', 302],
      ['codeload', 200],
      ['api', 302],
      ['codeload', 200],
    ]);
    expect(sleeps).toHaveLength(2);
    const zip = await readFile(bundle);
    expect(zip.subarray(0, 2).toString('latin1')).toBe('PK');
    expect((await readdir(work)).sort()).toEqual(['bundle.zip', 'repo']);
  });

  it('reports network errors by name when the server is unreachable', async () => {
    await server.close();
    const err = await fetcher()(revision(), join(work, 'bundle.tar')).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/after 3 retries\. Server returned codes: network error '.*ECONNREFUSED.*'; network error/);
    expect(sleeps).toHaveLength(3);
    server = await startGitHubServer({ repos: {} }); // for afterEach
  });

  it('stops when the signal aborts during a backoff', async () => {
    server.fail({ status: 503 });
    const controller = new AbortController();
    const f = createGitHubFetcher({
      apiUrl: server.apiUrl,
      logger: silentLogger(),
      sleep: (_ms, signal) => {
        controller.abort(new Error('shutting down'));
        return Promise.reject(signal?.reason as Error);
      },
    });
    const err = await f(revision(), join(work, 'bundle.tar'), { signal: controller.signal }).catch((e: unknown) => e);
    expect((err as Error).message).toBe('shutting down');
    expect(await readdir(work)).toEqual(['repo']);
  });
});

describe('streaming', () => {
  it('writes the archive to the temp file while it is still arriving (Octokit does not buffer it)', async () => {
    const dir = await tempDir('cda-gh-stream-');
    const first = Buffer.alloc(1024 * 1024, 1);
    let sawPartialFile = false;
    const bigServer = http.createServer((req, res) => {
      if (req.url?.startsWith('/repos/')) {
        res.writeHead(302, { location: '/codeload/big' });
        res.end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/x-gzip' });
      res.write(first);
      // Hold the rest back until the first MiB is on disk (or 5 s pass).
      const started = Date.now();
      const poll = async (): Promise<void> => {
        const parts = (await readdir(dir)).filter((n) => n.startsWith('bundle.tar.part-'));
        const size = parts[0] ? (await stat(join(dir, parts[0]))).size : 0;
        if (size >= first.length) sawPartialFile = true;
        if (sawPartialFile || Date.now() - started > 5000) res.end(Buffer.from('tail'));
        else setTimeout(() => void poll(), 20);
      };
      void poll();
    });
    await new Promise<void>((resolve) => bigServer.listen(0, '127.0.0.1', resolve));
    try {
      const apiUrl = `http://127.0.0.1:${(bigServer.address() as AddressInfo).port}`;
      const f = createGitHubFetcher({ apiUrl, logger: silentLogger() });
      await f({ type: 'GitHub', account: 'o', repository: 'r', commitId: 'c', bundleType: 'tar' }, join(dir, 'bundle.tar'));
      expect(sawPartialFile).toBe(true);
      expect((await stat(join(dir, 'bundle.tar'))).size).toBe(first.length + 4);
    } finally {
      bigServer.closeAllConnections();
      await new Promise<void>((resolve) => bigServer.close(() => resolve()));
    }
  });
});
