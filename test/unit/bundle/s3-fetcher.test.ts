import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { HttpRequest } from '@smithy/protocol-http';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { describeS3Error } from '../../../agent/bundle/s3-errors.js';
import {
  createS3Client,
  createS3Fetcher,
  resolveS3Endpoint,
  type S3FetcherOptions,
  type S3Revision,
} from '../../../agent/bundle/s3-fetcher.js';
import { AgentError, ErrorCodes } from '../../../agent/errors.js';
import { captureLogger, silentLogger, tempDir } from '../../helpers/temp.js';

const CREDS = { accessKeyId: 'AKIDTEST', secretAccessKey: 'secret' };
const credentials = () => Promise.resolve(CREDS);
const rev = (o: Partial<S3Revision> = {}): S3Revision => ({ type: 'S3', bucket: 'mybucket', key: 'apps/app.tar', bundleType: 'tar', ...o });

describe('resolveS3Endpoint (docs/reference.md section 6.1)', () => {
  it.each([
    [
      'override wins, path-style',
      { region: 'us-east-1', endpointOverride: 'https://s3.example.test:9000', useFipsMode: true },
      { endpoint: 'https://s3.example.test:9000', forcePathStyle: true },
    ],
    [
      'override without a scheme gets https',
      { region: 'us-east-1', endpointOverride: 'minio.local:9000', useFipsMode: false },
      { endpoint: 'https://minio.local:9000', forcePathStyle: true },
    ],
    [
      'override with forcePathStyle false',
      { region: 'us-east-1', endpointOverride: 'https://s3.example.test', useFipsMode: false, forcePathStyle: false },
      { endpoint: 'https://s3.example.test', forcePathStyle: false },
    ],
    [
      'FIPS',
      { region: 'us-gov-west-1', useFipsMode: true },
      { endpoint: 'https://s3-fips.us-gov-west-1.amazonaws.com', forcePathStyle: false },
    ],
    [
      'FIPS beats eusc',
      { region: 'eusc-de-east-1', useFipsMode: true },
      { endpoint: 'https://s3-fips.eusc-de-east-1.amazonaws.com', forcePathStyle: false },
    ],
    [
      'eusc-de-east-1',
      { region: 'eusc-de-east-1', useFipsMode: false },
      { endpoint: 'https://s3.eusc-de-east-1.amazonaws.eu', forcePathStyle: false },
    ],
    ['SDK default', { region: 'us-west-2', useFipsMode: false }, { forcePathStyle: false }],
  ])('%s', (_name, opts, expected) => {
    expect(resolveS3Endpoint(opts)).toEqual(expected);
  });

  it('rejects an override that is not a URL', () => {
    expect(() => resolveS3Endpoint({ region: 'us-east-1', useFipsMode: false, endpointOverride: 'https://exa mple' })).toThrow(
      /s3_endpoint_override "https:\/\/exa mple" is not a valid URL/,
    );
  });
});

/** The URL the client would call for a GetObject, captured after signing, without sending it. */
async function requestUrl(opts: Partial<S3FetcherOptions>): Promise<string> {
  const client = createS3Client({ region: 'us-east-1', credentials, useFipsMode: false, logger: silentLogger(), maxAttempts: 1, ...opts });
  let url = '';
  client.middlewareStack.add(
    () => (args) => {
      const req = args.request as HttpRequest;
      url = `${req.protocol}//${req.hostname}${req.port ? `:${req.port}` : ''}${req.path}`;
      return Promise.reject(new Error('captured'));
    },
    { step: 'finalizeRequest', priority: 'low' },
  );
  const { GetObjectCommand } = await import('@aws-sdk/client-s3');
  await expect(client.send(new GetObjectCommand({ Bucket: 'mybucket', Key: 'apps/app.tar' }))).rejects.toThrow('captured');
  return url;
}

