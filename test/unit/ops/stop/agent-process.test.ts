import { mkdir, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { deploymentInProgress, serviceFromCgroup, systemctlCommand, systemdServiceOf } from '../../../../agent/ops/stop/agent-process.js';
import { tempDir } from '../../../helpers/temp.js';

describe('serviceFromCgroup', () => {
  it('finds the unit in the unified (v2) and the named systemd (v1) hierarchy', () => {
    expect(serviceFromCgroup('0::/system.slice/codedeploy-agent.service\n')).toEqual({ unit: 'codedeploy-agent.service', user: false });
    expect(serviceFromCgroup('12:memory:/x\n1:name=systemd:/system.slice/cda.service\n0::/\n')).toEqual({
      unit: 'cda.service',
      user: false,
    });
    expect(serviceFromCgroup('0::/user.slice/user-1000.slice/user@1000.service/app.slice/cda.service')).toEqual({
      unit: 'cda.service',
      user: true,
    });
  });

  it('is undefined outside a service: a login session, a container, the root', () => {
    expect(serviceFromCgroup('0::/user.slice/user-0.slice/session-3.scope')).toBeUndefined();
    expect(serviceFromCgroup('0::/\n')).toBeUndefined();
    expect(serviceFromCgroup('4:memory:/process_api/abc.service\n0::/')).toBeUndefined();
    expect(serviceFromCgroup('')).toBeUndefined();
  });

  it('says which systemctl command to use', () => {
    expect(systemctlCommand('stop', { unit: 'codedeploy-agent.service', user: false })).toBe('sudo systemctl stop codedeploy-agent');
    expect(systemctlCommand('restart', { unit: 'cda.service', user: true })).toBe('systemctl --user restart cda');
  });
});

describe('systemdServiceOf', () => {
  async function proc(pid: number, files: Record<string, string>): Promise<string> {
    const root = await tempDir('cda-proc-');
    await mkdir(join(root, String(pid)));
    for (const [name, text] of Object.entries(files)) await writeFile(join(root, String(pid), name), text);
    return root;
  }

  it('is the unit when the process is its main process (or systemctl cannot tell), not when it is a child', async () => {
    const procRoot = await proc(42, { cgroup: '0::/system.slice/codedeploy-agent.service\n' });
    const unit = { unit: 'codedeploy-agent.service', user: false };
    expect(await systemdServiceOf(42, 'codedeploy-agent', { procRoot, mainPid: () => Promise.resolve(42) })).toEqual(unit);
    expect(await systemdServiceOf(42, 'codedeploy-agent', { procRoot, mainPid: () => Promise.resolve(undefined) })).toEqual(unit);
    expect(await systemdServiceOf(42, 'codedeploy-agent', { procRoot, mainPid: () => Promise.resolve(7) })).toBeUndefined();
  });

  it('falls back to INVOCATION_ID in the environment', async () => {
    const withId = await proc(42, { cgroup: '0::/\n', environ: 'PATH=/bin\0INVOCATION_ID=abc\0' });
    expect(await systemdServiceOf(42, 'cda', { procRoot: withId })).toEqual({ unit: 'cda.service', user: false });
    const without = await proc(42, { cgroup: '0::/\n', environ: 'PATH=/bin\0INVOCATION_ID=\0' });
    expect(await systemdServiceOf(42, 'cda', { procRoot: without })).toBeUndefined();
  });
});

describe('deploymentInProgress', () => {
  it('reads the status file of that process, else fresh tracking files', async () => {
    const root = await tempDir('cda-busy-');
    const config = {
      pidDir: join(root, 'state'),
      programName: 'codedeploy-agent',
      rootDir: join(root, 'dr'),
      ongoingDeploymentTracking: 'ongoing-deployment',
    };
    await mkdir(config.pidDir, { recursive: true });
    await mkdir(join(config.rootDir, 'ongoing-deployment'), { recursive: true });
    expect(await deploymentInProgress(config, 42)).toBeUndefined();

    const status = {
      schemaVersion: 1,
      state: 'running',
      pid: 42,
      startedAt: '2024-01-01T00:00:00.000Z',
      updatedAt: '2024-01-01T00:00:00.000Z',
      stoppedAt: null,
      version: '0.1.0',
      identityKind: 'on-premises',
      hostIdentifier: 'h',
      region: 'us-east-1',
      endpoint: 'https://x',
      commands: [
        {
          deploymentId: 'd-1',
          deploymentGroupId: 'g',
          commandName: 'AfterInstall',
          startedAt: '2024-01-01T00:00:00.000Z',
          event: 'AfterInstall',
          script: 's.sh',
          scriptStartedAt: null,
        },
      ],
      recent: [],
    };
    await writeFile(join(config.pidDir, 'codedeploy-agent.status.json'), JSON.stringify(status));
    expect(await deploymentInProgress(config, 42)).toBe('deployment d-1 (group g): AfterInstall, script s.sh');
    // Another process's status file says nothing about pid 43.
    expect(await deploymentInProgress(config, 43)).toBeUndefined();

    const tracking = join(config.rootDir, 'ongoing-deployment', 'd-2');
    await writeFile(tracking, 'hc-1');
    expect(await deploymentInProgress(config, 43)).toContain('1 command(s) in flight');
    const old = new Date(Date.now() - 25 * 3600 * 1000);
    await utimes(tracking, old, old);
    expect(await deploymentInProgress(config, 43)).toBeUndefined();
  });
});
