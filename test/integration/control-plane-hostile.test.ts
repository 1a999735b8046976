/**
 * The local control plane against an unauthenticated, hostile caller, over real HTTP on port 0
 * (issue 9, items 5 and 9): absurd identifiers are refused with the model's ClientException before
 * anything is kept or logged; what is kept about unregistered pollers is bounded; request bodies
 * (and headers) that arrive too slowly are cut off, while an S3 upload that keeps moving is not;
 * and the data-dir lock is a real lock, not a pid check.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import * as http from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { pino, type Logger } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { startTestControlPlane } from '../helpers/control-plane.js';
import { tempDir } from '../helpers/temp.js';

setFlagsFromString('--expose_gc');
const gc = runInNewContext('gc') as () => void;

function heapUsed(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

/** A logger whose output is measured (total bytes, longest line) and kept only at warn and above. */
function measuredLogger(level = 'debug'): {
  logger: Logger;
  bytes: () => number;
  longestLine: () => number;
  lines: (match: string) => number;
} {
  let bytes = 0;
  let longest = 0;
  const kept: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      bytes += chunk.length;
      for (const line of chunk.toString('utf8').split('\n')) {
        longest = Math.max(longest, Buffer.byteLength(line));
        if (/"level":(?:30|40|50)/.test(line)) kept.push(line);
      }
      cb();
    },
  });
  return {
    logger: pino({ level }, sink),
    bytes: () => bytes,
    longestLine: () => longest,
    lines: (match) => kept.filter((l) => l.includes(match)).length,
  };
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
afterAll(() => agent.destroy());

/** PollHostCommand over plain node:http with keep-alive (lighter than fetch for thousands of calls). */
function poll(
  url: string,
  hostIdentifier: string | Buffer,
): Promise<{ status: number; code: string | undefined; body: string; ms: number }> {
  const started = performance.now();
  const payload = typeof hostIdentifier === 'string' ? JSON.stringify({ HostIdentifier: hostIdentifier }) : hostIdentifier;
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method: 'POST',
        agent,
        headers: {
          'content-type': 'application/x-amz-json-1.1',
          'x-amz-target': 'CodeDeployCommandService_v20141006.PollHostCommand',
          'content-length': Buffer.byteLength(payload),
        },
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (d: string) => (body += d));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            code: res.headers['x-amzn-errortype'] as string | undefined,
            body,
            ms: performance.now() - started,
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

async function timedHealth(url: string): Promise<number> {
  const started = performance.now();
  const res = await fetch(`${url}/_health`);
  expect(res.status).toBe(200);
  await res.text();
  return performance.now() - started;
}

/** Runs `count` jobs with `concurrency` in flight. */
async function inParallel(count: number, concurrency: number, job: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) await job(next++);
    }),
  );
}

/**
 * A raw connection that sends `head`, then `drip` every `everyMs` (or nothing); resolves with
 * what came back and how long the server kept the connection open.
 */
function slowClient(
  port: number,
  head: string,
  drip: Buffer | string | undefined,
  everyMs: number,
  giveUpMs = 15_000,
): Promise<{ reply: string; ms: number; closedByServer: boolean }> {
  return new Promise((resolve) => {
    const started = performance.now();
    const socket = connect(port, '127.0.0.1');
    let reply = '';
    let timer: NodeJS.Timeout | undefined;
    const giveUp = setTimeout(() => {
      socket.destroy();
      finish(false);
    }, giveUpMs);
    let done = false;
    const finish = (closedByServer: boolean) => {
      if (done) return;
      done = true;
      clearInterval(timer);
      clearTimeout(giveUp);
      resolve({ reply, ms: performance.now() - started, closedByServer });
    };
    socket.on('data', (d: Buffer) => (reply += d.toString('latin1')));
    socket.on('error', () => undefined);
    socket.on('close', () => finish(true));
    socket.on('connect', () => {
      socket.write(head);
      if (drip !== undefined) {
        timer = setInterval(() => {
          if (!socket.destroyed) socket.write(drip);
        }, everyMs);
      }
    });
  });
}

