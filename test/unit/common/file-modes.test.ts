/**
 * Modes of what the log writers create, whatever the umask (docs/design.md section 8): the umask is
 * process-wide, and vitest runs each test file in its own forked process (pool "forks"), so the
 * tests set it with process.umask and put it back.
 */
import { chmod, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createFileAgentLog, createRotatingAgentLog } from '../../../agent/log/agent-logger.js';
import { createDeploymentsLog } from '../../../agent/log/deployments-log.js';
import { makeDirs, openAppendFile } from '../../../common/file-modes.js';
import { createScriptLogWriter } from '../../../agent/log/scripts-log.js';
import { tempDir } from '../../helpers/temp.js';

async function mode(path: string): Promise<string> {
  return ((await stat(path)).mode & 0o7777).toString(8).padStart(4, '0');
}

async function withUmask<T>(mask: number, fn: () => Promise<T>): Promise<T> {
  const old = process.umask(mask);
  try {
    return await fn();
  } finally {
    process.umask(old);
  }
}

describe.each([0o000, 0o077, 0o022])('under umask %o', (mask) => {
  it('rotated agent log files are 0640 and their new directories 0750', async () => {
    const dir = await tempDir();
    const file = join(dir, 'var', 'log', 'codedeploy-agent.log');
    await withUmask(mask, async () => {
      const log = createRotatingAgentLog({ file, rotation: { maxBytes: 4096, keep: 4 } });
      for (let i = 0; i < 400; i++) log.logger.info({ i }, `line ${i} ${'x'.repeat(60)}`);
      await log.close();
    });
    const files = (await readdir(join(dir, 'var', 'log'))).sort();
    expect(files).toEqual(['codedeploy-agent.log', 'codedeploy-agent.log.0', 'codedeploy-agent.log.1', 'codedeploy-agent.log.2']);
    for (const f of files) expect(await mode(join(dir, 'var', 'log', f))).toBe('0640');
    expect(await mode(join(dir, 'var', 'log'))).toBe('0750');
    expect(await mode(join(dir, 'var'))).toBe('0750');
  });

  it('rotated deployments logs and scripts.log are 0640, their directories 0750', async () => {
    const dir = await tempDir();
    const path = join(dir, 'deployment-logs', 'codedeploy-agent-deployments.log');
    const scriptsLogPath = join(dir, 'dg', 'd-1', 'logs', 'scripts.log');
    await withUmask(mask, async () => {
      const deploymentsLog = createDeploymentsLog({ path, maxBytes: 2048, keep: 3 });
      const log = createScriptLogWriter({ scriptsLogPath, deploymentId: 'd-1', deploymentsLog });
      log.lifecycleEvent('BeforeInstall');
      for (let i = 0; i < 200; i++) log.output('stdout', `secret output line ${i}\n`);
      await log.close();
      await deploymentsLog.close();
    });
    expect((await readdir(join(dir, 'deployment-logs'))).sort()).toEqual([
      'codedeploy-agent-deployments.log',
      'codedeploy-agent-deployments.log.0',
      'codedeploy-agent-deployments.log.1',
    ]);
    for (const f of await readdir(join(dir, 'deployment-logs'))) expect(await mode(join(dir, 'deployment-logs', f))).toBe('0640');
    expect(await mode(scriptsLogPath)).toBe('0640');
    for (const d of ['deployment-logs', 'dg', 'dg/d-1', 'dg/d-1/logs']) expect(await mode(join(dir, d))).toBe('0750');
  });

  it('a log with keep 1 is truncated in place and stays 0640', async () => {
    const dir = await tempDir();
    const file = join(dir, 'one.log');
    await withUmask(mask, async () => {
      const log = createRotatingAgentLog({ file, rotation: { maxBytes: 1024, keep: 1 } });
      for (let i = 0; i < 100; i++) log.logger.info(`line ${i} ${'y'.repeat(40)}`);
      await log.close();
    });
    expect(await readdir(dir)).toEqual(['one.log']);
    expect((await stat(file)).size).toBeLessThanOrEqual(1024);
    expect(await mode(file)).toBe('0640');
  });

  it('makeDirs forces the leaf and parent modes of what it creates', async () => {
    const dir = await tempDir();
    await withUmask(mask, () => makeDirs(join(dir, 'a', 'b', 'root'), { mode: 0o700 }));
    expect(await mode(join(dir, 'a'))).toBe('0750');
    expect(await mode(join(dir, 'a', 'b'))).toBe('0750');
    expect(await mode(join(dir, 'a', 'b', 'root'))).toBe('0700');
  });
});

describe('existing files and directories keep their modes', () => {
  it('makeDirs and openAppendFile leave what exists alone', async () => {
    const dir = await tempDir();
    await chmod(dir, 0o755);
    await makeDirs(dir, { mode: 0o700 });
    expect(await mode(dir)).toBe('0755');
    const file = join(dir, 'kept.log');
    await writeFile(file, 'old\n', { mode: 0o600 });
    await chmod(file, 0o600);
    const handle = await openAppendFile(file);
    await handle.write('new\n');
    await handle.close();
    expect(await mode(file)).toBe('0600');
  });

  it('createFileAgentLog appends to an existing log without changing it', async () => {
    const dir = await tempDir();
    const file = join(dir, 'codedeploy-local.log');
    await writeFile(file, '{"old":true}\n');
    await chmod(file, 0o644);
    const log = createFileAgentLog({ file, name: 'codedeploy-local', format: 'json' });
    log.logger.info('appended');
    await log.close();
    expect(await mode(file)).toBe('0644');
    const { readFile } = await import('node:fs/promises');
    const lines = (await readFile(file, 'utf8')).trim().split('\n');
    expect(lines[0]).toBe('{"old":true}');
    expect(JSON.parse(lines[1] as string)).toMatchObject({ name: 'codedeploy-local', msg: 'appended' });
  });
});
