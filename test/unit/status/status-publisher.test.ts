import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createStatusPublisher } from '../../../agent/status/status-publisher.js';
import { parseStatus, readStatusFile, type DaemonStatus } from '../../../agent/status/status-file.js';
import { captureLogger, silentLogger, tempDir } from '../../helpers/temp.js';

const INFO = {
  version: '0.1.0',
  identityKind: 'on-premises',
  hostIdentifier: 'arn:aws:iam::1:user/h',
  region: 'us-east-1',
  endpoint: 'https://ep',
};

async function read(file: string): Promise<DaemonStatus> {
  const r = await readStatusFile(file);
  if (r.kind !== 'ok') throw new Error(`status file: ${r.kind}`);
  return r.status;
}

const cmd = { deploymentId: 'd-1', deploymentGroupId: 'dg-1', commandName: 'BeforeInstall' };

describe('status publisher', () => {
  it('writes the start info, the running command and script, then the outcome; 0644; nothing secret', async () => {
    const file = join(await tempDir(), 'state', 'codedeploy-agent.status.json');
    const p = await createStatusPublisher({ file, logger: silentLogger(), ...INFO, pid: 1234, minIntervalMs: 10 });
    await p.flush();
    const first = await read(file);
    expect(first).toMatchObject({
      state: 'running',
      pid: 1234,
      version: '0.1.0',
      hostIdentifier: INFO.hostIdentifier,
      region: 'us-east-1',
      endpoint: 'https://ep',
      commands: [],
      recent: [],
    });
    expect((await stat(file)).mode & 0o777).toBe(0o644);

    p.commandStarted(cmd);
    p.hookScript({ ...cmd, event: 'BeforeInstall', script: 'scripts/a.sh', phase: 'start' });
    await p.flush();
    const running = await read(file);
    expect(running.commands).toEqual([
      expect.objectContaining({ deploymentId: 'd-1', commandName: 'BeforeInstall', event: 'BeforeInstall', script: 'scripts/a.sh' }),
    ]);
    expect(running.commands[0]?.scriptStartedAt).toMatch(/^\d{4}-/);

    p.hookScript({ ...cmd, event: 'BeforeInstall', script: 'scripts/a.sh', phase: 'end' });
    p.commandEnded(cmd, {
      status: 'Failed',
      diagnostics: { error_code: 4, script_name: 'scripts/a.sh', message: 'failed with exit code 3', log: 'SECRET-TAIL' },
    });
    await p.flush();
    const done = await read(file);
    expect(done.commands).toEqual([]);
    expect(done.recent).toEqual([
      expect.objectContaining({
        deploymentId: 'd-1',
        status: 'Failed',
        errorCode: 4,
        scriptName: 'scripts/a.sh',
        message: 'failed with exit code 3',
      }),
    ]);
    expect(await readFile(file, 'utf8')).not.toContain('SECRET-TAIL');

    await p.stop();
    expect(await read(file)).toMatchObject({
      state: 'stopped',
      stoppedAt: expect.any(String),
      recent: [expect.objectContaining({ deploymentId: 'd-1' })],
    });
  });

  it('coalesces bursts of changes into few writes', async () => {
    const file = join(await tempDir(), 'status.json');
    // now() is read once per event that starts something and once per write (updatedAt).
    let calls = 0;
    const now = (): Date => {
      calls += 1;
      return new Date();
    };
    const p = await createStatusPublisher({ file, logger: silentLogger(), ...INFO, minIntervalMs: 200, now });
    await p.flush();
    const before = calls; // startedAt + the first write
    expect(before).toBe(2);
    p.commandStarted(cmd);
    for (let i = 0; i < 500; i++)
      p.hookScript({ ...cmd, event: 'BeforeInstall', script: `s${i}.sh`, phase: i % 2 === 0 ? 'start' : 'end' });
    await new Promise((r) => setTimeout(r, 500));
    await p.flush();
    const writes = calls - before - 1 - 250;
    expect(writes).toBeGreaterThanOrEqual(1);
    expect(writes).toBeLessThanOrEqual(2);
    expect((await read(file)).commands[0]?.script).toBeNull(); // the last event was an "end"
  });

  it('carries the previous history over and fails the commands a crashed run left running (code 7)', async () => {
    const file = join(await tempDir(), 'status.json');
    const crashed = await createStatusPublisher({ file, logger: silentLogger(), ...INFO, pid: 111, minIntervalMs: 0 });
    crashed.commandStarted({ deploymentId: 'd-0', deploymentGroupId: 'dg-1', commandName: 'Install' });
    crashed.commandEnded(
      { deploymentId: 'd-0', deploymentGroupId: 'dg-1', commandName: 'Install' },
      { status: 'Succeeded', diagnostics: { error_code: 0, script_name: '', message: 'Succeeded: ', log: '' } },
    );
    crashed.commandStarted(cmd);
    crashed.hookScript({ ...cmd, event: 'BeforeInstall', script: 'scripts/a.sh', phase: 'start' });
    await crashed.flush(); // no stop(): like kill -9
    const next = await createStatusPublisher({ file, logger: silentLogger(), ...INFO, pid: 222, minIntervalMs: 0 });
    await next.flush();
    const status = await read(file);
    expect(status.pid).toBe(222);
    expect(status.recent.map((r) => [r.deploymentId, r.status, r.errorCode, r.scriptName])).toEqual([
      ['d-0', 'Succeeded', 0, ''],
      ['d-1', 'Failed', 7, 'scripts/a.sh'],
    ]);
    expect(status.recent[1]?.message).toBe('Failed: Failing in-progress lifecycle event after an agent restart.');
  });

  it('logs one warning when it cannot write, and never throws into the caller', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'not-a-dir'), 'x');
    const { logger, lines } = captureLogger();
    const p = await createStatusPublisher({ file: join(dir, 'not-a-dir', 'status.json'), logger, ...INFO, minIntervalMs: 0 });
    p.commandStarted(cmd);
    await p.flush();
    p.commandEnded(cmd, undefined);
    await p.stop();
    expect(lines().filter((l) => String(l.msg).includes('Cannot write the status file'))).toHaveLength(1);
  });

  it('rejects files that are not a status file', () => {
    expect(parseStatus('{}')).toBeUndefined();
    expect(parseStatus('not json')).toBeUndefined();
    expect(
      parseStatus(
        JSON.stringify({
          schemaVersion: 1,
          state: 'running',
          pid: 1,
          startedAt: 'a',
          updatedAt: 'b',
          commands: [{ bad: true }],
          recent: 'x',
        }),
      ),
    ).toMatchObject({ commands: [], recent: [] });
  });

  it("carries the running download's progress, writes it at most once per progressIntervalMs, and clears it when done", async () => {
    const file = join(await tempDir(), 'codedeploy-agent.status.json');
    const p = await createStatusPublisher({ file, logger: silentLogger(), ...INFO, pid: 1234, minIntervalMs: 10, progressIntervalMs: 400 });
    const dl = { deploymentId: 'd-9', deploymentGroupId: 'dg-1', commandName: 'DownloadBundle' };
    p.commandStarted(dl);
    await p.flush();
    const update = (bytes: number) => ({ bytes, totalBytes: 1000, percent: bytes / 10, bytesPerSecond: 50, milestone: false, done: false });
    p.downloadProgress(dl, update(100));
    await p.flush();
    expect((await read(file)).commands[0]?.download).toMatchObject({ bytes: 100, totalBytes: 1000, percent: 10, bytesPerSecond: 50 });
    // A burst of updates right after a write: none is written before the interval is up.
    const before = (await stat(file)).mtimeMs;
    for (let b = 200; b <= 500; b += 100) p.downloadProgress(dl, update(b));
    await new Promise((r) => setTimeout(r, 150));
    expect((await stat(file)).mtimeMs).toBe(before);
    expect((await read(file)).commands[0]?.download?.bytes).toBe(100);
    await new Promise((r) => setTimeout(r, 500));
    expect((await read(file)).commands[0]?.download).toMatchObject({ bytes: 500, percent: 50 });
    p.downloadProgress(dl, { ...update(1000), done: true });
    await p.flush();
    expect((await read(file)).commands[0]?.download).toBeNull();
    // Progress for a command that is not running is ignored.
    p.downloadProgress({ deploymentId: 'd-other' }, update(1));
    await p.flush();
    expect((await read(file)).commands.map((c) => c.deploymentId)).toEqual(['d-9']);
    await p.stop();
  });
});