describe('createS3Client endpoints on the wire', () => {
  it.each([
    ['SDK default', { region: 'us-west-2' }, 'https://mybucket.s3.us-west-2.amazonaws.com/apps/app.tar'],
    ['FIPS', { region: 'us-east-2', useFipsMode: true }, 'https://mybucket.s3-fips.us-east-2.amazonaws.com/apps/app.tar'],
    ['eusc', { region: 'eusc-de-east-1' }, 'https://mybucket.s3.eusc-de-east-1.amazonaws.eu/apps/app.tar'],
    ['override', { endpointOverride: 'http://127.0.0.1:9000' }, 'http://127.0.0.1:9000/mybucket/apps/app.tar'],
  ])('%s', async (_name, opts, expected) => {
    expect(await requestUrl(opts)).toBe(expected);
  });
});

describe('describeS3Error', () => {
  const ctx = { region: 'us-east-1', fips: false };
  const s3Error = (name: string, status: number) =>
    Object.assign(new Error(`${name} message`), { name, $metadata: { httpStatusCode: status } });

  it('explains AccessDenied with the permissions and ARN', () => {
    expect(describeS3Error(s3Error('AccessDenied', 403), rev(), ctx).message).toBe(
      'Access denied reading s3://mybucket/apps/app.tar: the instance profile or on-premises IAM identity needs s3:GetObject (and s3:GetObjectVersion for versioned revisions) on arn:aws:s3:::mybucket/apps/app.tar',
    );
    expect(describeS3Error(s3Error('AccessDenied', 403), rev({ version: 'v1' }), ctx).message).toContain(
      'needs s3:GetObject and s3:GetObjectVersion on arn:aws:s3:::mybucket/apps/app.tar',
    );
  });

  it('names a missing key, bucket or version', () => {
    expect(describeS3Error(s3Error('NoSuchKey', 404), rev(), ctx).message).toBe(
      "The S3 object s3://mybucket/apps/app.tar does not exist (NoSuchKey): check the revision's bucket and key",
    );
    expect(describeS3Error(s3Error('NoSuchBucket', 404), rev(), ctx).message).toBe(
      "The S3 bucket 'mybucket' does not exist (NoSuchBucket) for object s3://mybucket/apps/app.tar",
    );
    expect(describeS3Error(s3Error('NoSuchVersion', 404), rev({ version: 'v9' }), ctx).message).toBe(
      "Version 'v9' of the S3 object s3://mybucket/apps/app.tar does not exist (NoSuchVersion)",
    );
  });

  it('adds the endpoint-override hint to connection failures (FIPS variant per reference)', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 10.0.0.1:443'), { code: 'ECONNREFUSED' });
    expect(describeS3Error(refused, rev(), ctx).message).toBe(
      'Unable to connect to S3 in us-east-1 to download s3://mybucket/apps/app.tar: connect ECONNREFUSED 10.0.0.1:443. Try using s3 endpoint override.',
    );
    expect(
      describeS3Error(refused, rev(), { region: 'eu-west-3', fips: true, endpoint: 'https://s3-fips.eu-west-3.amazonaws.com' }).message,
    ).toBe(
      'Unable to connect to https://s3-fips.eu-west-3.amazonaws.com to download s3://mybucket/apps/app.tar: connect ECONNREFUSED 10.0.0.1:443. Check that Fips exists in eu-west-3. Or, try using s3 endpoint override.',
    );
  });

  it('says rejected credentials belong to which identity', () => {
    const message = describeS3Error(s3Error('InvalidAccessKeyId', 403), rev(), { ...ctx, identity: 'the on-premises IAM user' }).message;
    expect(message).toBe(
      'S3 rejected the credentials of the on-premises IAM user while reading s3://mybucket/apps/app.tar (InvalidAccessKeyId): InvalidAccessKeyId message',
    );
  });
});

interface FakeReply {
  status?: number;
  body?: string | Buffer;
  headers?: Record<string, string>;
  /** Announce the full length but send only this many bytes, then drop the connection. */
  truncateAt?: number;
  /** With truncateAt: keep the connection open instead of dropping it. */
  hang?: boolean;
}

