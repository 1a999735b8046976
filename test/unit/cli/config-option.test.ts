import { describe, expect, it } from 'vitest';
import { takeGlobalConfigFile, withGlobalConfigFile } from '../../../agent/cli/config-option.js';

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
