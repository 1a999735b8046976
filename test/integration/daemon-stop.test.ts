/**
 * The daemon's command line as an operator of the official agent uses it, with real processes:
 * the global --config_file position, `stop` and `restart` against a running daemon (a hook in
 * progress, a timeout, a systemd-managed agent, nothing running, a reused pid), the start exit
 * codes (78 for configuration errors, 1 for the rest), <root_dir>/../.version, and sd_notify
 * datagrams sent by the agent process itself.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AGENT_CLI, localSpec, HOST_ARN, type DaemonHost } from '../helpers/daemon-host.js';
import { daemonHost as host } from '../helpers/daemon-hosts.js';
import { FIXTURES } from '../helpers/local-deploy.js';
import { notifySocket } from '../helpers/notify-socket.js';
import { runNode, type ProgramRun as Run } from '../helpers/run-node.js';
import { waitFor } from '../helpers/wait-for.js';
import { packageVersion } from '../../common/version.js';
import { statusFilePath } from '../../agent/status/status-file.js';
import { loadNodeFfi } from '../../agent/systemd/notify-datagram.js';

const SAMPLE = join(FIXTURES, 'sample-app');
const EXEC = (d: string) => `CodeDeploy/us-east-1/Prod/arn:aws:sds:us-east-1:123456789012:deployment/${d}`;
const VERSION = packageVersion();

const children: ChildProcess[] = [];
/** Runs the CLI to its end. */
function cli(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return runNode(AGENT_CLI, args, { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env }, onSpawn: (child) => children.push(child) });
}

