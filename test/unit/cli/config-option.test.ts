import { describe, expect, it } from 'vitest';
import { parseConfigFileArgs, takeGlobalConfigFile, withGlobalConfigFile } from '../../../agent/cli/config-option.js';

describe('the global --config_file (before the command, the official position)', () => {
  it('takes every spelling off the front of the command line', () => {
    expect(takeGlobalConfigFile(['--config_file', '/a.yml', 'start'])).toEqual({ configFile: '/a.yml', rest: ['start'] });
    expect(takeGlobalConfigFile(['--config-file=/a.yml', 'stop', '--force'])).toEqual({ configFile: '/a.yml', rest: ['stop', '--force'] });
    expect(takeGlobalConfigFile(['--config_file=/a.yml', '--config-file', '/a.yml', 'status'])).toEqual({
      configFile: '/a.yml',
      rest: ['status'],
    });
    expect(takeGlobalConfigFile(['status', '--config_file', '/a.yml'])).toEqual({ rest: ['status', '--config_file', '/a.yml'] });
  });

  it('rejects a missing value and two different files', () => {
    expect(takeGlobalConfigFile(['--config_file'])).toEqual({ error: '--config_file needs a file path' });
    expect(takeGlobalConfigFile(['--config-file=', 'start'])).toEqual({ error: '--config-file needs a file path' });
    expect(takeGlobalConfigFile(['--config_file', '/a.yml', '--config_file', '/b.yml', 'start'])).toMatchObject({
      error: expect.stringContaining('given twice with different files (/a.yml and /b.yml)') as string,
    });
  });

  it('hands the file to the subcommand, and refuses a different one after the command', () => {
    expect(withGlobalConfigFile(['--json'], '/a.yml')).toEqual(['--config_file', '/a.yml', '--json']);
    expect(withGlobalConfigFile(['--json'], undefined)).toEqual(['--json']);
    expect(withGlobalConfigFile(['--config_file=/a.yml'], '/a.yml')).toEqual(['--config_file', '/a.yml', '--config_file=/a.yml']);
    expect(withGlobalConfigFile(['--config-file', '/b.yml'], '/a.yml')).toEqual({
      error: '--config_file is given twice with different files (/a.yml before the command, /b.yml after it); give it once',
    });
    // After "--" nothing is an option.
    expect(withGlobalConfigFile(['--', '--config_file', '/b.yml'], '/a.yml')).toEqual([
      '--config_file',
      '/a.yml',
      '--',
      '--config_file',
      '/b.yml',
    ]);
  });
});

describe("parseConfigFileArgs: the shared flags, and a command's own", () => {
  const FLAGS = { timeout: 'string', force: 'boolean' } as const;
  const USAGE = 'Usage: codedeploy-agent thing [--timeout S] [--force]\n';
  async function parse(args: string[], opts: Parameters<typeof parseConfigFileArgs>[4] = { flags: FLAGS }) {
    let stdout = '';
    let stderr = '';
    const io = { stdout: (s: string) => void (stdout += s), stderr: (s: string) => void (stderr += s) };
    const result = await parseConfigFileArgs('thing', USAGE, args, io, opts);
    return { result, stdout, stderr };
  }

  it("returns the config path, --json and the command's own flags (undefined when not given)", async () => {
    expect((await parse(['--timeout', '5', '--force', '--config_file', '/a.yml'])).result).toEqual({
      configPath: '/a.yml',
      json: false,
      flags: { timeout: '5', force: true },
    });
    expect((await parse(['--config-file=/b.yml'])).result).toEqual({
      configPath: '/b.yml',
      json: false,
      flags: { timeout: undefined, force: undefined },
    });
    expect((await parse(['--json', '--config_file', '/c.yml'], { json: true })).result).toEqual({
      configPath: '/c.yml',
      json: true,
      flags: {},
    });
  });

  it('answers --help with the usage (0) and a usage error with the message and the usage (2)', async () => {
    expect(await parse(['--force', '-h'])).toEqual({ result: 0, stdout: USAGE, stderr: '' });
    const unknown = await parse(['--bogus']);
    expect(unknown.result).toBe(2);
    expect(unknown.stdout).toBe('');
    expect(unknown.stderr).toMatch(/^codedeploy-agent thing: Unknown option '--bogus'/);
    expect(unknown.stderr.endsWith(`\n\n${USAGE}`)).toBe(true);
    // A flag of another command is unknown here; a value flag needs its value.
    expect((await parse(['--force'], {})).result).toBe(2);
    expect((await parse(['--json'], { flags: FLAGS })).result).toBe(2);
    const missing = await parse(['--timeout']);
    expect(missing.result).toBe(2);
    expect(missing.stderr).toContain("Option '--timeout <value>' argument missing");
  });
});