/** A scripted S3-like server: replies in order, the last one repeats. */
async function fakeS3(replies: FakeReply[]) {
  const paths: string[] = [];
  const ranges: Array<string | undefined> = [];
  const ifMatch: Array<string | undefined> = [];
  const server = http.createServer((req, res) => {
    paths.push(req.url ?? '');
    ranges.push(req.headers.range);
    ifMatch.push(req.headers['if-match']);
    const reply = replies.length > 1 ? (replies.shift() as FakeReply) : (replies[0] as FakeReply);
    const body = Buffer.from(reply.body ?? '');
    res.writeHead(reply.status ?? 200, { 'content-length': String(body.length), etag: '"abc123"', ...reply.headers });
    if (reply.truncateAt !== undefined) {
      res.write(body.subarray(0, reply.truncateAt), () => {
        if (!reply.hang) setTimeout(() => req.socket.destroy(), 10);
      });
      return;
    }
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    paths,
    ranges,
    ifMatch,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const errorXml = (code: string, message: string) =>
  `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${message}</Message><RequestId>R1</RequestId></Error>`;

describe('createS3Fetcher against a scripted server', () => {
  let dir: string;
  let closers: Array<() => Promise<void>>;
  beforeEach(async () => {
    dir = await tempDir('cda-s3-unit-');
    closers = [];
  });
  afterEach(async () => {
    for (const close of closers) await close();
  });

  const start = async (replies: FakeReply[]) => {
    const s = await fakeS3(replies);
    closers.push(s.close);
    return s;
  };

  it('asks for the rest after a body breaks off; a server that ignores the Range gets a restart from byte 0', async () => {
    const content = 'x'.repeat(5000);
    const s3 = await start([{ body: content, truncateAt: 1000 }, { body: content }]);
    const sleeps: number[] = [];
    const { logger, lines } = captureLogger();
    const fetch = createS3Fetcher({
      region: 'us-east-1',
      credentials,
      useFipsMode: false,
      endpointOverride: s3.endpoint,
      logger,
      sleep: (ms) => (sleeps.push(ms), Promise.resolve()),
      random: () => 0.5,
    });
    const bundle = join(dir, 'bundle.tar');
    await fetch(rev({ etag: 'abc123' }), bundle);
    expect(await readFile(bundle, 'utf8')).toBe(content);
    expect(s3.paths).toEqual(['/mybucket/apps/app.tar?x-id=GetObject', '/mybucket/apps/app.tar?x-id=GetObject']);
    expect(s3.ranges).toEqual([undefined, 'bytes=1000-']);
    expect(s3.ifMatch).toEqual([undefined, '"abc123"']);
    expect(sleeps).toEqual([500]);
    expect(await readdir(dir)).toEqual(['bundle.tar']);
    const messages = lines().map((l) => String(l.msg));
    expect(messages[0]).toBe("Downloading artifact bundle from bucket 'mybucket' and key 'apps/app.tar', version '', etag 'abc123'");
    expect(messages).toContain('The S3 download broke off after 1000 bytes; resuming it from there');
    expect(messages).toContain('Resuming the download of s3://mybucket/apps/app.tar at byte 1000 of 5000');
    expect(messages).toContain(
      'Downloading s3://mybucket/apps/app.tar again from byte 0: the server ignored the Range request and sent the whole file (HTTP 200)',
    );
    expect(messages.at(-1)).toMatch(/^Download complete from bucket mybucket and key apps\/app\.tar: 4\.9 KiB in [\d.]+ s \(.+\/s\)$/);
  });

  it('gives up after maxAttempts broken bodies, leaving no file', async () => {
    const s3 = await start([{ body: 'y'.repeat(4000), truncateAt: 100 }]);
    const fetch = createS3Fetcher({
      region: 'us-east-1',
      credentials,
      useFipsMode: false,
      endpointOverride: s3.endpoint,
      logger: silentLogger(),
      maxAttempts: 2,
      sleep: () => Promise.resolve(),
    });
    const err = await fetch(rev(), join(dir, 'bundle.tar')).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/^Downloading s3:\/\/mybucket\/apps\/app\.tar failed after 2 attempt\(s\): /);
    expect(s3.paths).toHaveLength(2);
    expect(await readdir(dir)).toEqual([]);
  });

  it('lets the SDK retry a 503 and then succeeds', async () => {
    const s3 = await start([{ status: 503, body: errorXml('SlowDown', 'Please reduce your request rate.') }, { body: 'payload' }]);
    const fetch = createS3Fetcher({
      region: 'us-east-1',
      credentials,
      useFipsMode: false,
      endpointOverride: s3.endpoint,
      logger: silentLogger(),
    });
    await fetch(rev(), join(dir, 'bundle.tar'));
    expect(await readFile(join(dir, 'bundle.tar'), 'utf8')).toBe('payload');
    expect(s3.paths).toHaveLength(2);
  });

  it('maps a real AccessDenied answer to the permissions message without retrying', async () => {
    const s3 = await start([{ status: 403, body: errorXml('AccessDenied', 'Access Denied') }]);
    const fetch = createS3Fetcher({
      region: 'us-east-1',
      credentials,
      useFipsMode: false,
      endpointOverride: s3.endpoint,
      logger: silentLogger(),
    });
    const err = await fetch(rev(), join(dir, 'bundle.tar')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AgentError);
    expect((err as AgentError).code).toBe(ErrorCodes.BUNDLE_FETCH);
    expect((err as Error).message).toMatch(
      /^Access denied reading s3:\/\/mybucket\/apps\/app\.tar: .* on arn:aws:s3:::mybucket\/apps\/app\.tar$/,
    );
    expect(s3.paths).toHaveLength(1);
    expect(await readdir(dir)).toEqual([]);
  });

  it('says which identity has no credentials', async () => {
    const s3 = await start([{ body: 'never' }]);
    const fetch = createS3Fetcher({
      region: 'us-east-1',
      credentials: () => Promise.reject(new Error('Could not load credentials from any providers')),
      identityDescription: 'the EC2 instance profile',
      useFipsMode: false,
      endpointOverride: s3.endpoint,
      logger: silentLogger(),
    });
    const err = await fetch(rev(), join(dir, 'bundle.tar')).catch((e: unknown) => e);
    expect((err as Error).message).toBe(
      'Could not get AWS credentials from the EC2 instance profile to download s3://mybucket/apps/app.tar: Could not load credentials from any providers',
    );
    expect(s3.paths).toEqual([]);
  });

  it('stops on abort mid-body and deletes the partial file', async () => {
    const s3 = await start([{ body: 'z'.repeat(100_000), truncateAt: 50_000, hang: true }]);
    const controller = new AbortController();
    const fetch = createS3Fetcher({
      region: 'us-east-1',
      credentials,
      useFipsMode: false,
      endpointOverride: s3.endpoint,
      logger: silentLogger(),
    });
    const pending = fetch(rev(), join(dir, 'bundle.tar'), { signal: controller.signal }).catch((e: unknown) => e);
    // Abort once the first bytes are in the temp file.
    let sawPart = false;
    for (let i = 0; i < 200 && !sawPart; i++) {
      const part = (await readdir(dir)).find((n) => n.startsWith('bundle.tar.part-'));
      sawPart = part !== undefined && (await stat(join(dir, part)).catch(() => undefined))?.size === 50_000;
      if (!sawPart) await new Promise((r) => setTimeout(r, 5));
    }
    expect(sawPart).toBe(true);
    controller.abort(new Error('agent shutting down'));
    const err = await pending;
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(AgentError);
    expect(await readdir(dir)).toEqual([]);
    expect(s3.paths).toHaveLength(1);
  });

  it('adds the endpoint-override hint when nothing listens', async () => {
    const s3 = await start([{ body: 'x' }]);
    await s3.close();
    closers = [];
    const fetch = createS3Fetcher({
      region: 'us-east-1',
      credentials,
      useFipsMode: false,
      endpointOverride: s3.endpoint,
      logger: silentLogger(),
      maxAttempts: 1,
    });
    const err = await fetch(rev(), join(dir, 'bundle.tar')).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(
      new RegExp(
        `^Unable to connect to ${s3.endpoint} to download s3://mybucket/apps/app.tar: .*ECONNREFUSED.*\\. Try using s3 endpoint override\\.$`,
      ),
    );
  });
});
