/**
 * The daemon end to end: the real `codedeploy-agent start` process against the scripted commands
 * server (SigV4 checked, every call recorded), signed PKCS7/JSON specs, real bundles and hooks.
 */
import { cp, readdir, readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AGENT_CLI, FULL_LIFECYCLE, HOST_ARN, localSpec, type DaemonHost } from '../helpers/daemon-host.js';
import { daemonHost as host } from '../helpers/daemon-hosts.js';
import { FIXTURES, makeTarball, sampleAppGitRepo } from '../helpers/local-deploy.js';
import { startGitHubServer } from '../helpers/github-server.js';
import { S3RVER_CREDENTIALS, startS3Server } from '../helpers/s3-server.js';
import { notifySocket } from '../helpers/notify-socket.js';

const SAMPLE = join(FIXTURES, 'sample-app');
const EXEC = (d: string) => `CodeDeploy/us-east-1/Prod/arn:aws:sds:us-east-1:123456789012:deployment/${d}`;
const FIRST_RUN = ['BeforeInstall', 'AfterInstall', 'ApplicationStart', 'ValidateService', 'BeforeAllowTraffic', 'AfterAllowTraffic'];

interface CompleteBody {
  HostCommandIdentifier: string;
  CommandStatus: string;
  Diagnostics: { Format: string; Payload: string };
}
const body = (c: { body: unknown }) => c.body as CompleteBody;
const payload = (c: { body: unknown }) =>
  JSON.parse(body(c).Diagnostics.Payload) as { error_code: number; script_name: string; message: string; log: string };

const proof = async (h: DaemonHost) => (existsSync(h.proofFile) ? (await readFile(h.proofFile, 'utf8')).split('\n').filter(Boolean) : []);

