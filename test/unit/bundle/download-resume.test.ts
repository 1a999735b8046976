/**
 * Resumed downloads against a real HTTP server (test/helpers/range-server.ts) that serves a
 * multi-MiB incompressible body and drops the connection mid-body: the next attempt must ask for
 * the rest (`Range: bytes=N-`, with If-Match for S3 and If-Range for GitHub), append a matching
 * 206, and start over from byte 0 when the server ignores the Range, the object changed, or the
 * Content-Range does not continue the file. The result is checked byte for byte (SHA-256).
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createGitHubFetcher, type GitHubFetchCall, type GitHubRevision } from '../../../agent/bundle/github-fetcher.js';
import { createS3Fetcher, type S3FetchCall, type S3Revision } from '../../../agent/bundle/s3-fetcher.js';
import type { DownloadProgress } from '../../../agent/bundle/download-progress.js';
import { incompressible, sha256, startRangeServer, type RangeServer, type RangeServerOptions } from '../../helpers/range-server.js';
import { captureLogger, tempDir } from '../../helpers/temp.js';

const MiB = 2 ** 20;
const SIZE = 8 * MiB;
const CUT = 3 * MiB + 12_345;

let dir: string;
let servers: RangeServer[];
beforeEach(async () => {
  dir = await tempDir('cda-resume-');
  servers = [];
});
afterEach(async () => {
  for (const s of servers) await s.close();
});

async function serve(o: RangeServerOptions): Promise<RangeServer> {
  const s = await startRangeServer(o);
  servers.push(s);
  return s;
}

function s3Fetch(endpoint: string) {
  const { logger, lines } = captureLogger();
  const sleeps: number[] = [];
  const fetch = createS3Fetcher({
    region: 'us-east-1',
    credentials: () => Promise.resolve({ accessKeyId: 'AKIDTEST', secretAccessKey: 'secret' }),
    useFipsMode: false,
    endpointOverride: endpoint,
    logger,
    sleep: (ms) => (sleeps.push(ms), Promise.resolve()),
    random: () => 0.5,
  });
  return { fetch, lines, messages: () => lines().map((l) => String(l.msg)), sleeps };
}

const s3Rev = (o: Partial<S3Revision> = {}): S3Revision => ({ type: 'S3', bucket: 'bkt', key: 'apps/big.tar', bundleType: 'tar', ...o });

/**
 * What the agent had when the body broke off (from its retry line): the server wrote CUT bytes, but
 * what was still in the client's stream buffers when the socket died is lost, so this may be less.
 */
function had(lines: () => Array<Record<string, unknown>>, nth = 0): number {
  const n = lines().filter((l) => typeof l.bytesSoFar === 'number')[nth]?.bytesSoFar as number | undefined;
  expect(n).toBeGreaterThan(0);
  return n ?? -1;
}

async function fileSha(path: string): Promise<string> {
  return sha256(await readFile(path));
}

/** What the range server serves: its options, with SIZE incompressible bytes when no body is given. */
type Served = Omit<RangeServerOptions, 'body'> & { body?: Buffer };
/** A finished download into <dir>/bundle.tar: the server (its requests), the body it served, the fetcher's log. */
interface Downloaded {
  srv: RangeServer;
  body: Buffer;
  bundle: string;
  lines: () => Array<Record<string, unknown>>;
  messages: () => string[];
}

/** A fetcher made for the server's URL, with its log: `fetch` downloads one revision (retrying and resuming as it must). */
type Client = (url: string) => Pick<Downloaded, 'lines' | 'messages'> & { fetch: (bundle: string) => Promise<void> };

async function download(o: Served, client: Client): Promise<Downloaded> {
  const body = o.body ?? incompressible(SIZE);
  const srv = await serve({ ...o, body });
  const { fetch, lines, messages } = client(srv.url);
  const bundle = join(dir, 'bundle.tar');
  await fetch(bundle);
  return { srv, body, bundle, lines, messages };
}

/** Serves `o` and downloads it once through the S3 fetcher. */
function s3Download(o: Served, rev = s3Rev(), call?: S3FetchCall): Promise<Downloaded> {
  return download(o, (url) => {
    const c = s3Fetch(url);
    return { ...c, fetch: (bundle) => c.fetch(rev, bundle, call) };
  });
}

