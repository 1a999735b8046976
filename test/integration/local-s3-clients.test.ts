/**
 * Real clients against the local S3 endpoint: the agent's own S3 fetcher (endpoint override,
 * path style) downloading revisions by version and ETag, and, where /usr/bin/aws (the Debian aws
 * CLI v2) exists, `aws s3 mb/cp/ls` including a 20 MB multipart upload and ranged download, and
 * `aws s3api` reading back what they did.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterEach, describe, expect, it } from 'vitest';
import { createS3Fetcher } from '../../agent/bundle/s3-fetcher.js';
import { createS3Handler } from '../../control-plane/s3/s3-handler.js';
import { openDatabase } from '../../control-plane/store/database.js';
import { silentLogger, tempDir } from '../helpers/temp.js';

const AWS = '/usr/bin/aws';
const run = promisify(execFile);
const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (stops.length > 0) await stops.pop()!();
});

async function startS3(): Promise<{ url: string; dir: string }> {
  const dir = await tempDir('cda-s3cli-');
  const db = openDatabase(join(dir, 'control-plane.db'));
  const s3 = createS3Handler({ db, dataDir: dir, logger: silentLogger() });
  const server = http.createServer((req, res) => void s3.handler(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  stops.push(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    db.close();
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, dir };
}

const credentials = { accessKeyId: 'AKIDLOCALCLIENT', secretAccessKey: 'local-secret' };

describe('the agent S3 fetcher against the local endpoint', () => {
  it('downloads a revision by version and ETag, and refuses a wrong ETag or version', async () => {
    const { url, dir } = await startS3();
    const sdk = new S3Client({ endpoint: url, region: 'us-east-1', credentials, forcePathStyle: true });
    await sdk.send(new CreateBucketCommand({ Bucket: 'deploy-revisions' }));
    const first = randomBytes(300_000);
    const v1 = await sdk.send(new PutObjectCommand({ Bucket: 'deploy-revisions', Key: 'apps/app.tgz', Body: first }));
    const v2 = await sdk.send(new PutObjectCommand({ Bucket: 'deploy-revisions', Key: 'apps/app.tgz', Body: randomBytes(1000) }));
    sdk.destroy();

    const fetcher = createS3Fetcher({
      region: 'us-east-1',
      credentials: async () => credentials,
      endpointOverride: url,
      useFipsMode: false,
      logger: silentLogger(),
      maxAttempts: 1,
    });
    const bundle = join(dir, 'bundle.tgz');
    await fetcher(
      { type: 'S3', bucket: 'deploy-revisions', key: 'apps/app.tgz', bundleType: 'tgz', version: v1.VersionId, etag: v1.ETag },
      bundle,
    );
    expect((await readFile(bundle)).equals(first)).toBe(true);

    const wrongTag = join(dir, 'wrong.tgz');
    await expect(
      fetcher(
        { type: 'S3', bucket: 'deploy-revisions', key: 'apps/app.tgz', bundleType: 'tgz', version: v1.VersionId, etag: v2.ETag },
        wrongTag,
      ),
    ).rejects.toThrow(/Expected deployment artifact bundle etag/);
    expect(existsSync(wrongTag)).toBe(false);
    await expect(
      fetcher(
        { type: 'S3', bucket: 'deploy-revisions', key: 'apps/app.tgz', bundleType: 'tgz', version: 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' },
        wrongTag,
      ),
    ).rejects.toThrow(/NoSuchVersion/);
    await expect(fetcher({ type: 'S3', bucket: 'deploy-revisions', key: 'apps/none.tgz', bundleType: 'tgz' }, wrongTag)).rejects.toThrow(
      /NoSuchKey/,
    );
  });
});

describe.skipIf(!existsSync(AWS))('the aws CLI v2 against the local endpoint', () => {
  it('makes a bucket, copies small and multipart files up and down, and lists them', async () => {
    const { url, dir } = await startS3();
    const home = await tempDir('cda-s3cli-home-');
    const env = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: home,
      AWS_ACCESS_KEY_ID: credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
      AWS_DEFAULT_REGION: 'us-east-1',
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_CONFIG_FILE: join(home, 'no-config'),
      AWS_SHARED_CREDENTIALS_FILE: join(home, 'no-credentials'),
      AWS_PAGER: '',
    };
    const aws = async (...args: string[]): Promise<string> =>
      (await run(AWS, ['--endpoint-url', url, ...args], { env, maxBuffer: 16 * 1024 * 1024 })).stdout;

    expect(await aws('s3', 'mb', 's3://cli-bucket')).toContain('make_bucket: cli-bucket');
    const small = join(dir, 'small.txt');
    const big = join(dir, 'big.bin');
    await writeFile(small, 'hello from the aws cli\n');
    const bigData = randomBytes(20 * 1024 * 1024);
    await writeFile(big, bigData);
    await aws('s3', 'cp', small, 's3://cli-bucket/small.txt');
    await aws('s3', 'cp', big, 's3://cli-bucket/dir/big file.bin');

    // One listing (each CLI start costs about two seconds): sizes of both, under their keys.
    const listing = await aws('s3', 'ls', '--recursive', 's3://cli-bucket');
    expect(listing).toMatch(/\s23 small\.txt/);
    expect(listing).toMatch(new RegExp(`\\s${bigData.length} dir/big file\\.bin`));

    const head = JSON.parse(await aws('s3api', 'head-object', '--bucket', 'cli-bucket', '--key', 'dir/big file.bin')) as {
      ETag: string;
      VersionId: string;
      ContentLength: number;
    };
    expect(head.ETag).toMatch(/^"[0-9a-f]{32}-3"$/);
    expect(head.VersionId).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(head.ContentLength).toBe(bigData.length);

    // Downloads (the big one in ranged parts) and compares bytes.
    const down = join(dir, 'down');
    await aws('s3', 'cp', '--recursive', 's3://cli-bucket/', down);
    expect((await readFile(join(down, 'dir', 'big file.bin'))).equals(bigData)).toBe(true);
    expect(await readFile(join(down, 'small.txt'), 'utf8')).toBe('hello from the aws cli\n');
  });
});
