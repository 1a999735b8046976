import { describe, expect, it } from 'vitest';
import { parseLocalArgs, validateLocalOptions } from '../../../agent/cli/local-options.js';
import type { PathFacts } from '../../../agent/deployment/bundle-location.js';

const facts = (entries: Record<string, 'file' | 'directory'>): PathFacts => ({ kind: async (p) => entries[p] });
const opts = (argv: string[]) => parseLocalArgs(argv, '/cwd');

describe('codedeploy-local options', () => {
  it('has the official defaults', () => {
    expect(opts([])).toMatchObject({
      bundleLocation: '/cwd',
      type: 'directory',
      fileExistsBehavior: 'DISALLOW',
      deploymentGroupId: 'default-local-deployment-group',
      deploymentGroupName: 'LocalFleet',
      applicationName: '/cwd',
    });
    // Not given: local-config.ts looks at the default files.
    expect(opts([]).configFile).toBeUndefined();
  });

  it('reads the short and long flags', () => {
    const o = opts([
      '-l',
      'b.tgz',
      '-t',
      'tgz',
      '-b',
      'overwrite',
      '-g',
      'grp',
      '-d',
      'name',
      '-a',
      'app',
      '-e',
      'A, B',
      '-c',
      'c.yml',
      '-A',
      'x.yaml',
    ]);
    expect(o).toMatchObject({
      bundleLocation: 'b.tgz',
      type: 'tgz',
      fileExistsBehavior: 'overwrite',
      deploymentGroupId: 'grp',
      deploymentGroupName: 'name',
      applicationName: 'app',
      events: ['A', 'B'],
      configFile: 'c.yml',
      appSpecFilename: 'x.yaml',
    });
  });

  it('throws a usage error for unknown flags', () => {
    expect(() => opts(['--bogus'])).toThrow(/Unknown option/);
  });

  // The rules and their messages are tested with their modules (test/unit/deployment/bundle-location.test.ts,
  // lifecycle-check.test.ts); here: validate runs both, the location checks first.
  const cases: Array<[string[], Record<string, 'file' | 'directory'>, string | null]> = [
    [['-t', 'rar', '-l', '/b', '-e', 'ApplicationStart,Install'], {}, 'type rar is not a valid type. Must be one of tgz,tar,zip,directory'],
    [['-l', '/nope', '-t', 'zip'], {}, 'location /nope is specified as a file or directory which does not exist'],
    [['-l', 'dir'], { '/cwd/dir': 'directory', '/cwd/dir/appspec.yml': 'file' }, null],
    [
      ['-l', '/b.zip', '-t', 'zip', '-e', 'ApplicationStart,Install'],
      { '/b.zip': 'file' },
      'The only events that can be specified before Install are BeforeBlockTraffic,AfterBlockTraffic,ApplicationStop,DownloadBundle,BeforeInstall. Please fix the order of your specified events: ApplicationStart,Install',
    ],
    [['-l', '/b.zip', '-t', 'zip', '-e', 'BeforeInstall,Install'], { '/b.zip': 'file' }, null],
  ];
  it.each(cases)('validates %j', async (argv, known, message) => {
    const result = validateLocalOptions(opts(argv), facts(known), '/cwd');
    if (message === null) await expect(result).resolves.toBeUndefined();
    else await expect(result).rejects.toThrow(message);
  });

  describe('--file-exists-behavior (-b)', () => {
    const dir = { '/cwd/dir': 'directory', '/cwd/dir/appspec.yml': 'file' } as const;

    it.each([
      ['overwrite', 'OVERWRITE'],
      ['Retain', 'RETAIN'],
      ['DISALLOW', 'DISALLOW'],
    ])('accepts %s in any case and upper-cases it', async (given, value) => {
      const o = opts(['-l', 'dir', '-b', given]);
      await validateLocalOptions(o, facts(dir), '/cwd');
      expect(o.fileExistsBehavior).toBe(value);
    });

    it.each(['FOO', 'overwrite ', '', 'OVERWRITE,RETAIN'])('rejects %j with the official style of message', async (given) => {
      const result = validateLocalOptions(opts(['-l', 'dir', '-b', given]), facts(dir), '/cwd');
      await expect(result).rejects.toMatchObject({
        code: 'CDA_ERR_LOCAL_VALIDATION',
        message: `file-exists-behavior ${given} is not a valid value. Must be one of DISALLOW,OVERWRITE,RETAIN`,
      });
    });

    it('is checked after the location and before the order of --events', async () => {
      await expect(validateLocalOptions(opts(['-l', '/nope', '-b', 'FOO']), facts({}), '/cwd')).rejects.toThrow(/^location \/nope/);
      await expect(
        validateLocalOptions(opts(['-l', 'dir', '-b', 'FOO', '-e', 'ApplicationStart,Install']), facts(dir), '/cwd'),
      ).rejects.toThrow(/^file-exists-behavior FOO/);
    });
  });
});
