/**
 * The daemon's S3 download rides out an outage of S3 (or the control plane's S3 endpoint): a
 * plain HTTP server that first refuses connections, then answers 503, then serves the object.
 */
import * as http from 'node:http';
import { randomBytes, createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createS3Fetcher, type S3Revision } from '../../../agent/bundle/s3-fetcher.js';
import { silentLogger, tempDir } from '../../helpers/temp.js';

const credentials = () => Promise.resolve({ accessKeyId: 'AKIDTEST', secretAccessKey: 'secret' });
const rev: S3Revision = { type: 'S3', bucket: 'b', key: 'app.tar', bundleType: 'tar' };

async function freePort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const { port } = s.address() as AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

describe('S3 download through an outage', () => {
  it('tries again while the endpoint is down or failing, then downloads the object', async () => {
    const body = randomBytes(3 * 1024 * 1024);
    const port = await freePort();
    let unavailable = 2;
    const server = http.createServer((req, res) => {
      req.resume();
      if (unavailable-- > 0) {
        res
          .writeHead(503, { 'content-type': 'application/xml' })
          .end('<Error><Code>ServiceUnavailable</Code><Message>down</Message></Error>');
        return;
      }
      res.writeHead(200, { 'content-length': String(body.length), etag: `"${createHash('md5').update(body).digest('hex')}"` }).end(body);
    });
    // Nothing listens for the first second: connections are refused.
    const up = new Promise<void>((r) => setTimeout(() => server.listen(port, '127.0.0.1', () => r()), 1000));
    const sleeps: number[] = [];
    const fetch = createS3Fetcher({
      region: 'us-east-1',
      credentials,
      useFipsMode: false,
      endpointOverride: `http://127.0.0.1:${port}`,
      logger: silentLogger(),
      maxAttempts: 1,
      outageWindowMs: 60_000,
      retryMaxDelayMs: 400,
      sleep: (ms) => (sleeps.push(ms), new Promise((r) => setTimeout(r, ms))),
    });
    const file = join(await tempDir(), 'bundle.tar');
    try {
      await fetch(rev, file);
      expect((await readFile(file)).equals(body)).toBe(true);
      expect(sleeps.length).toBeGreaterThanOrEqual(3);
      expect(Math.max(...sleeps)).toBeLessThanOrEqual(400);
    } finally {
      await up;
      await new Promise((r) => server.close(r));
    }
  });

  it('fails at once without an outage window (codedeploy-local), and on a definitive error', async () => {
    const port = await freePort();
    const fetch = createS3Fetcher({
      region: 'us-east-1',
      credentials,
      useFipsMode: false,
      endpointOverride: `http://127.0.0.1:${port}`,
      logger: silentLogger(),
      maxAttempts: 1,
    });
    const started = Date.now();
    await expect(fetch(rev, join(await tempDir(), 'x.tar'))).rejects.toThrow(/Unable to connect/);
    expect(Date.now() - started).toBeLessThan(10_000);

    const server = http.createServer((req, res) => {
      req.resume();
      res.writeHead(404, { 'content-type': 'application/xml' }).end('<Error><Code>NoSuchKey</Code><Message>no</Message></Error>');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const sleeps: number[] = [];
    const patient = createS3Fetcher({
      region: 'us-east-1',
      credentials,
      useFipsMode: false,
      endpointOverride: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      logger: silentLogger(),
      maxAttempts: 1,
      outageWindowMs: 60_000,
      sleep: (ms) => (sleeps.push(ms), Promise.resolve()),
    });
    try {
      await expect(patient(rev, join(await tempDir(), 'y.tar'))).rejects.toThrow(/does not exist \(NoSuchKey\)/);
      expect(sleeps).toEqual([]);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});
