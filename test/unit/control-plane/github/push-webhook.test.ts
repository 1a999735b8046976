/**
 * The webhook handler over a real HTTP server, with a real configuration file and a recording
 * engine: every answer of the status table in push-webhook.ts, and what is (not) logged.
 */
import { rm, writeFile } from 'node:fs/promises';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ApiError } from '../../../../control-plane/api/api-error.js';
import type { NewDeployment } from '../../../../control-plane/engine/engine.js';
import type { DeploymentInfo } from '../../../../control-plane/model.js';
import { createPushConfigReader, openPushConfig } from '../../../../control-plane/github/push-config-reader.js';
import { signPayload } from '../../../../control-plane/github/push-signature.js';
import { createPushWebhookHandler } from '../../../../control-plane/github/push-webhook.js';
import { captureLogger, silentLogger, tempDir } from '../../../helpers/temp.js';

const SECRET = 'webhook-secret-for-tests';
const SHA = 'fedcba9876543210fedcba9876543210fedcba98';
const CONFIG = `secret: ${SECRET}
follow:
  - {repository: demo/app, branch: main, applicationName: App, deploymentGroupName: Staging}
  - {repository: demo/app, branch: main, applicationName: App, deploymentGroupName: Missing}
  - {repository: demo/app, branch: prod, applicationName: App, deploymentGroupName: Missing}
`;

let server: http.Server;
let base: string;
let configFile: string;
let created: NewDeployment[];
let logs: () => Array<Record<string, unknown>>;

const engine = {
  createDeployment(input: NewDeployment): DeploymentInfo {
    if (input.deploymentGroupName === 'Missing') throw new ApiError('DeploymentGroupDoesNotExistException', 'No group Missing.');
    created.push(input);
    return { deploymentId: `d-TEST${created.length}` } as DeploymentInfo;
  },
};

