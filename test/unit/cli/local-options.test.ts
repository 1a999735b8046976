import { describe, expect, it } from 'vitest';
import { eventsToRun, parseLocalArgs, validateLocalOptions, type PathFacts } from '../../../agent/cli/local-options.js';

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
    const o = opts(['-l', 'b.tgz', '-t', 'tgz', '-b', 'overwrite', '-g', 'grp', '-d', 'name', '-a', 'app', '-e', 'A, B', '-c', 'c.yml', '-A', 'x.yaml']);
    expect(o).toMatchObject({ bundleLocation: 'b.tgz', type: 'tgz', fileExistsBehavior: 'OVERWRITE', deploymentGroupId: 'grp', deploymentGroupName: 'name', applicationName: 'app', events: ['A', 'B'], configFile: 'c.yml', appSpecFilename: 'x.yaml' });
  });

  it('throws a usage error for unknown flags', () => {
    expect(() => opts(['--bogus'])).toThrow(/Unknown option/);
  });

  const cases: Array<[string[], Record<string, 'file' | 'directory'>, string | null]> = [
    [['-t', 'rar', '-l', '/b'], {}, 'type rar is not a valid type. Must be one of tgz,tar,zip,directory'],
    [['-l', 'https://invalidurl.com/file[/].html', '-t', 'zip'], {}, 'location https://invalidurl.com/file[/].html is not a valid uri'],
    [['-l', 'http://example.com/b.zip', '-t', 'zip'], {}, 'location http://example.com/b.zip cannot be http, only encrypted (https) url endpoints supported'],
    [['-l', '/nope', '-t', 'zip'], {}, 'location /nope is specified as a file or directory which does not exist'],
    [['-l', '/b.zip'], { '/b.zip': 'file' }, 'location /b.zip is specified with type directory but it is a file'],
    [['-l', '/dir', '-t', 'tgz'], { '/dir': 'directory' }, 'location /dir is specified as a compressed local file but it is a directory'],
    [['-l', '/dir'], { '/dir': 'directory' }, 'Expecting appspec file at location /dir/appspec.yml or /dir/appspec.yaml but it is not found there. Please either run the CLI from within a directory containing the appspec.yml or appspec.yaml file or specify a bundle location containing an appspec.yml or appspec.yaml file in its root directory'],
    [['-l', '/dir', '-A', 'custom.yml'], { '/dir': 'directory', '/dir/appspec.yml': 'file' }, 'Expecting appspec file at location /dir/custom.yml but it is not found there. Please either run the CLI from within a directory containing the custom.yml file or specify a bundle location containing an custom.yml file in its root directory'],
    [['-l', '/dir'], { '/dir': 'directory', '/dir/appspec.yaml': 'file' }, null],
    [['-l', '/b.zip', '-t', 'zip'], { '/b.zip': 'file' }, null],
    [['-l', 'https://github.com/o/r', '-t', 'zip'], {}, null],
    [['-l', 's3://bucket/key.zip?versionId=1&etag=2', '-t', 'zip'], {}, null],
    [['-l', '/b.zip', '-t', 'zip', '-e', 'ApplicationStart,DownloadBundle'], { '/b.zip': 'file' }, 'The only events that can be specified before DownloadBundle are BeforeBlockTraffic,AfterBlockTraffic,ApplicationStop. Please fix the order of your specified events: ApplicationStart,DownloadBundle'],
    [['-l', '/b.zip', '-t', 'zip', '-e', 'Install,DownloadBundle'], { '/b.zip': 'file' }, 'The only events that can be specified before DownloadBundle are BeforeBlockTraffic,AfterBlockTraffic,ApplicationStop. Please fix the order of your specified events: Install,DownloadBundle'],
    [['-l', '/b.zip', '-t', 'zip', '-e', 'ApplicationStart,Install'], { '/b.zip': 'file' }, 'The only events that can be specified before Install are BeforeBlockTraffic,AfterBlockTraffic,ApplicationStop,DownloadBundle,BeforeInstall. Please fix the order of your specified events: ApplicationStart,Install'],
    [['-l', '/b.zip', '-t', 'zip', '-e', 'BeforeInstall,Install'], { '/b.zip': 'file' }, null],
  ];
  it.each(cases)('validates %j', async (argv, known, message) => {
    const result = validateLocalOptions(opts(argv), facts(known));
    if (message === null) await expect(result).resolves.toBeUndefined();
    else await expect(result).rejects.toThrow(message);
  });

  it.each([
    [undefined, ['BeforeBlockTraffic', 'AfterBlockTraffic', 'ApplicationStop', 'DownloadBundle', 'BeforeInstall', 'Install', 'AfterInstall', 'ApplicationStart', 'ValidateService', 'BeforeAllowTraffic', 'AfterAllowTraffic']],
    [['DownloadBundle', 'ApplicationStart'], ['DownloadBundle', 'Install', 'ApplicationStart']],
    [['Stop', 'Start', 'HealthCheck'], ['DownloadBundle', 'Install', 'Stop', 'Start', 'HealthCheck']],
    [['ApplicationStart', 'CustomEvent'], ['DownloadBundle', 'Install', 'ApplicationStart', 'CustomEvent']],
    [['BeforeInstall', 'ApplicationStart'], ['DownloadBundle', 'BeforeInstall', 'Install', 'ApplicationStart']],
    [['ApplicationStop'], ['ApplicationStop', 'DownloadBundle', 'Install']],
    [['Install'], ['DownloadBundle', 'Install']],
  ])('runs %j as %j', (requested, expected) => {
    expect(eventsToRun(requested)).toEqual(expected);
  });
});