describe.skipIf(!existsSync(AGENT_CLI))('codedeploy-agent start (daemon)', () => {
  it('runs a whole deployment: one ack and one complete per command, signed calls, official payloads', async () => {
    const h = await host();
    h.specs.set(EXEC('d-FULL00001'), localSpec('d-FULL00001', 'dg-1', SAMPLE));
    h.start();
    const results = await h.deploy(EXEC('d-FULL00001'), FULL_LIFECYCLE);
    expect(results.map((c) => body(c).CommandStatus)).toEqual(FULL_LIFECYCLE.map(() => 'Succeeded'));
    expect(results.map(payload)).toEqual(FULL_LIFECYCLE.map(() => ({ error_code: 0, script_name: '', message: 'Succeeded: ', log: '' })));
    expect(await proof(h)).toEqual(FIRST_RUN);
    expect(h.completes()).toHaveLength(FULL_LIFECYCLE.length);
    const acks = h.server.calls('PutHostCommandAcknowledgement');
    expect(acks).toHaveLength(FULL_LIFECYCLE.length);
    // The first deployment's stop and block-traffic hooks have no previous revision: no-ops.
    expect(JSON.parse((acks[0]?.body as { Diagnostics: { Payload: string } }).Diagnostics.Payload)).toEqual({ IsCommandNoop: true });
    expect(JSON.parse((acks[3]?.body as { Diagnostics: { Payload: string } }).Diagnostics.Payload)).toEqual({ IsCommandNoop: false });
    const all = h.server.calls();
    expect(all.every((c) => c.signatureValid)).toBe(true);
    expect(all.every((c) => typeof c.headers['x-amz-codedeploy-agent-version'] === 'string')).toBe(true);
    expect((h.server.calls('PollHostCommand')[0]?.body as { HostIdentifier: string }).HostIdentifier).toBe(HOST_ARN);
    expect(await readFile(join(h.workDir, 'target', 'hello.txt'), 'utf8')).toBe('hello from the bundle\n');
    expect(await readdir(join(h.rootDir, 'ongoing-deployment'))).toEqual([]);
    expect(await h.stop()).toBe(0);
    const agentLog = await readFile(join(h.logDir, 'codedeploy-agent.log'), 'utf8');
    expect(agentLog).toContain('identity: on-premises');
    expect(agentLog).not.toContain('test/Secret');
  });

  it('reports a failing hook once, with code 4, the script name and the log tail', async () => {
    const h = await host();
    const src = join(h.root, 'failing');
    await cp(SAMPLE, src, { recursive: true });
    await writeFile(join(src, 'scripts', 'hook.sh'), '#!/bin/sh\necho "checking $LIFECYCLE_EVENT"\necho "it broke" >&2\nexit 3\n', {
      mode: 0o755,
    });
    h.specs.set(EXEC('d-FAIL00001'), localSpec('d-FAIL00001', 'dg-1', src));
    h.start();
    const results = await h.deploy(EXEC('d-FAIL00001'), ['DownloadBundle', 'BeforeInstall']);
    const failedCall = results[1];
    expect(failedCall && body(failedCall).CommandStatus).toBe('Failed');
    expect(failedCall && payload(failedCall)).toMatchObject({
      error_code: 4,
      script_name: 'scripts/hook.sh',
      message: 'Script at specified location: scripts/hook.sh failed with exit code 3',
    });
    expect(failedCall && payload(failedCall).log).toContain('[stdout]checking BeforeInstall\n');
    expect(failedCall && payload(failedCall).log).toContain('[stderr]it broke\n');
    await new Promise((r) => setTimeout(r, 300));
    expect(h.completes(failedCall && body(failedCall).HostCommandIdentifier)).toHaveLength(1);
  });

  it('backs off on throttling and 5xx answers and keeps polling', async () => {
    const h = await host();
    h.server.script('PollHostCommand', [
      { error: { status: 400, type: 'ThrottlingException', message: 'Rate exceeded' } },
      { error: { status: 503, type: 'ServiceUnavailable' } },
      { error: { status: 500, type: 'ServerException' } },
    ]);
    h.specs.set(EXEC('d-THROT0001'), localSpec('d-THROT0001', 'dg-1', SAMPLE));
    h.start();
    const results = await h.deploy(EXEC('d-THROT0001'), ['DownloadBundle']);
    expect(body(results[0] as { body: unknown }).CommandStatus).toBe('Succeeded');
    const polls = h.server.calls('PollHostCommand');
    // Three failed attempts of one call, then the poll loop's own backoff before the next call: at
    // least 5 s (half the 10 s first step) counted from the start of the failed call, whose retries
    // already took part of it, so measure from its first attempt.
    expect(polls.length).toBeGreaterThanOrEqual(4);
    expect((polls[3]?.time ?? 0) - (polls[0]?.time ?? 0)).toBeGreaterThanOrEqual(4_900);
    expect(h.stderr() + (await readFile(join(h.logDir, 'codedeploy-agent.log'), 'utf8'))).toContain('Polling failed');
  }, 60_000);

  it('fails a command interrupted by kill -9 exactly once, with code 7, after the restart', async () => {
    const h = await host();
    const src = join(h.root, 'slow');
    await cp(SAMPLE, src, { recursive: true });
    await writeFile(join(src, 'scripts', 'hook.sh'), '#!/bin/sh\necho started >> "$PROOF_FILE"\nsleep 30\n', { mode: 0o755 });
    h.specs.set(EXEC('d-KILL00001'), localSpec('d-KILL00001', 'dg-1', src));
    h.start();
    await h.deploy(EXEC('d-KILL00001'), ['DownloadBundle', 'Install']);
    h.queue.push({
      HostCommandIdentifier: 'hc-interrupted',
      HostIdentifier: HOST_ARN,
      DeploymentExecutionId: EXEC('d-KILL00001'),
      CommandName: 'ApplicationStart',
    });
    await expect.poll(() => proof(h), { timeout: 20_000, message: 'the hook starting' }).toContain('started');
    expect(await readdir(join(h.rootDir, 'ongoing-deployment'))).toEqual(['d-KILL00001']);
    await h.stop('SIGKILL');
    expect(h.completes('hc-interrupted')).toHaveLength(0);
    h.start();
    const call = await h.waitForComplete('hc-interrupted');
    expect(body(call).CommandStatus).toBe('Failed');
    expect(payload(call)).toEqual({
      error_code: 7,
      script_name: '',
      message: 'Failed: Failing in-progress lifecycle event after an agent restart.',
      log: '',
    });
    await new Promise((r) => setTimeout(r, 500));
    expect(h.completes('hc-interrupted')).toHaveLength(1);
    expect(await readdir(join(h.rootDir, 'ongoing-deployment'))).toEqual([]);
  });

  it('waits for a running hook on SIGTERM, reports it, and exits 0', async () => {
    const h = await host();
    const src = join(h.root, 'graceful');
    await cp(SAMPLE, src, { recursive: true });
    await writeFile(
      join(src, 'scripts', 'hook.sh'),
      '#!/bin/sh\necho started >> "$PROOF_FILE"\nsleep 2\necho finished >> "$PROOF_FILE"\n',
      { mode: 0o755 },
    );
    h.specs.set(EXEC('d-TERM00001'), localSpec('d-TERM00001', 'dg-1', src));
    h.start();
    await h.deploy(EXEC('d-TERM00001'), ['DownloadBundle', 'Install']);
    h.queue.push({
      HostCommandIdentifier: 'hc-graceful',
      HostIdentifier: HOST_ARN,
      DeploymentExecutionId: EXEC('d-TERM00001'),
      CommandName: 'ApplicationStart',
    });
    await expect.poll(() => proof(h), { timeout: 20_000, message: 'the hook starting' }).toContain('started');
    const pollsBefore = h.server.calls('PollHostCommand').length;
    const exit = await h.stop('SIGTERM');
    expect(exit).toBe(0);
    expect(await proof(h)).toEqual(['started', 'finished']);
    const call = h.completes('hc-graceful');
    expect(call).toHaveLength(1);
    expect(body(call[0] as { body: unknown }).CommandStatus).toBe('Succeeded');
    expect(h.server.calls('PollHostCommand').length - pollsBefore).toBeLessThanOrEqual(1);
  });

  it('deploys an S3 revision from an S3-compatible server', async () => {
    const s3 = await startS3Server('revisions');
    try {
      const tgz = await makeTarball(SAMPLE, join(s3.dir, 'app.tgz'), true);
      const etag = await s3.putFile('app/app.tgz', tgz);
      const endpoint = s3.endpoint;
      const creds = S3RVER_CREDENTIALS;
      const h = await host({ credentials: creds, extraConfig: [`:s3_endpoint_override: ${endpoint}`] });
      h.specs.set(EXEC('d-S3000001'), {
        ...localSpec('d-S3000001', 'dg-s3', '/unused'),
        Revision: { RevisionType: 'S3', S3Revision: { Bucket: 'revisions', Key: 'app/app.tgz', BundleType: 'tgz', ETag: etag } },
      });
      h.start();
      const results = await h.deploy(EXEC('d-S3000001'), ['DownloadBundle', 'Install', 'ApplicationStart']);
      expect(results.map((c) => body(c).CommandStatus)).toEqual(['Succeeded', 'Succeeded', 'Succeeded']);
      expect(await proof(h)).toEqual(['ApplicationStart']);
      expect(await readFile(join(h.workDir, 'target', 'hello.txt'), 'utf8')).toBe('hello from the bundle\n');
    } finally {
      await s3.close();
    }
  });

  it('deploys a GitHub revision from a local git-archive server', async () => {
    const { dir: repoDir, sha } = await sampleAppGitRepo();
    const gh = await startGitHubServer({ repos: { 'octo/app': repoDir } });
    try {
      const h = await host({ extraConfig: [`:github_api_url: ${gh.apiUrl}`] });
      h.specs.set(EXEC('d-GH0000001'), {
        ...localSpec('d-GH0000001', 'dg-gh', '/unused'),
        Revision: { RevisionType: 'GitHub', GitHubRevision: { Account: 'octo', Repository: 'app', CommitId: sha, BundleType: 'tar' } },
      });
      h.start();
      const results = await h.deploy(EXEC('d-GH0000001'), ['DownloadBundle', 'Install']);
      expect(
        results.map((c) => body(c).CommandStatus),
        h.stderr(),
      ).toEqual(['Succeeded', 'Succeeded']);
      expect(await readFile(join(h.workDir, 'target', 'hello.txt'), 'utf8')).toBe('hello from the bundle\n');
    } finally {
      await gh.close();
    }
  });

  it('tells systemd READY once polling, its status, and STOPPING on shutdown', async () => {
    const sock = await notifySocket();
    const h = await host();
    h.start({ NOTIFY_SOCKET: sock.path });
    const messages = () =>
      sock
        .received()
        .map((d) => d.message)
        .join('\n');
    await expect.poll(messages, { timeout: 15_000 }).toMatch(/READY=1/);
    expect(messages()).toMatch(/STATUS=idle: polling for commands/);
    // READY=1 goes out as the poll loop starts; the server may see the first poll a moment later.
    await expect.poll(() => h.server.calls('PollHostCommand').length, { timeout: 15_000 }).toBeGreaterThan(0);
    expect(await h.stop('SIGTERM')).toBe(0);
    expect(messages()).toMatch(/STOPPING=1/);
  });
});