beforeEach(async () => {
  created = [];
  configFile = join(await tempDir(), 'push-deployments.yml');
  await writeFile(configFile, CONFIG);
  const capture = captureLogger();
  logs = capture.lines;
  const config = createPushConfigReader({ file: configFile, env: {}, logger: capture.logger });
  const handler = createPushWebhookHandler({ path: '/github/webhook', config, engine, logger: capture.logger, maxBodyBytes: 64 * 1024 });
  server = http.createServer((req, res) => {
    void handler(req, res).then((handled) => {
      if (!handled) res.writeHead(418).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterEach(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

function pushPayload(ref = 'refs/heads/main', after = SHA): string {
  return JSON.stringify({
    ref,
    after,
    repository: { full_name: 'demo/app' },
    pusher: { name: 'dev' },
    head_commit: { id: after, message: 'Fix the thing\nwith details' },
  });
}

async function deliver(
  body: string | Buffer,
  o: { event?: string; secret?: string; signature?: string | null; contentType?: string; method?: string } = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  const headers: Record<string, string> = { 'content-type': o.contentType ?? 'application/json', 'x-github-delivery': 'delivery-1' };
  if (o.event !== undefined) headers['x-github-event'] = o.event;
  else headers['x-github-event'] = 'push';
  if (o.signature !== null) headers['x-hub-signature-256'] = o.signature ?? signPayload(o.secret ?? SECRET, body);
  const res = await fetch(`${base}/github/webhook`, { method: o.method ?? 'POST', headers, body: o.method === 'GET' ? undefined : body });
  const text = await res.text();
  return { status: res.status, body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) };
}

describe('push webhook', () => {
  it('deploys every group following the branch, and reports the groups that refuse', async () => {
    const answer = await deliver(pushPayload());
    expect(answer.status).toBe(201);
    expect(answer.body).toMatchObject({
      commitId: SHA,
      deployments: [{ applicationName: 'App', deploymentGroupName: 'Staging', deploymentId: 'd-TEST1' }],
      errors: [{ deploymentGroupName: 'Missing', error: { code: 'DeploymentGroupDoesNotExistException', message: 'No group Missing.' } }],
    });
    expect(created).toEqual([
      {
        applicationName: 'App',
        deploymentGroupName: 'Staging',
        revision: { revisionType: 'GitHub', gitHubLocation: { repository: 'demo/app', commitId: SHA } },
        description: 'push fedcba9 by dev: Fix the thing',
        creator: 'user',
      },
    ]);
    const line = logs().find((l) => String(l.msg).startsWith('Push to demo/app'));
    expect(line).toMatchObject({ delivery: 'delivery-1', ref: 'refs/heads/main', commitId: SHA, deployments: ['d-TEST1'] });
  });

  it('answers 422 when every following group refuses, 200 when none follows', async () => {
    const refused = await deliver(pushPayload('refs/heads/prod'));
    expect(refused.status).toBe(422);
    expect(refused.body.deployments).toEqual([]);
    const unfollowed = await deliver(pushPayload('refs/heads/feature'));
    expect(unfollowed).toMatchObject({
      status: 200,
      body: { message: 'no deployment group follows demo/app branch feature', deployments: [] },
    });
    expect(created).toEqual([]);
  });

  it('accepts a form-encoded delivery signed over the form body', async () => {
    const body = new URLSearchParams({ payload: pushPayload() }).toString();
    const answer = await deliver(body, { contentType: 'application/x-www-form-urlencoded' });
    expect(answer.status).toBe(201);
    expect(created).toHaveLength(1);
  });

  it.each([
    ['no signature', { signature: null }, /missing/],
    ['another secret', { secret: 'not-the-secret' }, /does not match/],
    ['a sha1 signature', { signature: 'sha1=0123456789abcdef0123456789abcdef01234567' }, /must be "sha256="/],
  ])('refuses a delivery with %s (401), creating nothing', async (_name, o, reason) => {
    const answer = await deliver(pushPayload(), o);
    expect(answer.status).toBe(401);
    expect(String(answer.body.message)).toMatch(reason);
    expect(created).toEqual([]);
  });

  it('answers ping, ignores other events, tags and deletions', async () => {
    expect((await deliver(JSON.stringify({ zen: 'Speak like a human.', hook_id: 7 }), { event: 'ping' })).status).toBe(200);
    expect(await deliver('{}', { event: 'issues' })).toMatchObject({
      status: 202,
      body: { message: 'ignored: event "issues" is not a push' },
    });
    expect((await deliver(pushPayload('refs/tags/v1'))).status).toBe(202);
    expect((await deliver(pushPayload('refs/heads/main', '0'.repeat(40)))).status).toBe(202);
    expect(created).toEqual([]);
  });

  it('refuses a payload that is not a push (400) and a content type it cannot read (415)', async () => {
    expect((await deliver('{"ref": 3}')).status).toBe(400);
    expect((await deliver('{}', { contentType: 'text/plain' })).status).toBe(415);
  });

  it('refuses a body over the limit with 413', async () => {
    const answer = await deliver(Buffer.alloc(65 * 1024, 0x20));
    expect(answer.status).toBe(413);
    expect(created).toEqual([]);
  });

  it('answers 405 to anything but POST', async () => {
    expect((await deliver('', { method: 'GET' })).status).toBe(405);
  });

  it('follows edits of the file: gone is 404, invalid is 503 (issues in the log only), fixed deploys again', async () => {
    await rm(configFile);
    const off = await deliver(pushPayload());
    expect(off.status).toBe(404);
    expect(String(off.body.message)).toMatch(/deploy-on-push is not configured/);

    await writeFile(configFile, `secret: ${SECRET}\nfollow:\n  - repository: demo/app\n    brnch: main\n`);
    const broken = await deliver(pushPayload());
    expect(broken.status).toBe(503);
    expect(JSON.stringify(broken.body)).not.toContain('brnch');
    expect(logs().some((l) => l.level === 50 && String(l.msg).includes(`${configFile}:4:5: follow[0].brnch: unknown key`))).toBe(true);

    await writeFile(
      configFile,
      `secret: rotated\nfollow:\n  - {repository: demo/app, branch: main, applicationName: App, deploymentGroupName: Staging}\n`,
    );
    expect((await deliver(pushPayload())).status).toBe(401);
    expect((await deliver(pushPayload(), { secret: 'rotated' })).status).toBe(201);
  });

  it('never logs the secret or a signature', async () => {
    await deliver(pushPayload());
    await deliver(pushPayload(), { secret: 'wrong' });
    const text = JSON.stringify(logs());
    expect(text).not.toContain(SECRET);
    expect(text).not.toContain('sha256=');
    expect(logs().some((l) => l.level === 40 && String(l.msg).startsWith('Webhook delivery refused'))).toBe(true);
  });
});

describe('openPushConfig (start-up)', () => {
  it('refuses to start with an invalid file or a missing file given by name, and starts without the default file', async () => {
    const dir = await tempDir();
    const file = join(dir, 'push.yml');
    const o = { file, env: {}, logger: silentLogger() };
    await expect(openPushConfig({ ...o, required: true })).rejects.toThrow(`${file} does not exist (given with --push-config)`);
    expect((await (await openPushConfig({ ...o, required: false })).read()).state).toBe('absent');
    await writeFile(file, 'follow: 3\n');
    await expect(openPushConfig({ ...o, required: false })).rejects.toThrow(`${file}:1:9: follow: expected a list`);
  });
});
