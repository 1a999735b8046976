/**
 * The web console's HTTP surface on a real control plane (no browser): the page and its headers,
 * the GET / rule against signed S3 ListBuckets, the assets, the read endpoint, the event stream,
 * its limit, and a close() that does not wait for open streams.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { CreateDeploymentCommand } from '@aws-sdk/client-codedeploy';
import { CreateBucketCommand, ListBucketsCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createConsoleHandler } from '../../../control-plane/console/console-handler.js';
import type { ControlPlane } from '../../../control-plane/server.js';
import { clients, createAppAndGroup, startTestControlPlane } from '../../helpers/control-plane.js';
import { silentLogger } from '../../helpers/temp.js';

/** Opens an SSE stream and collects its text; `ended` settles when the server ends it. */
function openStream(url: string): Promise<{ status: number; text: () => string; ended: Promise<void>; close: () => void }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers: { accept: 'text/event-stream' } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      const ended = new Promise<void>((done) => res.on('close', done));
      resolve({ status: res.statusCode ?? 0, text: () => text, ended, close: () => req.destroy() });
    });
    req.on('error', reject);
  });
}

describe('web console over HTTP', () => {
  let cp: ControlPlane;
  let sdk: ReturnType<typeof clients>;

  beforeAll(async () => {
    cp = await startTestControlPlane();
    sdk = clients(cp);
  });

  afterAll(async () => {
    await cp?.close();
  });

  it('serves the page at GET / with a strict policy, and HEAD without a body', async () => {
    expect(cp.consoleUrl).toBe(`${cp.url}/`);
    const res = await fetch(cp.consoleUrl);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.headers.get('content-security-policy')).toMatch(/^default-src 'self'(;|$)/);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('cache-control')).toBe('no-cache');
    const html = await res.text();
    expect(html).toContain('<main id="main"');
    expect(html).toContain('src="/_console/assets/console.js"');
    expect(html).not.toMatch(/<script>|style=/); // nothing inline (the policy would block it)

    const head = await fetch(cp.consoleUrl, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(Number(head.headers.get('content-length'))).toBe(Buffer.byteLength(html));
    expect(await head.text()).toBe('');
  });

  it('leaves signed S3 requests at / to S3: ListBuckets still answers', async () => {
    await sdk.s3.send(new CreateBucketCommand({ Bucket: 'console-check' }));
    const out = await sdk.s3.send(new ListBucketsCommand({}));
    expect(out.Buckets?.map((b) => b.Name)).toContain('console-check');
    // And the raw answer is S3's XML (an unsigned request with an X-Amz header is S3's too).
    const raw = await fetch(cp.consoleUrl, { headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } });
    expect(raw.headers.get('content-type')).toMatch(/xml/);
    expect(await raw.text()).toContain('<ListAllMyBucketsResult');
  });

  it('serves the listed assets with their types and nothing else under /_console/', async () => {
    const js = await fetch(`${cp.url}/_console/assets/console.js`);
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(await js.text()).toContain('EventSource');
    const css = await fetch(`${cp.url}/_console/assets/console.css`);
    expect(css.headers.get('content-type')).toBe('text/css; charset=utf-8');
    for (const path of ['/_console/assets/missing.js', '/_console/assets/..%2fconsole-handler.ts', '/_console/nothing']) {
      const res = await fetch(`${cp.url}${path}`);
      expect(res.status, path).toBe(404);
    }
    const post = await fetch(`${cp.url}/_console/api/overview`, { method: 'POST', body: 'x' });
    expect(post.status).toBe(405);
  });

  it('reads applications, groups and deployments in one call, and streams the engine events', async () => {
    const { application, group } = await createAppAndGroup(sdk.deploy, { application: 'ConsoleApp', group: 'empty', tag: 'nobody' });
    const stream = await openStream(`${cp.url}/_console/events`);
    expect(stream.status).toBe(200);
    await expect.poll(stream.text).toContain(': connected');

    const { deploymentId } = await sdk.deploy.send(
      new CreateDeploymentCommand({
        applicationName: application,
        deploymentGroupName: group,
        revision: { revisionType: 'S3', s3Location: { bucket: 'console-check', key: 'none.tgz', bundleType: 'tgz' } },
      }),
    );
    await expect.poll(stream.text, { timeout: 10_000 }).toContain(`"deploymentId":"${deploymentId}"`);
    expect(stream.text()).toMatch(/^event: deployment-status$/m);
    stream.close();

    const overview = (await (await fetch(`${cp.url}/_console/api/overview`)).json()) as {
      applications: { application: { applicationName: string }; groups: { deploymentGroupName: string }[] }[];
      deployments: { deploymentId: string }[];
    };
    const app = overview.applications.find((a) => a.application.applicationName === 'ConsoleApp');
    expect(app?.groups.map((g) => g.deploymentGroupName)).toEqual(['empty']);
    expect(overview.deployments.map((d) => d.deploymentId)).toContain(deploymentId);

    const one = await fetch(`${cp.url}/_console/api/deployments/${deploymentId}`);
    expect(((await one.json()) as { deployment: { deploymentId: string } }).deployment.deploymentId).toBe(deploymentId);
    for (const id of ['d-AAAAAAAAA', 'not-an-id', '..%2F..%2Fetc'])
      expect((await fetch(`${cp.url}/_console/api/deployments/${id}`)).status, id).toBe(404);
  });

  it('answers 503 beyond the stream limit', async () => {
    const shutdown = new AbortController();
    const handler = createConsoleHandler({
      engine: { on: () => () => {}, hostSeen: () => undefined },
      operations: {},
      shutdown: shutdown.signal,
      logger: silentLogger(),
      events: { maxStreams: 1 },
    });
    const server = http.createServer((req, res) => void handler(req, res));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const first = await openStream(`${base}/_console/events`);
      expect(first.status).toBe(200);
      const second = await fetch(`${base}/_console/events`);
      expect(second.status).toBe(503);
      expect(second.headers.get('retry-after')).toBe('5');
      expect(await second.text()).toMatch(/at most 1/);
      shutdown.abort();
      await first.ended;
    } finally {
      shutdown.abort();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });

  it('close() ends open event streams at once instead of waiting for the browser', async () => {
    const own = await startTestControlPlane();
    const streams = await Promise.all([1, 2, 3].map(() => openStream(`${own.url}/_console/events`)));
    for (const s of streams) await expect.poll(s.text).toContain(': connected');
    const started = Date.now();
    await own.close();
    await Promise.all(streams.map((s) => s.ended));
    expect(Date.now() - started).toBeLessThan(1500);
  });
});
