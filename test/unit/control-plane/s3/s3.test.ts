/**
 * The local S3 endpoint driven by @aws-sdk/client-s3 (forcePathStyle, any credentials) over a real
 * HTTP server on port 0: buckets, versioned objects, ranges and conditions, listings, multipart,
 * copies, deletes, S3's error codes as the SDK surfaces them, and state surviving a restart.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetBucketLocationCommand,
  GetBucketVersioningCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListBucketsCommand,
  ListObjectsCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  ListPartsCommand,
  NoSuchBucket,
  NoSuchKey,
  PutBucketVersioningCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  paginateListObjectsV2,
  type GetObjectCommandOutput,
} from '@aws-sdk/client-s3';
import { afterEach, describe, expect, it } from 'vitest';
import { createS3Handler } from '../../../../control-plane/s3/s3-handler.js';
import { openDatabase, type Db } from '../../../../control-plane/store/database.js';
import { captureLogger, silentLogger, tempDir } from '../../../helpers/temp.js';

interface LocalS3 {
  url: string;
  dir: string;
  db: Db;
  client: S3Client;
  stop(): Promise<void>;
}

const running: LocalS3[] = [];
afterEach(async () => {
  while (running.length > 0) await running.pop()!.stop();
});

/** The handler behind a real HTTP server on 127.0.0.1:0, and an SDK client pointed at it. */
async function startS3(opts: { dir?: string; logger?: ReturnType<typeof silentLogger> } = {}): Promise<LocalS3> {
  const dir = opts.dir ?? (await tempDir('cda-s3-'));
  const db = openDatabase(join(dir, 'control-plane.db'));
  const s3 = createS3Handler({ db, dataDir: dir, logger: opts.logger ?? silentLogger() });
  const server = http.createServer((req, res) => void s3.handler(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const client = new S3Client({
    endpoint: url,
    region: 'us-east-1',
    credentials: { accessKeyId: 'AKIDLOCALTEST', secretAccessKey: 'not-checked' },
    forcePathStyle: true,
  });
  const local: LocalS3 = {
    url,
    dir,
    db,
    client,
    async stop() {
      client.destroy();
      await s3.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      db.close();
    },
  };
  running.push(local);
  return local;
}

const md5 = (data: Buffer): string => createHash('md5').update(data).digest('hex');

async function bodyOf(out: GetObjectCommandOutput): Promise<Buffer> {
  return Buffer.from(await out.Body!.transformToByteArray());
}

async function rejection(p: Promise<unknown>): Promise<Error & { $metadata?: { httpStatusCode?: number } }> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected the call to fail');
}

describe('local S3 endpoint with the AWS SDK', () => {
  it('creates, lists, heads and describes buckets; repeats and bad names are S3 errors', async () => {
    const { client } = await startS3();
    await client.send(new CreateBucketCommand({ Bucket: 'revisions' }));
    await client.send(new CreateBucketCommand({ Bucket: 'west-bucket', CreateBucketConfiguration: { LocationConstraint: 'us-west-2' } }));

    const again = await rejection(client.send(new CreateBucketCommand({ Bucket: 'revisions' })));
    expect(again.name).toBe('BucketAlreadyOwnedByYou');
    expect(again.$metadata?.httpStatusCode).toBe(409);
    for (const bad of ['ab', 'Upper-Case', 'under_score', '-dash', 'a..b', '192.168.1.1']) {
      const err = await rejection(client.send(new CreateBucketCommand({ Bucket: bad })));
      expect(err.name, bad).toBe('InvalidBucketName');
    }

    const list = await client.send(new ListBucketsCommand({}));
    expect(list.Buckets?.map((b) => b.Name)).toEqual(['revisions', 'west-bucket']);
    expect(list.Buckets?.[0]?.CreationDate).toBeInstanceOf(Date);
    await client.send(new HeadBucketCommand({ Bucket: 'revisions' }));
    expect((await rejection(client.send(new HeadBucketCommand({ Bucket: 'missing-bucket' })))).$metadata?.httpStatusCode).toBe(404);
    expect((await client.send(new GetBucketLocationCommand({ Bucket: 'west-bucket' }))).LocationConstraint).toBe('us-west-2');
    expect((await client.send(new GetBucketLocationCommand({ Bucket: 'revisions' }))).LocationConstraint).toBeUndefined();
    expect((await client.send(new GetBucketVersioningCommand({ Bucket: 'revisions' }))).Status).toBe('Enabled');

    await client.send(new DeleteBucketCommand({ Bucket: 'west-bucket' }));
    expect((await client.send(new ListBucketsCommand({}))).Buckets?.map((b) => b.Name)).toEqual(['revisions']);
  });

  it('puts and gets objects with version ids, ETags, content type and user metadata', async () => {
    const { client } = await startS3();
    await client.send(new CreateBucketCommand({ Bucket: 'bkt1' }));
    const data = randomBytes(100_000);
    const put = await client.send(
      new PutObjectCommand({
        Bucket: 'bkt1',
        Key: 'app/bundle.tgz',
        Body: data,
        ContentType: 'application/x-gzip',
        Metadata: { owner: 'team-a' },
      }),
    );
    expect(put.ETag).toBe(`"${md5(data)}"`);
    expect(put.VersionId).toMatch(/^[A-Za-z0-9_-]{32}$/);

    const got = await client.send(new GetObjectCommand({ Bucket: 'bkt1', Key: 'app/bundle.tgz', VersionId: put.VersionId }));
    expect(got.ETag).toBe(put.ETag);
    expect(got.VersionId).toBe(put.VersionId);
    expect(got.ContentType).toBe('application/x-gzip');
    expect(got.ContentLength).toBe(data.length);
    expect(got.Metadata).toEqual({ owner: 'team-a' });
    expect(got.AcceptRanges).toBe('bytes');
    expect(got.LastModified).toBeInstanceOf(Date);
    expect((await bodyOf(got)).equals(data)).toBe(true);

    const head = await client.send(new HeadObjectCommand({ Bucket: 'bkt1', Key: 'app/bundle.tgz' }));
    expect(head).toMatchObject({ ETag: put.ETag, VersionId: put.VersionId, ContentLength: data.length, ContentType: 'application/x-gzip' });

    // A wrong Content-MD5 is refused and leaves the object as it was.
    const bad = await rejection(
      client.send(
        new PutObjectCommand({
          Bucket: 'bkt1',
          Key: 'app/bundle.tgz',
          Body: Buffer.from('other'),
          ContentMD5: createHash('md5').update('x').digest('base64'),
        }),
      ),
    );
    expect(bad.name).toBe('BadDigest');
    expect((await client.send(new HeadObjectCommand({ Bucket: 'bkt1', Key: 'app/bundle.tgz' }))).ETag).toBe(put.ETag);
  });

  it('uploads a stream with aws-chunked framing and a trailing CRC32, and returns the checksum on GET', async () => {
    const { client } = await startS3();
    await client.send(new CreateBucketCommand({ Bucket: 'chunky' }));
    const parts = [randomBytes(70_000), randomBytes(1), randomBytes(200_000)];
    const whole = Buffer.concat(parts);
    const put = await client.send(
      new PutObjectCommand({ Bucket: 'chunky', Key: 'streamed', Body: Readable.from(parts), ContentLength: whole.length }),
    );
    expect(put.ETag).toBe(`"${md5(whole)}"`);
    expect(put.ChecksumCRC32).toBeDefined();
    const got = await client.send(new GetObjectCommand({ Bucket: 'chunky', Key: 'streamed', ChecksumMode: 'ENABLED' }));
    expect(got.ChecksumCRC32).toBe(put.ChecksumCRC32);
    // The SDK validates the body against that checksum while reading it.
    expect((await bodyOf(got)).equals(whole)).toBe(true);
  });

  it('keeps every version of an overwritten key, and deletes with delete markers', async () => {
    const { client } = await startS3();
    await client.send(new CreateBucketCommand({ Bucket: 'versions' }));
    const one = await client.send(new PutObjectCommand({ Bucket: 'versions', Key: 'k', Body: 'first' }));
    const two = await client.send(new PutObjectCommand({ Bucket: 'versions', Key: 'k', Body: 'second' }));
    expect(two.VersionId).not.toBe(one.VersionId);
    const read = async (versionId?: string): Promise<string> =>
      (await bodyOf(await client.send(new GetObjectCommand({ Bucket: 'versions', Key: 'k', VersionId: versionId })))).toString();
    expect(await read()).toBe('second');
    expect(await read(one.VersionId)).toBe('first');
    expect(await read(two.VersionId)).toBe('second');

    const del = await client.send(new DeleteObjectCommand({ Bucket: 'versions', Key: 'k' }));
    expect(del.DeleteMarker).toBe(true);
    expect(del.VersionId).toBeDefined();
    const gone = await rejection(client.send(new GetObjectCommand({ Bucket: 'versions', Key: 'k' })));
    expect(gone).toBeInstanceOf(NoSuchKey);
    expect(await read(one.VersionId)).toBe('first');
    const marker = await rejection(client.send(new GetObjectCommand({ Bucket: 'versions', Key: 'k', VersionId: del.VersionId })));
    expect(marker.$metadata?.httpStatusCode).toBe(405);

    const listed = await client.send(new ListObjectVersionsCommand({ Bucket: 'versions' }));
    expect(listed.Versions?.map((v) => [v.VersionId, v.IsLatest, v.ETag])).toEqual([
      [two.VersionId, false, two.ETag],
      [one.VersionId, false, one.ETag],
    ]);
    expect(listed.DeleteMarkers?.map((m) => [m.VersionId, m.IsLatest])).toEqual([[del.VersionId, true]]);
    expect((await client.send(new ListObjectsCommand({ Bucket: 'versions' }))).Contents).toBeUndefined();

    // Removing the delete marker brings the key back; removing a version deletes its bytes.
    await client.send(new DeleteObjectCommand({ Bucket: 'versions', Key: 'k', VersionId: del.VersionId }));
    expect(await read()).toBe('second');
    await client.send(new DeleteObjectCommand({ Bucket: 'versions', Key: 'k', VersionId: two.VersionId }));
    expect(await read()).toBe('first');
    const busy = await rejection(client.send(new DeleteBucketCommand({ Bucket: 'versions' })));
    expect(busy.name).toBe('BucketNotEmpty');
  });

  it('with versioning suspended writes the "null" version, replacing it on overwrite', async () => {
    const { client, dir } = await startS3();
    await client.send(new CreateBucketCommand({ Bucket: 'suspended' }));
    const kept = await client.send(new PutObjectCommand({ Bucket: 'suspended', Key: 'k', Body: 'versioned' }));
    await client.send(new PutBucketVersioningCommand({ Bucket: 'suspended', VersioningConfiguration: { Status: 'Suspended' } }));
    expect((await client.send(new GetBucketVersioningCommand({ Bucket: 'suspended' }))).Status).toBe('Suspended');
    const a = await client.send(new PutObjectCommand({ Bucket: 'suspended', Key: 'k', Body: 'a' }));
    const b = await client.send(new PutObjectCommand({ Bucket: 'suspended', Key: 'k', Body: 'bb' }));
    expect([a.VersionId, b.VersionId]).toEqual(['null', 'null']);
    const versions = await client.send(new ListObjectVersionsCommand({ Bucket: 'suspended' }));
    expect(versions.Versions?.map((v) => [v.VersionId, v.Size])).toEqual([
      ['null', 2],
      [kept.VersionId, 9],
    ]);
    // The replaced "null" version's bytes are gone from disk: one blob per remaining version.
    expect(readdirSync(join(dir, 's3', 'objects'))).toHaveLength(2);
  });

  it('serves byte ranges and honours If-Match / If-None-Match', async () => {
    const { client } = await startS3();
    await client.send(new CreateBucketCommand({ Bucket: 'ranges' }));
    const data = Buffer.from('0123456789abcdefghij');
    const put = await client.send(new PutObjectCommand({ Bucket: 'ranges', Key: 'r', Body: data }));
    const part = await client.send(new GetObjectCommand({ Bucket: 'ranges', Key: 'r', Range: 'bytes=5-9' }));
    expect(part.$metadata.httpStatusCode).toBe(206);
    expect(part.ContentRange).toBe('bytes 5-9/20');
    expect(part.ContentLength).toBe(5);
    expect((await bodyOf(part)).toString()).toBe('56789');
    const tail = await client.send(new GetObjectCommand({ Bucket: 'ranges', Key: 'r', Range: 'bytes=-3' }));
    expect((await bodyOf(tail)).toString()).toBe('hij');
    const open = await client.send(new GetObjectCommand({ Bucket: 'ranges', Key: 'r', Range: 'bytes=18-' }));
    expect((await bodyOf(open)).toString()).toBe('ij');
    const beyond = await rejection(client.send(new GetObjectCommand({ Bucket: 'ranges', Key: 'r', Range: 'bytes=20-30' })));
    expect(beyond.name).toBe('InvalidRange');
    expect(beyond.$metadata?.httpStatusCode).toBe(416);

    const matched = await client.send(new GetObjectCommand({ Bucket: 'ranges', Key: 'r', IfMatch: put.ETag }));
    expect((await bodyOf(matched)).equals(data)).toBe(true);
    const mismatch = await rejection(client.send(new GetObjectCommand({ Bucket: 'ranges', Key: 'r', IfMatch: '"0000"' })));
    expect(mismatch.$metadata?.httpStatusCode).toBe(412);
    expect(mismatch.name).toBe('PreconditionFailed');
    const notModified = await rejection(client.send(new GetObjectCommand({ Bucket: 'ranges', Key: 'r', IfNoneMatch: put.ETag })));
    expect(notModified.$metadata?.httpStatusCode).toBe(304);
  });

  it('lists with prefix, delimiter and pagination (v2), and v1 with a marker', async () => {
    const { client } = await startS3();
    await client.send(new CreateBucketCommand({ Bucket: 'listing' }));
    const keys = [
      'a.txt',
      'dir/one',
      'dir/sub/two',
      'dir/three',
      'dir2/x',
      'z',
      'dir/sub/four',
      'key with space',
      'ünïcödé/ключ',
      'pct%2Fkey',
      'dots/../up',
    ];
    for (const key of keys) await client.send(new PutObjectCommand({ Bucket: 'listing', Key: key, Body: key }));
    await client.send(new DeleteObjectCommand({ Bucket: 'listing', Key: 'z' }));

    const all: string[] = [];
    let pages = 0;
    for await (const page of paginateListObjectsV2({ client, pageSize: 3 }, { Bucket: 'listing' })) {
      pages++;
      expect(page.KeyCount).toBeLessThanOrEqual(3);
      all.push(...(page.Contents ?? []).map((c) => c.Key!));
    }
    const expected = keys.filter((k) => k !== 'z').sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
    expect(all).toEqual(expected);
    expect(pages).toBe(4);

    const top: { keys: string[]; prefixes: string[] } = { keys: [], prefixes: [] };
    for await (const page of paginateListObjectsV2({ client, pageSize: 2 }, { Bucket: 'listing', Delimiter: '/' })) {
      top.keys.push(...(page.Contents ?? []).map((c) => c.Key!));
      top.prefixes.push(...(page.CommonPrefixes ?? []).map((c) => c.Prefix!));
    }
    expect(top).toEqual({ keys: ['a.txt', 'key with space', 'pct%2Fkey'], prefixes: ['dir/', 'dir2/', 'dots/', 'ünïcödé/'] });

    const dir = await client.send(new ListObjectsV2Command({ Bucket: 'listing', Prefix: 'dir/', Delimiter: '/' }));
    expect(dir.Contents?.map((c) => [c.Key, c.Size])).toEqual([
      ['dir/one', 7],
      ['dir/three', 9],
    ]);
    expect(dir.CommonPrefixes?.map((c) => c.Prefix)).toEqual(['dir/sub/']);
    const after = await client.send(new ListObjectsV2Command({ Bucket: 'listing', StartAfter: 'dir/three' }));
    expect(after.Contents?.[0]?.Key).toBe('dir2/x');

    const v1 = await client.send(new ListObjectsCommand({ Bucket: 'listing', Prefix: 'dir', MaxKeys: 2 }));
    expect(v1.Contents?.map((c) => c.Key)).toEqual(['dir/one', 'dir/sub/four']);
    expect(v1.IsTruncated).toBe(true);
    const v1next = await client.send(new ListObjectsCommand({ Bucket: 'listing', Prefix: 'dir', Marker: 'dir/sub/four' }));
    expect(v1next.Contents?.map((c) => c.Key)).toEqual(['dir/sub/two', 'dir/three', 'dir2/x']);

    // Odd keys are stored bytes, not paths: each reads back, and no blob is named after one.
    for (const key of ['ünïcödé/ключ', 'pct%2Fkey', 'dots/../up', 'key with space']) {
      const got = await client.send(new GetObjectCommand({ Bucket: 'listing', Key: key }));
      expect((await bodyOf(got)).toString()).toBe(key);
    }
  });

  it('completes a three-part multipart upload with the -3 ETag, and checks the part list', async () => {
    const { client } = await startS3();
    await client.send(new CreateBucketCommand({ Bucket: 'multi' }));
    const MiB = 1024 * 1024;
    const chunks = [randomBytes(5 * MiB), randomBytes(5 * MiB), randomBytes(2 * MiB)];
    const { UploadId } = await client.send(
      new CreateMultipartUploadCommand({ Bucket: 'multi', Key: 'big.bin', ContentType: 'application/zip' }),
    );
    expect(UploadId).toBeDefined();
    const etags: string[] = [];
    for (const [i, chunk] of chunks.entries()) {
      const part = await client.send(new UploadPartCommand({ Bucket: 'multi', Key: 'big.bin', UploadId, PartNumber: i + 1, Body: chunk }));
      expect(part.ETag).toBe(`"${md5(chunk)}"`);
      etags.push(part.ETag!);
    }
    const listed = await client.send(new ListPartsCommand({ Bucket: 'multi', Key: 'big.bin', UploadId }));
    expect(listed.Parts?.map((p) => [p.PartNumber, p.Size])).toEqual([
      [1, 5 * MiB],
      [2, 5 * MiB],
      [3, 2 * MiB],
    ]);

    const outOfOrder = await rejection(
      client.send(
        new CompleteMultipartUploadCommand({
          Bucket: 'multi',
          Key: 'big.bin',
          UploadId,
          MultipartUpload: {
            Parts: [
              { PartNumber: 2, ETag: etags[1] },
              { PartNumber: 1, ETag: etags[0] },
            ],
          },
        }),
      ),
    );
    expect(outOfOrder.name).toBe('InvalidPartOrder');
    const wrongTag = await rejection(
      client.send(
        new CompleteMultipartUploadCommand({
          Bucket: 'multi',
          Key: 'big.bin',
          UploadId,
          MultipartUpload: { Parts: [{ PartNumber: 1, ETag: '"deadbeef"' }] },
        }),
      ),
    );
    expect(wrongTag.name).toBe('InvalidPart');
    const small = await rejection(
      client.send(
        new CompleteMultipartUploadCommand({
          Bucket: 'multi',
          Key: 'big.bin',
          UploadId,
          MultipartUpload: {
            Parts: [
              { PartNumber: 3, ETag: etags[2] },
              { PartNumber: 4, ETag: etags[2] },
            ],
          },
        }),
      ),
    );
    expect(small.name).toBe('InvalidPart');

    const done = await client.send(
      new CompleteMultipartUploadCommand({
        Bucket: 'multi',
        Key: 'big.bin',
        UploadId,
        MultipartUpload: { Parts: etags.map((ETag, i) => ({ PartNumber: i + 1, ETag })) },
      }),
    );
    const expectedEtag = `"${createHash('md5')
      .update(Buffer.concat(chunks.map((c) => createHash('md5').update(c).digest())))
      .digest('hex')}-3"`;
    expect(done.ETag).toBe(expectedEtag);
    expect(done.VersionId).toBeDefined();
    const got = await client.send(new GetObjectCommand({ Bucket: 'multi', Key: 'big.bin', VersionId: done.VersionId }));
    expect(got.ETag).toBe(expectedEtag);
    expect(got.ContentType).toBe('application/zip');
    const bytes = await bodyOf(got);
    expect(bytes.length).toBe(12 * MiB);
    expect(md5(bytes)).toBe(md5(Buffer.concat(chunks)));
    const gone = await rejection(client.send(new ListPartsCommand({ Bucket: 'multi', Key: 'big.bin', UploadId })));
    expect(gone.name).toBe('NoSuchUpload');
  });

  it('refuses parts under 5 MiB except the last, and aborts uploads', async () => {
    const { client } = await startS3();
    await client.send(new CreateBucketCommand({ Bucket: 'multi2' }));
    const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: 'multi2', Key: 'k' }));
    const p1 = await client.send(
      new UploadPartCommand({ Bucket: 'multi2', Key: 'k', UploadId, PartNumber: 1, Body: Buffer.alloc(1024, 1) }),
    );
    const p2 = await client.send(
      new UploadPartCommand({ Bucket: 'multi2', Key: 'k', UploadId, PartNumber: 2, Body: Buffer.alloc(1024, 2) }),
    );
    const tooSmall = await rejection(
      client.send(
        new CompleteMultipartUploadCommand({
          Bucket: 'multi2',
          Key: 'k',
          UploadId,
          MultipartUpload: {
            Parts: [
              { PartNumber: 1, ETag: p1.ETag },
              { PartNumber: 2, ETag: p2.ETag },
            ],
          },
        }),
      ),
    );
    expect(tooSmall.name).toBe('EntityTooSmall');
    const badNumber = await rejection(
      client.send(new UploadPartCommand({ Bucket: 'multi2', Key: 'k', UploadId, PartNumber: 10001, Body: 'x' })),
    );
    expect(badNumber.name).toBe('InvalidArgument');
    await client.send(new AbortMultipartUploadCommand({ Bucket: 'multi2', Key: 'k', UploadId }));
    const after = await rejection(client.send(new UploadPartCommand({ Bucket: 'multi2', Key: 'k', UploadId, PartNumber: 3, Body: 'x' })));
    expect(after.name).toBe('NoSuchUpload');
    expect(after.$metadata?.httpStatusCode).toBe(404);
    // Nothing is left behind: the bucket is empty again.
    await client.send(new DeleteBucketCommand({ Bucket: 'multi2' }));
  });

  it('copies objects and deletes several at once', async () => {
    const { client } = await startS3();
    await client.send(new CreateBucketCommand({ Bucket: 'src-bucket' }));
    await client.send(new CreateBucketCommand({ Bucket: 'dst-bucket' }));
    const v1 = await client.send(new PutObjectCommand({ Bucket: 'src-bucket', Key: 'a b', Body: 'one', Metadata: { m: '1' } }));
    await client.send(new PutObjectCommand({ Bucket: 'src-bucket', Key: 'a b', Body: 'two' }));
    const copy = await client.send(
      new CopyObjectCommand({
        Bucket: 'dst-bucket',
        Key: 'copied',
        CopySource: `src-bucket/${encodeURIComponent('a b')}?versionId=${v1.VersionId}`,
      }),
    );
    expect(copy.CopyObjectResult?.ETag).toBe(v1.ETag);
    expect(copy.CopySourceVersionId).toBe(v1.VersionId);
    const got = await client.send(new GetObjectCommand({ Bucket: 'dst-bucket', Key: 'copied' }));
    expect((await bodyOf(got)).toString()).toBe('one');
    expect(got.Metadata).toEqual({ m: '1' });
    const self = await rejection(
      client.send(new CopyObjectCommand({ Bucket: 'dst-bucket', Key: 'copied', CopySource: 'dst-bucket/copied' })),
    );
    expect(self.name).toBe('InvalidRequest');

    await client.send(new PutObjectCommand({ Bucket: 'dst-bucket', Key: 'other', Body: 'x' }));
    const deleted = await client.send(
      new DeleteObjectsCommand({ Bucket: 'dst-bucket', Delete: { Objects: [{ Key: 'copied' }, { Key: 'other' }] } }),
    );
    expect(deleted.Deleted?.map((d) => [d.Key, d.DeleteMarker])).toEqual([
      ['copied', true],
      ['other', true],
    ]);
    expect((await client.send(new ListObjectsV2Command({ Bucket: 'dst-bucket' }))).KeyCount).toBe(0);
  });

  it('answers missing buckets, keys and versions with the SDK error classes and S3 XML', async () => {
    const { client, url } = await startS3();
    await client.send(new CreateBucketCommand({ Bucket: 'errors' }));
    await client.send(new PutObjectCommand({ Bucket: 'errors', Key: 'present', Body: 'x' }));
    const noKey = await rejection(client.send(new GetObjectCommand({ Bucket: 'errors', Key: 'absent' })));
    expect(noKey).toBeInstanceOf(NoSuchKey);
    expect(noKey.$metadata?.httpStatusCode).toBe(404);
    const noBucket = await rejection(client.send(new GetObjectCommand({ Bucket: 'no-such-bucket', Key: 'k' })));
    expect(noBucket).toBeInstanceOf(NoSuchBucket);
    const noVersion = await rejection(
      client.send(new GetObjectCommand({ Bucket: 'errors', Key: 'present', VersionId: 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' })),
    );
    expect(noVersion.name).toBe('NoSuchVersion');
    expect(noVersion.$metadata?.httpStatusCode).toBe(404);
    const head = await rejection(client.send(new HeadObjectCommand({ Bucket: 'errors', Key: 'absent' })));
    expect(head.name).toBe('NotFound');

    const res = await fetch(`${url}/errors/some%20missing/key`);
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toBe('application/xml');
    const xml = await res.text();
    expect(xml).toMatch(
      /<Error><Code>NoSuchKey<\/Code><Message>[^<]+<\/Message><Key>some missing\/key<\/Key><Resource>\/errors\/some missing\/key<\/Resource><RequestId>[0-9A-F]{16}<\/RequestId><\/Error>/,
    );
    expect(xml).toContain(res.headers.get('x-amz-request-id'));
    const unsupported = await fetch(`${url}/errors?policy`);
    expect(unsupported.status).toBe(501);
    expect(await unsupported.text()).toContain('<Code>NotImplemented</Code>');
    const badMethod = await fetch(`${url}/`, { method: 'DELETE' });
    expect(badMethod.status).toBe(405);
  });

  it('keeps objects across a restart and sweeps blob files nothing refers to', async () => {
    const { logger, lines } = captureLogger();
    const first = await startS3({ logger });
    await first.client.send(new CreateBucketCommand({ Bucket: 'durable' }));
    const put = await first.client.send(new PutObjectCommand({ Bucket: 'durable', Key: 'k', Body: 'persisted' }));
    await first.stop();
    running.splice(running.indexOf(first), 1);
    writeFileSync(join(first.dir, 's3', 'objects', '00000000-0000-0000-0000-000000000000'), 'orphan');
    writeFileSync(join(first.dir, 's3', 'tmp', 'half-written'), 'partial');

    const second = await startS3({ dir: first.dir, logger });
    const got = await second.client.send(new GetObjectCommand({ Bucket: 'durable', Key: 'k', VersionId: put.VersionId }));
    expect((await bodyOf(got)).toString()).toBe('persisted');
    expect(readdirSync(join(first.dir, 's3', 'objects'))).toHaveLength(1);
    expect(readdirSync(join(first.dir, 's3', 'tmp'))).toEqual([]);
    expect(lines().some((l) => l.removed === 1)).toBe(true);
    // The access key id is logged at debug level; the secret never is.
    const text = JSON.stringify(lines());
    expect(text).toContain('AKIDLOCALTEST');
    expect(text).not.toContain('not-checked');
  });
});
