/**
 * The local S3 endpoint at the HTTP level, for what the SDK does not exercise by default: SigV4
 * signed streaming bodies, wrong checksums and lengths (nothing stored, no file left behind),
 * unsigned and presigned requests, Expect: 100-continue answered with an error on a kept-alive
 * connection, and url-encoded listings as botocore requests them.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { createS3Handler } from '../../../../control-plane/s3/s3-handler.js';
import { openDatabase } from '../../../../control-plane/store/database.js';
import { captureLogger, silentLogger, tempDir } from '../../../helpers/temp.js';

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  reusedSocket: boolean;
}

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (stops.length > 0) await stops.pop()!();
});

async function startS3(logger = silentLogger()): Promise<{ port: number; dir: string; agent: http.Agent }> {
  const dir = await tempDir('cda-s3wire-');
  const db = openDatabase(join(dir, 'control-plane.db'));
  const s3 = createS3Handler({ db, dataDir: dir, logger });
  const server = http.createServer((req, res) => void s3.handler(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  stops.push(async () => {
    agent.destroy();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    db.close();
  });
  return { port: (server.address() as AddressInfo).port, dir, agent };
}

function send(
  port: number,
  opts: { method: string; path: string; headers?: http.OutgoingHttpHeaders; body?: Buffer | Iterable<Buffer>; agent?: http.Agent },
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, method: opts.method, path: opts.path, headers: opts.headers, agent: opts.agent ?? false },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts), reusedSocket: req.reusedSocket }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    const body = opts.body;
    const expectsContinue = String(opts.headers?.expect ?? '').toLowerCase() === '100-continue';
    const write = (): void => {
      if (body === undefined) req.end();
      else if (Buffer.isBuffer(body)) req.end(body);
      else {
        for (const piece of body) req.write(piece);
        req.end();
      }
    };
    if (expectsContinue) {
      req.on('continue', write);
      req.flushHeaders();
    } else write();
  });
}

const crc32Base64 = (data: Buffer): string => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(crc32(data));
  return b.toString('base64');
};
const md5 = (data: Buffer): string => createHash('md5').update(data).digest('hex');

function chunked(data: Buffer, size: number, trailer: string, signed: boolean): Buffer {
  const out: Buffer[] = [];
  const ext = signed ? `;chunk-signature=${'0'.repeat(64)}` : '';
  for (let i = 0; i < data.length; i += size) {
    const piece = data.subarray(i, i + size);
    out.push(Buffer.from(`${piece.length.toString(16)}${ext}\r\n`), piece, Buffer.from('\r\n'));
  }
  out.push(Buffer.from(`0${ext}\r\n${trailer}\r\n`));
  return Buffer.concat(out);
}

describe('local S3 endpoint on the wire', () => {
  it('decodes a SigV4 signed streaming body and stores only the payload', async () => {
    const { port } = await startS3();
    expect((await send(port, { method: 'PUT', path: '/wire-bucket' })).status).toBe(200);
    const data = randomBytes(200_000);
    const put = await send(port, {
      method: 'PUT',
      path: '/wire-bucket/signed.bin',
      headers: {
        authorization: 'AWS4-HMAC-SHA256 Credential=AKIDWIRE/20240101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=abc',
        'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
        'x-amz-decoded-content-length': data.length,
        'content-encoding': 'aws-chunked,gzip',
      },
      body: chunked(data, 65_536, '', true),
    });
    expect(put.status).toBe(200);
    expect(put.headers.etag).toBe(`"${md5(data)}"`);
    const get = await send(port, { method: 'GET', path: '/wire-bucket/signed.bin' });
    expect(get.body.equals(data)).toBe(true);
    // aws-chunked is transfer framing, not the object's encoding.
    expect(get.headers['content-encoding']).toBe('gzip');
  });

  it('refuses wrong trailing checksums, lengths and payload hashes, leaving nothing behind', async () => {
    const { port, dir } = await startS3();
    await send(port, { method: 'PUT', path: '/wire-bucket' });
    const data = Buffer.from('some bytes that will be refused');
    const streaming = {
      'content-encoding': 'aws-chunked',
      'x-amz-content-sha256': 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
      'x-amz-trailer': 'x-amz-checksum-crc32',
    };
    const badCrc = await send(port, {
      method: 'PUT',
      path: '/wire-bucket/k',
      headers: { ...streaming, 'x-amz-decoded-content-length': data.length },
      body: chunked(data, 8, `x-amz-checksum-crc32:${crc32Base64(Buffer.from('other'))}\r\n`, false),
    });
    expect(badCrc.status).toBe(400);
    expect(badCrc.body.toString()).toContain('<Code>BadDigest</Code>');

    const badLength = await send(port, {
      method: 'PUT',
      path: '/wire-bucket/k',
      headers: { ...streaming, 'x-amz-decoded-content-length': data.length + 1 },
      body: chunked(data, 8, `x-amz-checksum-crc32:${crc32Base64(data)}\r\n`, false),
    });
    expect(badLength.body.toString()).toContain('<Code>IncompleteBody</Code>');

    const badSha = await send(port, {
      method: 'PUT',
      path: '/wire-bucket/k',
      headers: { 'x-amz-content-sha256': 'a'.repeat(64) },
      body: data,
    });
    expect(badSha.body.toString()).toContain('<Code>XAmzContentSHA256Mismatch</Code>');

    const badHeaderSum = await send(port, {
      method: 'PUT',
      path: '/wire-bucket/k',
      headers: { 'x-amz-checksum-sha256': createHash('sha256').update('x').digest('base64') },
      body: data,
    });
    expect(badHeaderSum.body.toString()).toContain('<Code>BadDigest</Code>');

    // Broken framing is found early; the answer still arrives although the body is not read to its end.
    const broken = await send(port, {
      method: 'PUT',
      path: '/wire-bucket/k',
      headers: { ...streaming },
      body: Buffer.concat([Buffer.from('5\r\nhelloXX'), Buffer.alloc(300_000, 0x41)]),
    });
    expect(broken.status).toBe(400);
    expect(broken.body.toString()).toContain('<Code>InvalidRequest</Code><Message>Malformed aws-chunked request body');

    expect((await send(port, { method: 'GET', path: '/wire-bucket/k' })).status).toBe(404);
    expect(readdirSync(join(dir, 's3', 'objects'))).toEqual([]);
    expect(readdirSync(join(dir, 's3', 'tmp'))).toEqual([]);

    // The same body with the right checksum is stored, and the checksum comes back on request.
    const good = await send(port, {
      method: 'PUT',
      path: '/wire-bucket/k',
      headers: { ...streaming, 'x-amz-decoded-content-length': data.length },
      body: chunked(data, 8, `x-amz-checksum-crc32:${crc32Base64(data)}\r\n`, false),
    });
    expect(good.status).toBe(200);
    expect(good.headers['x-amz-checksum-crc32']).toBe(crc32Base64(data));
    const sha = createHash('sha256').update(data).digest('base64');
    await send(port, { method: 'PUT', path: '/wire-bucket/s', headers: { 'x-amz-checksum-sha256': sha }, body: data });
    const withSum = await send(port, { method: 'GET', path: '/wire-bucket/s', headers: { 'x-amz-checksum-mode': 'ENABLED' } });
    expect(withSum.headers['x-amz-checksum-sha256']).toBe(sha);
    const ranged = await send(port, {
      method: 'GET',
      path: '/wire-bucket/s',
      headers: { 'x-amz-checksum-mode': 'ENABLED', range: 'bytes=0-3' },
    });
    expect(ranged.headers['x-amz-checksum-sha256']).toBeUndefined();
  });

  it('accepts unsigned and presigned requests', async () => {
    const { port } = await startS3();
    await send(port, { method: 'PUT', path: '/open-bucket' });
    expect((await send(port, { method: 'PUT', path: '/open-bucket/plain.txt', body: Buffer.from('plain') })).status).toBe(200);
    const presigned =
      '/open-bucket/plain.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDPRESIGN%2F20240101%2Fus-east-1%2Fs3%2Faws4_request' +
      '&X-Amz-Date=20240101T000000Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host&X-Amz-Signature=' +
      'f'.repeat(64) +
      '&response-content-type=text%2Fplain';
    const got = await send(port, { method: 'GET', path: presigned });
    expect(got.status).toBe(200);
    expect(got.body.toString()).toBe('plain');
    expect(got.headers['content-type']).toBe('text/plain');
  });

  it('answers an early error to Expect: 100-continue and keeps the connection usable', async () => {
    const { port, agent } = await startS3();
    await send(port, { method: 'PUT', path: '/cont-bucket', agent });
    const early = await send(port, {
      method: 'PUT',
      path: '/no-such-bucket/k',
      headers: { expect: '100-continue', 'content-length': 100_000 },
      body: Buffer.alloc(100_000, 1),
      agent,
    });
    expect(early.status).toBe(404);
    expect(early.body.toString()).toContain('<Code>NoSuchBucket</Code><Message>');
    expect(early.body.toString()).toContain('<BucketName>no-such-bucket</BucketName>');
    const next = await send(port, {
      method: 'PUT',
      path: '/cont-bucket/k',
      headers: { expect: '100-continue', 'content-length': 5 },
      body: Buffer.from('hello'),
      agent,
    });
    expect(next.status).toBe(200);
    expect(next.reusedSocket).toBe(true);
    expect((await send(port, { method: 'GET', path: '/cont-bucket/k', agent })).body.toString()).toBe('hello');
  });

  it('url-encodes listing keys when asked, as botocore does', async () => {
    const { port } = await startS3();
    await send(port, { method: 'PUT', path: '/enc-bucket' });
    await send(port, { method: 'PUT', path: `/enc-bucket/${encodeURIComponent('dir/a+b c&d')}`, body: Buffer.from('x') });
    const listed = await send(port, { method: 'GET', path: '/enc-bucket?list-type=2&encoding-type=url&prefix=dir%2F' });
    const xml = listed.body.toString();
    expect(xml).toContain('<Key>dir/a%2Bb%20c%26d</Key>');
    expect(xml).toContain('<EncodingType>url</EncodingType>');
    expect(xml).toContain('<Prefix>dir/</Prefix>');
    const plain = (await send(port, { method: 'GET', path: '/enc-bucket?list-type=2' })).body.toString();
    expect(plain).toContain('<Key>dir/a+b c&amp;d</Key>');
  });

  it('streams a large chunked upload to disk with the right ETag', async () => {
    const { port } = await startS3();
    await send(port, { method: 'PUT', path: '/big-bucket' });
    const block = randomBytes(1024 * 1024);
    const hash = createHash('md5');
    const blocks = function* (): Generator<Buffer> {
      for (let i = 0; i < 64; i++) {
        hash.update(block);
        yield block;
      }
    };
    const put = await send(port, { method: 'PUT', path: '/big-bucket/64m', headers: { 'transfer-encoding': 'chunked' }, body: blocks() });
    expect(put.status).toBe(200);
    expect(put.headers.etag).toBe(`"${hash.digest('hex')}"`);
    const head = await send(port, { method: 'HEAD', path: '/big-bucket/64m' });
    expect(head.headers['content-length']).toBe(String(64 * 1024 * 1024));
  });

  it('drops an upload the client breaks off, leaving no object, no file and no error log', async () => {
    const { logger, lines } = captureLogger();
    const { port, dir } = await startS3(logger);
    await send(port, { method: 'PUT', path: '/abort-bucket' });
    const req = http.request({
      host: '127.0.0.1',
      port,
      method: 'PUT',
      path: '/abort-bucket/k',
      headers: { 'content-length': 1_000_000 },
      agent: false,
    });
    req.on('error', () => undefined);
    req.write(Buffer.alloc(100_000, 3));
    await new Promise((resolve) => setTimeout(resolve, 200));
    req.destroy();
    await expect
      .poll(() => lines().some((l) => l.msg === 'S3 request' && l.operation === 'PutObject'), { timeout: 5000, interval: 20 })
      .toBe(true);
    expect(readdirSync(join(dir, 's3', 'tmp'))).toEqual([]);
    expect(readdirSync(join(dir, 's3', 'objects'))).toEqual([]);
    expect((await send(port, { method: 'GET', path: '/abort-bucket/k' })).status).toBe(404);
    expect(lines().filter((l) => (l.level as number) >= 50)).toEqual([]);
    expect(lines().some((l) => l.msg === 'S3 client disconnected')).toBe(true);
  });
});
