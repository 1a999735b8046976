/**
 * codedeploy-agent stop and restart in this process: their options (shared with the other
 * subcommands through parseConfigFileArgs, plus --timeout and --force), usage errors and --help,
 * and stop with no agent running. Stopping a real agent: test/integration/daemon-stop.test.ts.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RESTART_USAGE, runRestart, runStop, STOP_USAGE } from '../../../agent/cli/stop-command.js';
import { tempDir } from '../../helpers/temp.js';

function capture(): { io: { stdout: (s: string) => void; stderr: (s: string) => void }; out: () => { stdout: string; stderr: string } } {
  let stdout = '';
  let stderr = '';
  return { io: { stdout: (s) => void (stdout += s), stderr: (s) => void (stderr += s) }, out: () => ({ stdout, stderr }) };
}

async function stop(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const c = capture();
  const code = await runStop(args, c.io);
  return { code, ...c.out() };
}

async function restart(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const c = capture();
  const code = await runRestart(args, c.io, { PATH: '/usr/bin:/bin' });
  return { code, ...c.out() };
}

/** A config whose directories are all in a temp root, with no agent running there. */
async function idleHost(): Promise<string> {
  const root = await tempDir('cda-stop-');
  const config = join(root, 'codedeployagent.yml');
  await writeFile(
    config,
    [`:root_dir: ${join(root, 'deployment-root')}`, `:log_dir: ${join(root, 'log')}`, `:pid_dir: ${join(root, 'state')}`, ''].join('\n'),
  );
  return config;
}

describe('codedeploy-agent stop and restart: options', () => {
  it('--help prints the usage on stdout and exits 0', async () => {
    expect(await stop(['--help'])).toEqual({ code: 0, stdout: STOP_USAGE, stderr: '' });
    expect(await restart(['-h', '--force'])).toEqual({ code: 0, stdout: RESTART_USAGE, stderr: '' });
  });

  it('rejects a --timeout that is not whole seconds, and unknown options, with the usage (exit 2)', async () => {
    for (const value of ['soon', '1.5', '', '99999999999999999999'])
      expect(await stop(['--timeout', value])).toEqual({
        code: 2,
        stdout: '',
        stderr: `codedeploy-agent stop: --timeout needs a whole number of seconds (0 or more), not "${value}"\n\n${STOP_USAGE}`,
      });
    expect(await restart([`--timeout=x`])).toEqual({
      code: 2,
      stdout: '',
      stderr: `codedeploy-agent restart: --timeout needs a whole number of seconds (0 or more), not "x"\n\n${RESTART_USAGE}`,
    });
    const bogus = await restart(['--bogus']);
    expect(bogus.code).toBe(2);
    expect(bogus.stderr).toMatch(/^codedeploy-agent restart: Unknown option '--bogus'/);
    expect(bogus.stderr.endsWith(`\n\n${RESTART_USAGE}`)).toBe(true);
    expect((await stop(['--json'])).code).toBe(2);
    expect((await stop(['now'])).code).toBe(2);
  });

  it('with no agent running, stop exits 0 whatever the flags; a config that cannot be read is exit 1, before anything is done', async () => {
    const config = await idleHost();
    expect(await stop(['--config_file', config])).toEqual({ code: 0, stdout: 'Nothing running that could be stopped\n', stderr: '' });
    expect(await stop(['--timeout', '0', '--force', `--config-file=${config}`])).toEqual({
      code: 0,
      stdout: 'Nothing running that could be stopped\n',
      stderr: '',
    });
    const missing = await stop(['--config_file', join(config, '..', 'none.yml')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^codedeploy-agent stop: .*none\.yml/);
    const unreadable = await restart(['--force', '--config_file', join(config, '..', 'none.yml')]);
    expect(unreadable.code).toBe(1);
    expect(unreadable.stdout).toBe('');
    expect(unreadable.stderr).toMatch(/^codedeploy-agent restart: .*none\.yml/);
  });
});