/** A CLI process left running (start, restart): its output so far and its end. */
function background(
  args: string[],
  env: Record<string, string> = {},
): { child: ChildProcess; out: () => string; done: Promise<number | null> } {
  const child = spawn(process.execPath, [AGENT_CLI, ...args], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const done = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return { child, out: () => out, done };
}

// Runs before daemon-hosts.ts's afterEach (registered first, when imported) stops the hosts.
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

const pidFile = (h: DaemonHost) => join(h.root, 'state', 'codedeploy-agent.pid');
async function running(h: DaemonHost): Promise<number> {
  const child = h.agent;
  if (!child?.pid) throw new Error('no agent');
  const pid = child.pid;
  // This agent's pid file, then a poll after it (an earlier run of the same host polled too).
  await waitFor('the pid file', async () => ((await readFile(pidFile(h), 'utf8').catch(() => '')) === String(pid) ? true : undefined), {
    timeoutMs: 20_000,
    details: () => h.stderr(),
  });
  const polls = h.server.calls('PollHostCommand').length;
  await waitFor('the agent polling', () => (h.server.calls('PollHostCommand').length > polls ? true : undefined), {
    timeoutMs: 20_000,
    details: () => h.stderr(),
  });
  return pid;
}
const exitOf = (child: ChildProcess): Promise<number | null> =>
  child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve(child.exitCode)
    : new Promise((r) => child.once('exit', (code) => r(code)));

/** A bundle whose BeforeInstall hook runs until the test creates <proof>.release. */
async function blockingHook(h: DaemonHost): Promise<{ started: string; release: () => Promise<void> }> {
  const src = join(h.root, 'blocking-app');
  await cp(SAMPLE, src, { recursive: true });
  await writeFile(
    join(src, 'scripts', 'hook.sh'),
    `#!/bin/sh\necho "$LIFECYCLE_EVENT" >> "$PROOF_FILE"\nif [ "$LIFECYCLE_EVENT" = BeforeInstall ]; then\n  touch "$PROOF_FILE.started"\n  while [ ! -e "$PROOF_FILE.release" ]; do sleep 0.1; done\nfi\n`,
    { mode: 0o755 },
  );
  h.specs.set(EXEC('d-STOP00001'), localSpec('d-STOP00001', 'dg-stop', src));
  return { started: `${h.proofFile}.started`, release: () => writeFile(`${h.proofFile}.release`, '') };
}
async function hookRunning(h: DaemonHost): Promise<void> {
  const hook = await blockingHook(h);
  const [download] = await h.deploy(EXEC('d-STOP00001'), ['DownloadBundle']);
  expect((download?.body as { CommandStatus: string }).CommandStatus).toBe('Succeeded');
  h.queue.push({
    HostCommandIdentifier: 'hc-before',
    HostIdentifier: HOST_ARN,
    DeploymentExecutionId: EXEC('d-STOP00001'),
    CommandName: 'BeforeInstall',
  });
  await waitFor('the hook to start', () => (existsSync(hook.started) ? true : undefined), { timeoutMs: 20_000, details: () => h.stderr() });
  // The status publisher writes the status file a moment after the hook starts.
  const statusFile = statusFilePath(join(h.root, 'state'), 'codedeploy-agent');
  await waitFor(
    'the status file to name the hook',
    async () => ((await readFile(statusFile, 'utf8').catch(() => '')).includes('scripts/hook.sh') ? true : undefined),
    { timeoutMs: 20_000, details: () => h.stderr() },
  );
}

describe.skipIf(!existsSync(AGENT_CLI))('codedeploy-agent stop, restart and the global --config_file', () => {
  it('takes --config_file before the command (the official position) for start and status, and after it', async () => {
    const h = await host();
    const started = background(['--config_file', h.configFile, 'start'], { PROOF_FILE: h.proofFile });
    await waitFor('the agent polling', () => (h.server.calls('PollHostCommand').length > 0 ? true : undefined), {
      timeoutMs: 20_000,
      details: started.out,
    });
    const before = await cli(['--config_file', h.configFile, 'status', '--json']);
    expect(before.code, before.stderr).toBe(0);
    expect(JSON.parse(before.stdout)).toMatchObject({ running: true, pid: started.child.pid });
    const after = await cli(['status', `--config-file=${h.configFile}`]);
    expect(after.code).toBe(0);
    const same = await cli([`--config_file=${h.configFile}`, 'status', '--config_file', h.configFile]);
    expect(same.code).toBe(0);
    const conflict = await cli(['--config_file', h.configFile, 'status', '--config_file', '/etc/other.yml']);
    expect(conflict.code).toBe(2);
    expect(conflict.stderr).toContain('--config_file is given twice with different files');
    const stopped = await cli(['--config_file', h.configFile, 'stop']);
    expect(stopped.code, stopped.stderr).toBe(0);
    expect(await started.done).toBe(0);
  });

  it('stop: SIGTERM to the agent holding the host lock, waits for its exit, says what it does', async () => {
    const h = await host();
    h.start();
    const pid = await running(h);
    const r = await cli(['stop', '--config_file', h.configFile]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`Stopping codedeploy-agent (pid ${pid}): sent SIGTERM`);
    expect(r.stdout).toMatch(new RegExp(`Stopped codedeploy-agent \\(pid ${pid}\\) after \\d+ s`));
    // stop returns only once the agent is gone: its exit status is already there.
    expect(h.agent?.exitCode ?? (await exitOf(h.agent!))).toBe(0);
    expect(existsSync(pidFile(h))).toBe(false);
    expect(await readFile(join(h.logDir, 'codedeploy-agent.log'), 'utf8')).toMatch(/Stopping \(SIGTERM\)/);
  });

  it('stop with nothing running exits 0, and never signals a process that reused the pid', async () => {
    const h = await host();
    const none = await cli(['stop', '--config_file', h.configFile]);
    expect(none).toMatchObject({ code: 0, stdout: 'Nothing running that could be stopped\n' });

    // A crashed agent's pid file naming a live process that is not the agent.
    h.start();
    await running(h);
    await h.stop('SIGKILL');
    const bystander = spawn('sleep', ['30'], { stdio: 'ignore' });
    children.push(bystander);
    await writeFile(pidFile(h), `${bystander.pid}`);
    const r = await cli(['stop', '--config_file', h.configFile]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Nothing running that could be stopped');
    expect(r.stdout).toContain(`names pid ${bystander.pid}, which is not the agent`);
    expect(bystander.exitCode).toBeNull();
    expect(bystander.signalCode).toBeNull();
  });

  it('stop --timeout: exits 1 with a message while the agent still waits for a hook; the agent finishes on its own', async () => {
    const h = await host();
    h.start();
    await running(h);
    await hookRunning(h);
    const r = await cli(['stop', '--timeout', '1', '--config_file', h.configFile]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/running deployments get up to 30 s to finish \(deployment d-STOP00001 \(group dg-stop\): BeforeInstall/);
    expect(r.stderr).toMatch(/is still running 1 s after SIGTERM/);
    expect(h.agent?.exitCode).toBeNull();
    await writeFile(`${h.proofFile}.release`, '');
    expect(await exitOf(h.agent!)).toBe(0);
    const done = await h.waitForComplete('hc-before');
    expect((done.body as { CommandStatus: string }).CommandStatus).toBe('Succeeded');
  });

  it('restart refuses while a lifecycle event runs; --force stops the agent and runs a new one in the foreground', async () => {
    const h = await host();
    h.start();
    const oldPid = await running(h);
    await hookRunning(h);
    const refused = await cli(['restart', '--config_file', h.configFile]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(
      `codedeploy-agent (pid ${oldPid}) will not be shut down right now, as a deployment is already in progress (deployment d-STOP00001 (group dg-stop): BeforeInstall, script scripts/hook.sh)`,
    );
    expect(h.agent?.exitCode).toBeNull();

    const restart = background(['restart', '--force', '--config_file', h.configFile], { PROOF_FILE: h.proofFile });
    await waitFor('restart to signal the old agent', () => (restart.out().includes('sent SIGTERM') ? true : undefined), {
      timeoutMs: 20_000,
      details: restart.out,
    });
    await writeFile(`${h.proofFile}.release`, '');
    expect(await exitOf(h.agent!)).toBe(0);
    await waitFor(
      'the new agent',
      async () => ((await readFile(pidFile(h), 'utf8').catch(() => '')) === String(restart.child.pid) ? true : undefined),
      { timeoutMs: 20_000, details: restart.out },
    );
    expect(restart.out()).toContain('Starting codedeploy-agent in the foreground');
    const status = await cli(['status', '--json', '--config_file', h.configFile]);
    expect(JSON.parse(status.stdout)).toMatchObject({ running: true, pid: restart.child.pid });
    restart.child.kill('SIGTERM');
    expect(await restart.done).toBe(0);
  });

  it('under systemd (INVOCATION_ID, a .service cgroup) stop and restart point at systemctl; --force stops anyway', async () => {
    const h = await host();
    h.start({ INVOCATION_ID: '0123456789abcdef0123456789abcdef' });
    const pid = await running(h);
    for (const verb of ['stop', 'restart']) {
      const r = await cli([verb, '--config_file', h.configFile]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(
        `codedeploy-agent (pid ${pid}) runs under systemd as codedeploy-agent.service: use "sudo systemctl ${verb} codedeploy-agent"`,
      );
    }
    expect(h.agent?.exitCode).toBeNull();
    const forced = await cli(['stop', '--force', '--config_file', h.configFile]);
    expect(forced.code, forced.stderr).toBe(0);
    expect(await exitOf(h.agent!)).toBe(0);
  });

  it('rejects bad options with usage (exit 2), and --help works for stop and restart', async () => {
    expect(await cli(['stop', '--timeout', 'soon'])).toMatchObject({ code: 2 });
    expect((await cli(['stop', '--timeout', 'soon'])).stderr).toContain('--timeout needs a whole number of seconds');
    expect(await cli(['restart', '--bogus'])).toMatchObject({ code: 2 });
    const help = await cli(['stop', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: codedeploy-agent stop');
    expect((await cli(['restart', '-h'])).stdout).toContain('will not be shut down');
    const top = await cli(['--help']);
    for (const word of [
      'stop',
      'restart',
      'AWS_REGION',
      'AWS_HOST_IDENTIFIER',
      'AWS_CA_BUNDLE',
      'NOTIFY_SOCKET',
      'HTTPS_PROXY',
      'NODE_OPTIONS',
    ])
      expect(top.stdout).toContain(word);
    expect((await cli(['start', '--help'])).stdout).toContain('78  configuration error');
    expect(await cli(['--config_file', '/x.yml', 'validate', '.'])).toMatchObject({ code: 2 });
  });
});

describe.skipIf(!existsSync(AGENT_CLI))('codedeploy-agent start: exit codes, .version, sd_notify', () => {
  const start = async (h: DaemonHost): Promise<Run> => cli(['start', '--config_file', h.configFile], { PROOF_FILE: h.proofFile });

  it('exits 78 (EX_CONFIG) on configuration errors and 1 on transient ones', async () => {
    const cases: Array<[string, string[], RegExp]> = [
      ['an invalid value', [':kill_agent_max_wait_time_seconds: -5'], /kill_agent_max_wait_time_seconds/],
      ['a :user: that does not exist', [':user: cda-no-such-user'], /The system user does not exist: cda-no-such-user/],
      [
        'an unreadable :deployment_spec_ca_file:',
        [':deployment_spec_ca_file: /nonexistent/ca.pem'],
        /deployment_spec_ca_file: \/nonexistent\/ca.pem .*cannot be read \(ENOENT\)/,
      ],
    ];
    for (const [what, extra, message] of cases) {
      const h = await host({ extraConfig: extra });
      const r = await start(h);
      expect(r.code, `${what}: ${r.stderr}`).toBe(78);
      expect(r.stderr, what).toMatch(message);
    }
    const missing = await cli(['start', '--config_file', '/nonexistent/codedeployagent.yml']);
    expect(missing.code).toBe(78);
    expect(missing.stderr).toContain('The config file /nonexistent/codedeployagent.yml does not exist or is not readable');

    // log_dir under a regular file: no retry fixes that.
    const h = await host();
    await writeFile(join(h.root, 'a-file'), '');
    const conf = join(h.root, 'bad-log.yml');
    await writeFile(conf, `${await readFile(h.configFile, 'utf8')}:log_dir: ${join(h.root, 'a-file', 'log')}\n`);
    const logRun = await cli(['start', '--config_file', conf]);
    expect(logRun.code, logRun.stderr).toBe(78);
    expect(logRun.stderr).toContain('cannot write the log directory');

    // No identity yet (no on-premises file, no instance metadata): transient, systemd retries.
    const noId = await host({ extraConfig: [`:on_premises_config_file: /nonexistent/onprem.yml`] });
    const id = await start(noId);
    expect(id.code, id.stderr).toBe(1);
    expect(id.stderr).toContain('Cannot determine the host identity');
  });

  it('exits 1 when another agent holds the host lock (it will be gone after a restart or two)', async () => {
    const h = await host();
    h.start();
    await running(h);
    const second = await start(h);
    expect(second.code).toBe(1);
    expect(second.stderr).toContain('another codedeploy-agent is already running');
  });

  it('writes <root_dir>/../.version at start when missing or stale, keeping the install flavour', async () => {
    const h = await host();
    const file = join(h.root, '.version');
    h.start();
    await running(h);
    expect(await readFile(file, 'utf8')).toBe(`agent_version: TS_${VERSION}_npm\n`);
    expect((await stat(file)).mode & 0o777).toBe(0o644);
    await h.stop();

    await writeFile(file, 'agent_version: TS_0.0.1_deb\n');
    h.start();
    await running(h);
    expect(await readFile(file, 'utf8')).toBe(`agent_version: TS_${VERSION}_deb\n`);
    const before = (await stat(file)).mtimeMs;
    await h.stop();

    h.start();
    await running(h);
    expect((await stat(file)).mtimeMs).toBe(before);
    await h.stop();
  });

  it.skipIf(!loadNodeFfi())(
    `sends its sd_notify datagrams from the agent process itself, with no ExperimentalWarning on stderr${loadNodeFfi() ? '' : ` (skipped: ${process.version} has no node:ffi)`}`,
    async () => {
      const sock = await notifySocket();
      const h = await host();
      h.start({ NOTIFY_SOCKET: sock.path });
      const pid = await running(h);
      await expect
        .poll(() => sock.received().map((d) => d.message), { timeout: 15_000 })
        .toContain('READY=1\nSTATUS=idle: polling for commands');
      expect(await h.stop('SIGTERM')).toBe(0);
      const received = sock.received();
      expect(received.some((d) => d.message.includes('STOPPING=1'))).toBe(true);
      expect(received.every((d) => d.pid === pid)).toBe(true);
      expect(h.stderr()).not.toContain('ExperimentalWarning');
    },
  );
});
