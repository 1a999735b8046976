import { mkdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AgentError, ErrorCodes } from '../../../agent/errors.js';
import { assertLogDirWritable } from '../../../agent/log/log-dir.js';
import { tempDir } from '../../helpers/temp.js';

async function failure(p: Promise<void>): Promise<AgentError> {
  const err: unknown = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AgentError);
  return err as AgentError;
}

describe('assertLogDirWritable', () => {
  it('creates a missing log directory 0750 (parents too) and the log file 0640, whatever the umask', async () => {
    const dir = join(await tempDir(), 'var', 'log', 'aws');
    const old = process.umask(0);
    try {
      await assertLogDirWritable(dir, { fileName: 'codedeploy-agent.log' });
    } finally {
      process.umask(old);
    }
    expect((await stat(dir)).mode & 0o7777).toBe(0o750);
    expect((await stat(join(dir, '..'))).mode & 0o7777).toBe(0o750);
    expect((await stat(join(dir, 'codedeploy-agent.log'))).mode & 0o7777).toBe(0o640);
  });

  it('names the directory, the reason and the fix in one line when a parent is a file (ENOTDIR)', async () => {
    const root = await tempDir();
    await writeFile(join(root, 'file'), 'not a directory');
    const dir = join(root, 'file', 'logs');
    const err = await failure(
      assertLogDirWritable(dir, { fileName: 'x.log', configSource: '/etc/codedeploy-agent/conf/codedeployagent.yml' }),
    );
    expect(err.code).toBe(ErrorCodes.CONFIG_INVALID);
    expect(err.message).toBe(
      `cannot write the log directory ${dir}: ENOTDIR (not a directory); fix its owner or mode, or set :log_dir: in /etc/codedeploy-agent/conf/codedeployagent.yml`,
    );
    expect(err.message).not.toContain('\n');
  });

  it('names the log file when the directory is fine but the file cannot be opened', async () => {
    const dir = await tempDir();
    await mkdir(join(dir, 'codedeploy-local.log'));
    const err = await failure(assertLogDirWritable(dir, { fileName: 'codedeploy-local.log' }));
    expect(err.message).toBe(
      `cannot write the log file ${join(dir, 'codedeploy-local.log')}: EISDIR (illegal operation on a directory); fix its owner or mode, or set :log_dir:`,
    );
  });

  it('accepts an existing writable directory and leaves its mode alone', async () => {
    const dir = await tempDir();
    const { chmod } = await import('node:fs/promises');
    await chmod(dir, 0o755);
    await assertLogDirWritable(dir);
    expect((await stat(dir)).mode & 0o7777).toBe(0o755);
  });
});