describe('control plane: hostile callers', () => {
  it('refuses 300 polls with ~900 KB identifiers fast, before keeping or logging them; /_health stays fast', async () => {
    const log = measuredLogger();
    const cp = await startTestControlPlane({ logger: log.logger });
    try {
      const big = Buffer.alloc(900 * 1024, 'A');
      // Bodies are assembled from bytes: the client's own JSON work would dominate the run.
      const body = (id: string) => Buffer.concat([Buffer.from(`{"HostIdentifier":"${id}`), big, Buffer.from('"}')]);
      // Warm the paths (first request compiles code) before the baseline.
      await poll(cp.url, body('warm-'));
      const before = heapUsed();
      const logBefore = log.bytes();
      const started = performance.now();
      let slowest = 0;
      await inParallel(300, 4, async (i) => {
        const prefix = `arn:aws:iam::123456789012:user/${i}-`;
        const r = await poll(cp.url, body(prefix));
        expect(r.status).toBe(400);
        expect(r.code).toBe('ClientException');
        expect(JSON.parse(r.body)).toEqual({
          __type: 'ClientException',
          message: `HostIdentifier is ${prefix.length + big.length} characters long; the limit is 2048 (it is the host's ARN).`,
        });
        slowest = Math.max(slowest, r.ms);
      });
      const totalMs = performance.now() - started;
      const grown = heapUsed() - before;
      const logged = log.bytes() - logBefore;
      const healthMs = await timedHealth(cp.url);
      console.log(
        `300 polls x 900 KB: ${Math.round(totalMs)} ms, slowest ${Math.round(slowest)} ms; heap +${(grown / 1024 / 1024).toFixed(1)} MiB; log +${logged} bytes (longest line ${log.longestLine()}); /_health ${Math.round(healthMs)} ms`,
      );
      expect(cp.unknownHosts.tracked()).toBe(0);
      // Before the fix: +300 MB of heap, ~1 GB of log, /_health 11 s.
      expect(grown).toBeLessThan(48 * 1024 * 1024);
      expect(logged).toBeLessThan(512 * 1024);
      expect(log.longestLine()).toBeLessThan(2048);
      expect(slowest).toBeLessThan(5000);
      expect(healthMs).toBeLessThan(1000);
    } finally {
      await cp.close();
    }
  });

  it('keeps at most 1000 unregistered identifiers and a bounded log through 10k distinct pollers', async () => {
    const log = measuredLogger('info');
    const cp = await startTestControlPlane({ logger: log.logger, longPollSeconds: 0.001 });
    try {
      const padding = 'h'.repeat(1500);
      const started = performance.now();
      await inParallel(10_000, 32, async (i) => {
        const r = await poll(cp.url, `arn:aws:iam::123456789012:user/${padding}-${i}`);
        expect(r.status).toBe(200);
      });
      const ms = performance.now() - started;
      console.log(
        `10k unknown pollers: ${Math.round(ms)} ms; tracked ${cp.unknownHosts.tracked()}; log ${log.bytes()} bytes; ${log.lines('is not a registered')} warnings`,
      );
      expect(cp.unknownHosts.tracked()).toBe(1000);
      // At most 10 warnings a minute (two minutes if the run straddles one).
      expect(log.lines('is not a registered')).toBeLessThanOrEqual(20);
      expect(log.longestLine()).toBeLessThan(2048);
      expect(await timedHealth(cp.url)).toBeLessThan(1000);
    } finally {
      await cp.close();
    }
  });

  it('cuts off slow headers and slow bodies, JSON and S3, but not an S3 upload that keeps moving', async () => {
    const log = measuredLogger();
    const cp = await startTestControlPlane({
      logger: log.logger,
      headersTimeoutMs: 1000,
      bodyTimeouts: { small: { totalMs: 1500, windowMs: 500, minBytes: 64 }, s3: { totalMs: 0, windowMs: 1000, minBytes: 4096 } },
    });
    try {
      expect((await fetch(`${cp.url}/drip`, { method: 'PUT' })).status).toBe(200);
      const [silent, json, s3, headers, steady] = await Promise.all([
        // A connection that never sends a byte.
        slowClient(cp.port, '', undefined, 0),
        // 200 B/s passes the JSON progress rule (64 B per 0.5 s) but not its 1.5 s total.
        slowClient(
          cp.port,
          `POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: CodeDeployCommandService_v20141006.PollHostCommand\r\nContent-Length: 100000\r\n\r\n{`,
          'x'.repeat(40),
          200,
        ),
        // 5 B/s into a 50 MiB upload: the S3 progress rule cuts it.
        slowClient(cp.port, `PUT /drip/big.bin HTTP/1.1\r\nHost: x\r\nContent-Length: ${50 * 1024 * 1024}\r\n\r\n`, 'x', 200),
        // Headers that never end.
        slowClient(cp.port, 'POST / HTTP/1.1\r\nHost: x\r\n', 'X-Slow: 1\r\n', 300),
        // 32 KiB/s for about 3 s: longer than the JSON total deadline, but moving, so it completes.
        (async () => {
          const body = randomBytes(96 * 1024);
          const started = performance.now();
          const res = await fetch(`${cp.url}/drip/steady.bin`, {
            method: 'PUT',
            headers: { 'content-length': String(body.length) },
            duplex: 'half',
            body: new ReadableStream({
              async pull(controller) {
                const sent = (controller as unknown as { sent?: number }).sent ?? 0;
                if (sent >= body.length) return controller.close();
                await new Promise((r) => setTimeout(r, 250));
                controller.enqueue(body.subarray(sent, sent + 8192));
                (controller as unknown as { sent?: number }).sent = sent + 8192;
              },
            }),
          } as RequestInit);
          return { status: res.status, ms: performance.now() - started, text: await res.text() };
        })(),
      ]);
      expect(silent.closedByServer).toBe(true);
      expect(silent.ms).toBeLessThan(3000);
      console.log(
        `silent connection closed after ${Math.round(silent.ms)} ms, slow JSON body cut after ${Math.round(json.ms)} ms, slow S3 body after ${Math.round(s3.ms)} ms, slow headers after ${Math.round(headers.ms)} ms; steady upload ${steady.status} in ${Math.round(steady.ms)} ms`,
      );
      expect(json.closedByServer).toBe(true);
      expect(json.reply).toMatch(/^HTTP\/1\.1 408 /);
      expect(json.ms).toBeGreaterThanOrEqual(1400);
      expect(json.ms).toBeLessThan(4000);
      expect(s3.closedByServer).toBe(true);
      expect(s3.reply).toMatch(/^HTTP\/1\.1 408 /);
      expect(s3.ms).toBeLessThan(4000);
      expect(headers.closedByServer).toBe(true);
      expect(headers.ms).toBeLessThan(6000);
      expect(steady.status).toBe(200);
      expect(steady.ms).toBeGreaterThan(1500);
      const back = await fetch(`${cp.url}/drip/steady.bin`);
      expect((await back.arrayBuffer()).byteLength).toBe(96 * 1024);
      expect(log.lines('Request body too slow (total deadline)')).toBe(1);
      expect(log.lines('Request body too slow (progress deadline)')).toBe(1);
      expect(await timedHealth(cp.url)).toBeLessThan(1000);
    } finally {
      await cp.close();
    }
  });
});

