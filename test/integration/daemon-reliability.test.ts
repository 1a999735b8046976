/**
 * The daemon's failure rules with real processes (docs/design.md section 8): a result outlives a
 * control-plane outage and an agent kill -9 in the middle of it, and is accepted exactly once;
 * one agent per host.
 */
import { spawn } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AGENT_CLI, HOST_ARN, localSpec, type DaemonHost } from '../helpers/daemon-host.js';
import { daemonHost } from '../helpers/daemon-hosts.js';
import { FIXTURES } from '../helpers/local-deploy.js';
import { acquireDirectoryLock } from '../../common/file-lock.js';

const SAMPLE = join(FIXTURES, 'sample-app');
const EXEC = (d: string) => `CodeDeploy/us-east-1/Prod/arn:aws:sds:us-east-1:123456789012:deployment/${d}`;

function host(extraConfig: string[] = []): Promise<DaemonHost> {
  return daemonHost({ extraConfig: [':retry_backoff_max_seconds: 1', ...extraConfig] });
}

/** expect.poll options: what is awaited (named in the failure) and for how long. */
const within = (message: string, timeout = 20_000) => ({ message, timeout });

const idOf = (c: { body: unknown }) => (c.body as { HostCommandIdentifier?: string }).HostCommandIdentifier;

describe('daemon reliability', () => {
  it('keeps a result through an outage and a kill -9, then delivers it once, not as a restart failure', async () => {
    const h = await host();
    let down = false;
    const accepted: Array<{ id: string | undefined; status: unknown; payload: string }> = [];
    h.server.script('PutHostCommandComplete', (call) => {
      if (down) return { destroy: true };
      const b = call.body as { CommandStatus?: string; Diagnostics?: { Payload?: string } };
      accepted.push({ id: idOf(call), status: b.CommandStatus, payload: b.Diagnostics?.Payload ?? '' });
      return { json: {} };
    });
    h.specs.set(EXEC('d-OUTAGE001'), localSpec('d-OUTAGE001', 'dg-1', SAMPLE));
    const agent = h.start();
    down = true;
    h.queue.push({
      HostCommandIdentifier: 'hc-outage',
      HostIdentifier: HOST_ARN,
      DeploymentExecutionId: EXEC('d-OUTAGE001'),
      CommandName: 'DownloadBundle',
    });
    await expect.poll(() => h.completes('hc-outage').length, within('failed completions during the outage')).toBeGreaterThanOrEqual(2);
    const pendingDir = join(h.rootDir, 'pending-results');
    expect(await readdir(pendingDir)).toHaveLength(1);
    expect(await readdir(join(h.rootDir, 'ongoing-deployment'))).toEqual([]);
    await h.stop('SIGKILL');
    expect(agent.signalCode).toBe('SIGKILL');
    const before = h.completes('hc-outage').length;
    // Restarted while the control plane is still down: it tries again from the outbox.
    h.start();
    await expect.poll(() => h.completes('hc-outage').length, within('a retry after the restart')).toBeGreaterThan(before + 1);
    down = false;
    await expect.poll(() => accepted.length, within('the accepted completion')).toBe(1);
    await expect.poll(() => readdir(pendingDir), within('an empty outbox')).toEqual([]);
    await new Promise((r) => setTimeout(r, 1500));
    expect(accepted).toHaveLength(1);
    expect(accepted[0]?.id).toBe('hc-outage');
    expect(accepted[0]?.status).toBe('Succeeded');
    expect(JSON.parse(accepted[0]?.payload ?? '{}')).toMatchObject({ error_code: 0 });
    const log = await readFile(join(h.logDir, 'codedeploy-agent.log'), 'utf8');
    expect(log).toContain('recorded before the agent restarted');
    expect(log).not.toContain('Failing the lifecycle event');
  }, 90_000);

  it('refuses a second agent on the same host at once and leaves the first one alone', async () => {
    const h = await host();
    const first = h.start();
    const pidFile = join(h.root, 'state', 'codedeploy-agent.pid');
    await expect.poll(() => h.server.calls('PollHostCommand').length, within('the first agent polling')).toBeGreaterThan(0);
    expect((await readFile(pidFile, 'utf8')).trim()).toBe(String(first.pid));

    const started = Date.now();
    const second = spawn(process.execPath, [AGENT_CLI, 'start', '--config_file', h.configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    second.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((r) => second.on('exit', (c) => r(c)));
    expect(code).not.toBe(0);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(stderr).toContain('already running');
    expect(stderr).toContain(`pid ${first.pid}`);
    // The first agent's pid file and work are untouched.
    expect((await readFile(pidFile, 'utf8')).trim()).toBe(String(first.pid));
    expect(first.exitCode).toBeNull();
    h.specs.set(EXEC('d-SECOND001'), localSpec('d-SECOND001', 'dg-1', SAMPLE));
    const [result] = await h.deploy(EXEC('d-SECOND001'), ['DownloadBundle']);
    expect((result?.body as { CommandStatus?: string }).CommandStatus).toBe('Succeeded');
    expect(h.completes()).toHaveLength(1);
  }, 60_000);

  it('starts again at once after a kill -9 (the lock dies with its holder)', async () => {
    const h = await host();
    h.start();
    await expect.poll(() => h.server.calls('PollHostCommand').length, within('polling')).toBeGreaterThan(0);
    await h.stop('SIGKILL');
    const polls = h.server.calls('PollHostCommand').length;
    h.start();
    await expect.poll(() => h.server.calls('PollHostCommand').length, within('polling again', 10_000)).toBeGreaterThan(polls);
    expect(h.agent?.exitCode).toBeNull();
  }, 30_000);

  it('waits for a deployment group another process is deploying into, then runs the command', async () => {
    const h = await host();
    const lock = await acquireDirectoryLock(join(h.rootDir, 'dg-1'));
    h.specs.set(EXEC('d-WAITLOCK1'), localSpec('d-WAITLOCK1', 'dg-1', SAMPLE));
    h.start();
    h.queue.push({
      HostCommandIdentifier: 'hc-wait',
      HostIdentifier: HOST_ARN,
      DeploymentExecutionId: EXEC('d-WAITLOCK1'),
      CommandName: 'DownloadBundle',
    });
    await expect.poll(() => h.server.calls('PutHostCommandAcknowledgement').length, within('the acknowledgement')).toBe(1);
    await new Promise((r) => setTimeout(r, 1500));
    expect(h.completes('hc-wait')).toHaveLength(0);
    await lock.release();
    const call = await h.waitForComplete('hc-wait');
    expect((call.body as { CommandStatus?: string }).CommandStatus).toBe('Succeeded');
    const log = await readFile(join(h.logDir, 'codedeploy-agent.log'), 'utf8');
    expect(log).toContain(`Deployment group dg-1 is locked by process (pid ${process.pid}); waiting for it`);
  }, 60_000);
});
