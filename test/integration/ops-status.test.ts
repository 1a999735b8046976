/**
 * `codedeploy-agent status` against the real daemon: during a running hook it shows the
 * deployment, event, script and elapsed time (text and --json); after a deployment, its result;
 * after a clean stop exit 3; after kill -9 a stale pid file.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AGENT_CLI, HOST_ARN, localSpec, type DaemonHost } from '../helpers/daemon-host.js';
import { daemonHost } from '../helpers/daemon-hosts.js';
import { runNode, type ProgramRun } from '../helpers/run-node.js';
import { waitFor } from '../helpers/wait-for.js';

const EXEC = (d: string) => `CodeDeploy/us-east-1/Prod/arn:aws:sds:us-east-1:123456789012:deployment/${d}`;

async function bundle(root: string, name: string, script: string): Promise<string> {
  const dir = join(root, name);
  await mkdir(join(dir, 'scripts'), { recursive: true });
  await writeFile(
    join(dir, 'appspec.yml'),
    'version: 0.0\nos: linux\nhooks:\n  BeforeInstall:\n    - location: scripts/step.sh\n      timeout: 60\n  ApplicationStart:\n    - location: scripts/step.sh\n      timeout: 60\n',
  );
  await writeFile(join(dir, 'scripts', 'step.sh'), script, { mode: 0o755 });
  return dir;
}

interface StatusJson {
  running: boolean;
  state: string;
  pid: number | null;
  uptimeSeconds: number | null;
  version: string | null;
  identity: { kind: string; hostIdentifier: string; region: string } | null;
  endpoint: string | null;
  currentCommands: Array<{
    deploymentId: string;
    deploymentGroupId: string;
    command: string;
    event: string | null;
    script: string | null;
    elapsedSeconds: number;
    scriptElapsedSeconds: number | null;
  }>;
  deployments: Array<{
    deploymentGroupId: string;
    deploymentId: string;
    result: string;
    lastCommand: string | null;
    failedScript: string | null;
    errorCode: number | null;
  }>;
  notes: string[];
}

function status(h: DaemonHost, json: boolean): Promise<ProgramRun> {
  return runNode(AGENT_CLI, ['status', '--config_file', h.configFile, ...(json ? ['--json'] : [])]);
}

async function statusJson(h: DaemonHost): Promise<{ code: number | null; s: StatusJson }> {
  const { code, stdout, stderr } = await status(h, true);
  expect(stderr).toBe('');
  return { code, s: JSON.parse(stdout) as StatusJson };
}

// Each check runs the status command; a failed assertion inside one ends the wait at once.
const WAIT = { timeoutMs: 20_000 };

describe.skipIf(!existsSync(AGENT_CLI))('codedeploy-agent status', () => {
  it('shows the running hook, then the result, then not running (exit 3) after a stop', async () => {
    const h = await daemonHost();
    // The hook runs until the test releases it, so a slow machine cannot end it before status looks.
    const release = join(h.root, 'release-hook');
    const src = await bundle(
      h.root,
      'slow',
      `#!/bin/sh\necho "working on $LIFECYCLE_EVENT"\ni=0\nwhile [ ! -e ${release} ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done\n`,
    );
    h.specs.set(EXEC('d-STAT00001'), localSpec('d-STAT00001', 'dg-status', src));
    h.start();
    await h.deploy(EXEC('d-STAT00001'), ['DownloadBundle']);

    const pending = h.deploy(EXEC('d-STAT00001'), ['BeforeInstall']);
    const during = await waitFor(
      'the running script in status',
      async () => {
        const { code, s } = await statusJson(h);
        return code === 0 && s.currentCommands[0]?.script ? s : undefined;
      },
      WAIT,
    );
    expect(Object.keys(during)).toEqual([
      'running',
      'state',
      'pid',
      'pidFile',
      'statusFile',
      'startedAt',
      'uptimeSeconds',
      'version',
      'identity',
      'endpoint',
      'currentCommands',
      'deployments',
      'deploymentsReadable',
      'notes',
    ]);
    expect(during).toMatchObject({
      running: true,
      state: 'running',
      pid: h.agent?.pid,
      identity: { kind: 'on-premises', hostIdentifier: HOST_ARN, region: 'us-east-1' },
      endpoint: h.server.url,
    });
    expect(during.currentCommands).toEqual([
      expect.objectContaining({
        deploymentId: 'd-STAT00001',
        deploymentGroupId: 'dg-status',
        command: 'BeforeInstall',
        event: 'BeforeInstall',
        script: 'scripts/step.sh',
      }),
    ]);
    expect(during.deployments[0]).toMatchObject({ deploymentId: 'd-STAT00001', result: 'InProgress', lastCommand: 'BeforeInstall' });

    await new Promise((r) => setTimeout(r, 1200));
    const later = await status(h, false);
    expect(later.code).toBe(0);
    expect(later.stdout).toMatch(new RegExp(`^codedeploy-agent: running \\(pid ${h.agent?.pid}, up \\d+s, version [^)]+\\)$`, 'm'));
    expect(later.stdout).toContain(`  identity  on-premises ${HOST_ARN}`);
    expect(later.stdout).toContain(`  endpoint  ${h.server.url}`);
    expect(later.stdout).toMatch(/^ {2}command {3}d-STAT00001 \(group dg-status\) BeforeInstall: scripts\/step\.sh, running [1-9]\d*s$/m);
    await writeFile(release, '');

    expect((await pending)[0]?.body).toMatchObject({ CommandStatus: 'Succeeded' });
    const after = await waitFor(
      'the command to end',
      async () => {
        const { s } = await statusJson(h);
        return s.currentCommands.length === 0 ? s : undefined;
      },
      WAIT,
    );
    expect(after.deployments[0]).toMatchObject({ deploymentId: 'd-STAT00001', result: 'Succeeded', lastCommand: 'BeforeInstall' });
    expect((await status(h, false)).stdout).toContain('command   none (polling for commands)');

    // The status file is readable by anyone and holds no secret.
    const statusFile = join(h.root, 'state', 'codedeploy-agent.status.json');
    expect((await stat(statusFile)).mode & 0o777).toBe(0o644);
    expect(await readFile(statusFile, 'utf8')).not.toContain('test/Secret');

    expect(await h.stop()).toBe(0);
    const stopped = await statusJson(h);
    expect(stopped.code).toBe(3);
    expect(stopped.s).toMatchObject({ running: false, state: 'not-running', pid: null, currentCommands: [] });
    expect(stopped.s.deployments[0]).toMatchObject({ deploymentId: 'd-STAT00001', result: 'Succeeded' });
    const text = await status(h, false);
    expect(text.code).toBe(3);
    expect(text.stdout.split('\n')[0]).toBe('codedeploy-agent: not running');
    expect(JSON.parse(await readFile(statusFile, 'utf8'))).toMatchObject({ state: 'stopped' });
  }, 60_000);

  it('reports a failed deployment with its script, and a stale pid file after kill -9', async () => {
    const h = await daemonHost();
    const src = await bundle(h.root, 'failing', '#!/bin/sh\necho broken >&2\nexit 3\n');
    h.specs.set(EXEC('d-STATFAIL1'), localSpec('d-STATFAIL1', 'dg-status', src));
    h.start();
    await h.deploy(EXEC('d-STATFAIL1'), ['DownloadBundle', 'BeforeInstall']);
    const { s } = await waitFor(
      'the failure in status',
      async () => {
        const r = await statusJson(h);
        return r.s.deployments[0]?.result === 'Failed' ? r : undefined;
      },
      WAIT,
    );
    expect(s.deployments[0]).toMatchObject({
      deploymentId: 'd-STATFAIL1',
      result: 'Failed',
      lastCommand: 'BeforeInstall',
      failedScript: 'scripts/step.sh',
      errorCode: 4,
    });
    expect((await status(h, false)).stdout).toContain(
      '      scripts/step.sh: Script at specified location: scripts/step.sh failed with exit code 3 (error code 4)',
    );

    const pid = h.agent?.pid;
    await h.stop('SIGKILL');
    const stale = await statusJson(h);
    expect(stale.code).toBe(3);
    expect(stale.s).toMatchObject({ running: false, state: 'stale-pid', pid });
    expect(stale.s.notes[0]).toContain(`process ${pid} does not exist`);
    expect((await status(h, false)).stdout.split('\n')[0]).toBe(
      `codedeploy-agent: not running (stale pid file ${join(h.root, 'state', 'codedeploy-agent.pid')}, pid ${pid})`,
    );
  }, 60_000);
});
