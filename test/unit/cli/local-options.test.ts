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
      configFile: '/etc/codedeploy-agent/conf/codedeployagent.yml',
    });
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
      fileExistsBehavior: 'OVERWRITE',
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
});