describe('S3 downloads resume with Range and If-Match', () => {
  it('asks for the rest after the connection drops mid-body, appends the 206, and logs progress', async () => {
    const heard: DownloadProgress[] = [];
    const { srv, body, bundle, lines, messages } = await s3Download(
      { etag: '"etag-v1"', plan: [{ breakAfter: CUT }] },
      s3Rev({ etag: 'etag-v1', version: 'v7' }),
      { onProgress: (p) => heard.push(p) },
    );

    expect(await fileSha(bundle)).toBe(sha256(body));
    expect(await readdir(dir)).toEqual(['bundle.tar']);
    const n = had(lines);
    expect(n).toBeLessThanOrEqual(CUT);
    expect(srv.requests.map((r) => [r.status, r.range, r.ifMatch])).toEqual([
      [200, undefined, undefined],
      [206, `bytes=${n}-`, '"etag-v1"'],
    ]);
    // The revision's version goes with both requests.
    expect(srv.requests.every((r) => r.path.includes('versionId=v7'))).toBe(true);
    expect(messages()).toContain(`The S3 download broke off after ${n} bytes; resuming it from there`);
    expect(messages()).toContain(`Resuming the download of s3://bkt/apps/big.tar at byte ${n} of ${SIZE}`);
    expect(messages().some((m) => m.includes('again from byte 0'))).toBe(false);
    const progress = lines().filter((l) => String(l.msg).startsWith('Downloaded '));
    expect(progress.length).toBeGreaterThanOrEqual(5);
    expect(String(progress[0]?.msg)).toMatch(
      /^Downloaded [\d.]+ (KiB|MiB) of 8\.0 MiB \(\d+ %\), [\d.]+ (B|KiB|MiB|GiB)\/s from s3:\/\/bkt\/apps\/big\.tar$/,
    );
    expect(progress.map((l) => l.totalBytes)).toEqual(progress.map(() => SIZE));
    // After the resume the percentages continue from where the file was (37 %), not from 0.
    const percents = progress.map((l) => Number(l.percent));
    expect(percents.filter((p, i) => i > 0 && p < (percents[i - 1] ?? 0))).toEqual([]);
    expect(messages().at(-1)).toMatch(/^Download complete from bucket bkt and key apps\/big\.tar: 8\.0 MiB in [\d.]+ s \(.+\/s\)$/);
    expect(heard.at(-1)).toMatchObject({ done: true, bytes: SIZE, totalBytes: SIZE, percent: 100 });
  });

  it('starts over from byte 0 when the server ignores the Range (200), and the file is still right', async () => {
    const { srv, body, bundle, lines, messages } = await s3Download({ etag: '"e"', plan: [{ breakAfter: CUT }, { ignoreRange: true }] });
    expect(await fileSha(bundle)).toBe(sha256(body));
    expect(srv.requests.map((r) => [r.status, r.range])).toEqual([
      [200, undefined],
      [200, `bytes=${had(lines)}-`],
    ]);
    expect(messages()).toContain(
      'Downloading s3://bkt/apps/big.tar again from byte 0: the server ignored the Range request and sent the whole file (HTTP 200)',
    );
  });

  it('starts over when the object changed between tries (412), and never splices the two', async () => {
    const v1 = incompressible(SIZE);
    const v2 = incompressible(SIZE + 1000);
    const { srv, bundle, lines, messages } = await s3Download({
      body: v1,
      etag: '"v1"',
      plan: [{ breakAfter: CUT }, { replace: { body: v2, etag: '"v2"' } }],
    });
    expect(await fileSha(bundle)).toBe(sha256(v2));
    expect(srv.requests.map((r) => [r.status, r.range, r.ifMatch])).toEqual([
      [200, undefined, undefined],
      [412, `bytes=${had(lines)}-`, '"v1"'],
      [200, undefined, undefined],
    ]);
    expect(messages()).toContain(
      'Downloading s3://bkt/apps/big.tar again from byte 0: the object changed since the download began (412 Precondition Failed)',
    );
  });

  it('a changed object still fails the revision ETag check after the restart', async () => {
    const srv = await serve({
      body: incompressible(SIZE),
      etag: '"v1"',
      plan: [{ breakAfter: CUT }, { replace: { body: incompressible(SIZE), etag: '"v2"' } }],
    });
    const { fetch } = s3Fetch(srv.url);
    const err = await fetch(s3Rev({ etag: 'v1' }), join(dir, 'bundle.tar')).catch((e: unknown) => e);
    expect((err as Error).message).toBe('Expected deployment artifact bundle etag v1 but was actually "v2"');
    expect(await readdir(dir)).toEqual([]);
  });

  it('starts over when the 206 is for other bytes than asked (Content-Range mismatch)', async () => {
    const { srv, body, bundle, lines, messages } = await s3Download({ etag: '"e"', plan: [{ breakAfter: CUT }, { shiftRange: 4096 }] });
    expect(await fileSha(bundle)).toBe(sha256(body));
    expect(srv.requests.map((r) => [r.status, r.range])).toEqual([
      [200, undefined],
      [206, `bytes=${had(lines)}-`],
      [200, undefined],
    ]);
    expect(messages()).toContain(
      `Downloading s3://bkt/apps/big.tar again from byte 0: the server answered 206 with Content-Range "bytes ${had(lines) + 4096}-${SIZE - 1}/${SIZE}", which does not start at byte ${had(lines)}`,
    );
  });

  it('resumes twice when the connection drops twice', async () => {
    const { srv, body, bundle, lines } = await s3Download({ etag: '"e"', plan: [{ breakAfter: MiB }, { breakAfter: 2 * MiB }] });
    expect(await fileSha(bundle)).toBe(sha256(body));
    expect(srv.requests.map((r) => [r.status, r.range])).toEqual([
      [200, undefined],
      [206, `bytes=${had(lines, 0)}-`],
      [206, `bytes=${had(lines, 1)}-`],
    ]);
  });
});

