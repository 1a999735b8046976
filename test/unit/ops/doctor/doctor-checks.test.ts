import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultConfigValues } from '../../../../agent/config/agent-config.js';
import { checkConfig, findExecutable } from '../../../../agent/ops/doctor/doctor-checks.js';
import { tempDir } from '../../../helpers/temp.js';

describe('doctor config check', () => {
  it('fails an invalid config and hands the default values to the other checks', async () => {
    const file = join(await tempDir(), 'codedeployagent.yml');
    await writeFile(file, ':max_revisions: 0\n');
    const { result, config } = await checkConfig(file);
    expect(result.status).toBe('fail');
    expect(result.detail).toBe(
      `An error occurred loading the CodeDeploy agent config file at ${file}. Error message: Invalid configuration :max_revision=0 (the other checks use the default values)`,
    );
    expect(config.rootDir).toBe(defaultConfigValues().rootDir);
  });

  it('fails a missing config with how to get one, and warns about unknown keys', async () => {
    const dir = await tempDir();
    const missing = await checkConfig(join(dir, 'absent.yml'));
    expect(missing.result).toMatchObject({ status: 'fail', hint: expect.stringContaining('--config_file') });
    await writeFile(join(dir, 'c.yml'), `:root_dir: ${dir}\n:no_such_key: 1\n`);
    const unknown = await checkConfig(join(dir, 'c.yml'));
    expect(unknown.result).toMatchObject({ status: 'warn', detail: expect.stringContaining('Unknown configuration key :no_such_key:') });
    expect(unknown.config.rootDir).toBe(dir);
  });
});

describe('findExecutable', () => {
  it('finds an executable file on PATH and skips non-executables and directories', async () => {
    const dir = await tempDir();
    await mkdir(join(dir, 'bin', 'dironly'), { recursive: true });
    await writeFile(join(dir, 'bin', 'mytool'), '#!/bin/sh\n');
    await chmod(join(dir, 'bin', 'mytool'), 0o755);
    await writeFile(join(dir, 'bin', 'plain'), 'x');
    expect(await findExecutable('mytool', join(dir, 'bin'))).toBe(join(dir, 'bin', 'mytool'));
    expect(await findExecutable('dironly', join(dir, 'bin'))).toBeUndefined();
    expect(await findExecutable('plain', join(dir, 'bin'))).toBeUndefined();
    expect(await findExecutable('no-such-tool-xyz', join(dir, 'bin'))).toBeUndefined();
  });
});