describe('control plane: data-dir lock', () => {
  it('starts over a stale pid file and a stale lock file that name a live process (pid reuse)', async () => {
    const dataDir = join(await tempDir('cda-cp-lock-'), 'data');
    const first = await startTestControlPlane({ dataDir });
    await first.close();
    // What a crash leaves, with the pid now belonging to a live, unrelated process.
    const unrelated = spawn('sleep', ['60'], { stdio: 'ignore' });
    const pid = unrelated.pid ?? 0;
    await writeFile(join(dataDir, 'control-plane.pid'), `${pid}\n`);
    await writeFile(join(dataDir, 'control-plane.lock'), `pid=${pid}\nprogram=codedeploy-control-plane\n`);
    const cp = await startTestControlPlane({ dataDir }).finally(() => unrelated.kill('SIGKILL'));
    try {
      expect(existsSync(join(dataDir, 'control-plane.pid'))).toBe(false);
      expect(await readFile(join(dataDir, 'control-plane.lock'), 'utf8')).toBe(`pid=${process.pid}\nprogram=codedeploy-control-plane\n`);
      expect(await timedHealth(cp.url)).toBeLessThan(1000);
    } finally {
      await cp.close();
    }
  });

  it('refuses a second control plane on the same data dir while the first holds it, naming its pid', async () => {
    const dataDir = join(await tempDir('cda-cp-lock-'), 'data');
    const first = await startTestControlPlane({ dataDir });
    const err = await startTestControlPlane({ dataDir }).catch((e: unknown) => e);
    expect((err as Error).message).toBe(
      `the data dir ${dataDir} is in use by another control plane (pid ${process.pid}); stop it or use another --data-dir`,
    );
    await first.close();
    const again = await startTestControlPlane({ dataDir });
    await again.close();
  });
});