describe('GitHub downloads resume through the redirect with Range and If-Range', () => {
  const ghRev: GitHubRevision = { type: 'GitHub', account: 'octo', repository: 'app', commitId: 'abc123', bundleType: 'tar' };
  const redirect = /^\/repos\//;

  function ghFetch(apiUrl: string) {
    const { logger, lines } = captureLogger();
    const fetch = createGitHubFetcher({ apiUrl, logger, sleep: () => Promise.resolve(), random: () => 0.5 });
    return { fetch, lines, messages: () => lines().map((l) => String(l.msg)) };
  }
  const codeload = (srv: RangeServer) => srv.requests.filter((r) => r.path.startsWith('/codeload/'));

  /** Serves `o` behind the API's redirect and downloads ghRev once through the GitHub fetcher. */
  function ghDownload(o: Served, call?: GitHubFetchCall): Promise<Downloaded> {
    return download({ ...o, redirect }, (url) => {
      const c = ghFetch(url);
      return { ...c, fetch: (bundle) => c.fetch(ghRev, bundle, call) };
    });
  }

  it('sends Range and If-Range (the ETag) after a drop, appends the 206, and logs progress', async () => {
    const { srv, body, bundle, lines, messages } = await ghDownload(
      { etag: '"gh-etag"', plan: [{ breakAfter: CUT }] },
      { token: 'ghp_secret0123456789' },
    );
    expect(await fileSha(bundle)).toBe(sha256(body));
    expect(codeload(srv).map((r) => [r.status, r.range, r.ifRange])).toEqual([
      [200, undefined, undefined],
      [206, `bytes=${had(lines)}-`, '"gh-etag"'],
    ]);
    expect(messages()).toContain(`GitHub download failed after ${had(lines)} bytes; resuming it from there`);
    expect(lines().filter((l) => String(l.msg).startsWith('Downloaded ')).length).toBeGreaterThanOrEqual(5);
    expect(JSON.stringify(lines())).not.toContain('ghp_secret');
  });

  it('resumes a chunked archive with no ETag (Range alone, no If-Range)', async () => {
    const { srv, body, bundle, lines, messages } = await ghDownload({ plan: [{ breakAfter: CUT, chunked: true }, {}] });
    expect(await fileSha(bundle)).toBe(sha256(body));
    expect(codeload(srv).map((r) => [r.status, r.range, r.ifRange])).toEqual([
      [200, undefined, undefined],
      [206, `bytes=${had(lines)}-`, undefined],
    ]);
    expect(
      messages().some((m) => m.startsWith(`Resuming the download of ${srv.url}/repos/octo/app/tarball/abc123 at byte ${had(lines)}`)),
    ).toBe(true);
  });

  it('starts over when the archive changed (If-Range does not match: 200 with the new archive)', async () => {
    const v1 = incompressible(SIZE);
    const v2 = incompressible(SIZE - 777);
    const { srv, bundle, lines, messages } = await ghDownload({
      body: v1,
      etag: '"a1"',
      plan: [{ breakAfter: CUT }, { replace: { body: v2, etag: '"a2"' } }],
    });
    expect(await fileSha(bundle)).toBe(sha256(v2));
    expect(codeload(srv).map((r) => [r.status, r.range, r.ifRange])).toEqual([
      [200, undefined, undefined],
      [200, `bytes=${had(lines)}-`, '"a1"'],
    ]);
    expect(messages().some((m) => m.includes('again from byte 0: the server ignored the Range request'))).toBe(true);
  });

  it('starts over on 416 and on a mismatched Content-Range', async () => {
    const { srv, body, bundle, lines, messages } = await ghDownload({
      etag: '"e"',
      plan: [{ breakAfter: CUT }, { status: 416 }, { breakAfter: CUT }, { shiftRange: 1 }],
    });
    expect(await fileSha(bundle)).toBe(sha256(body));
    expect(codeload(srv).map((r) => [r.status, r.range])).toEqual([
      [200, undefined],
      [416, `bytes=${had(lines, 0)}-`],
      [200, undefined],
      [206, `bytes=${had(lines, 1)}-`],
      [200, undefined],
    ]);
    expect(messages().filter((m) => m.includes('again from byte 0'))).toHaveLength(2);
  });
});
