import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultConfigValues, loadAgentConfig, parseAgentConfig } from '../../../agent/config/agent-config.js';
import { AgentError } from '../../../agent/errors.js';
import { tempDir } from '../../helpers/temp.js';

describe('agent config', () => {
  it('reads the official :key: style and plain keys, over the defaults, and freezes the result', () => {
    const { config, warnings } = parseAgentConfig(
      [
        ':log_dir: /tmp/x/log/',
        ':root_dir: /tmp/x/root',
        'max_revisions: 3',
        ':verbose: true',
        ':proxy_uri:',
        ':wait_between_runs: 1',
        '',
      ].join('\n'),
      '/etc/conf.yml',
    );
    expect(config.logDir).toBe('/tmp/x/log');
    expect(config.rootDir).toBe('/tmp/x/root');
    expect(config.maxRevisions).toBe(3);
    expect(config.verbose).toBe(true);
    expect(config.proxyUri).toBeUndefined();
    expect(config.workingDirectory).toBe('/opt/codedeploy-agent');
    expect(config.killAgentMaxWaitTimeSeconds).toBe(7200);
    expect(warnings).toEqual([]);
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('has the shipped defaults', () => {
    const d = defaultConfigValues();
    expect(d.rootDir).toBe('/opt/codedeploy-agent/deployment-root');
    expect(d.logDir).toBe('/var/log/aws/codedeploy-agent');
    expect(d.maxRevisions).toBe(5);
    expect(d.httpReadTimeoutSeconds).toBe(80);
    expect(d.enableDeploymentsLog).toBe(true);
    expect(d.ongoingDeploymentTracking).toBe('ongoing-deployment');
  });

  it('lets the last duplicate key win, and accepts blank lines', () => {
    const { config } = parseAgentConfig(':max_revisions: 2\n\n\n:max_revisions: 7\n', '/c.yml');
    expect(config.maxRevisions).toBe(7);
  });

  it('resolves relative paths against the config file directory', () => {
    const { config } = parseAgentConfig(':root_dir: ./root\n', '/srv/agent/conf.yml');
    expect(config.rootDir).toBe('/srv/agent/root');
  });

  it.each([
    [':max_revisions: 0\n', 'Invalid configuration :max_revision=0'],
    [':max_revisions: abc\n', 'Invalid configuration :max_revision=abc'],
    [':children: 4\n', 'children can only be set to 1'],
    [':verbose: maybe\n', ':verbose: must be true or false'],
    [':root_dir: [a]\n', ':root_dir: must be a path'],
    ['- a\n- b\n', 'the file must be a mapping'],
    [':root_dir: "unterminated\n', 'at line 2, column 1'],
  ])('rejects %j with the official wrapper message', (text, fragment) => {
    try {
      parseAgentConfig(text, '/c.yml');
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(AgentError);
      expect((err as Error).message).toMatch(/^An error occurred loading the CodeDeploy agent config file at \/c\.yml\. Error message: /);
      expect((err as Error).message).toContain(fragment);
    }
  });

  it('warns about unknown keys instead of failing', () => {
    const { warnings } = parseAgentConfig(':root_dirr: /x\n', '/c.yml');
    expect(warnings).toEqual(['Unknown configuration key :root_dirr: in /c.yml is ignored']);
  });

  it('warns once per accepted-but-ignored official key, with why', () => {
    const { warnings } = parseAgentConfig(
      [
        ':children: 1',
        ':wait_between_spawning_children: 1',
        ':plugins: [codedeploy]',
        ':use_mock_command_service: false',
        ':wait_after_error: 30',
        ':shared_dir: /opt/codedeploy-agent/state/.shared',
        ':instance_service_region: us-east-1',
        ':instance_service_endpoint: example.com',
        ':instance_service_port: 443',
        ':log_aws_wire: true',
        ':wait_after_throttle_error: 10',
        ':wait_after_connection_problem: 9',
        ':max_runs_per_worker: 100',
        '',
      ].join('\n'),
      '/c.yml',
    );
    expect(warnings).toEqual([
      ':wait_between_spawning_children: is accepted for compatibility and ignored: this agent runs one process and spawns no children',
      ':plugins: is accepted for compatibility and ignored: the CodeDeploy commands are built in and no plugins are loaded',
      ':use_mock_command_service: is accepted for compatibility and ignored: to test against a fake service, point :deploy_control_endpoint: at it (e.g. codedeploy-control-plane)',
      ':wait_after_error: is accepted for compatibility and ignored: after a failed poll the agent backs off 10 s to 90 s (capped by :retry_backoff_max_seconds:)',
      ':shared_dir: is accepted for compatibility and ignored: the agent keeps its state under :root_dir: and :pid_dir:',
      ':instance_service_region: is accepted for compatibility and ignored: the region comes from AWS_REGION, the on-premises file or the instance metadata',
      ':instance_service_endpoint: is accepted for compatibility and ignored: the endpoint comes from the region, or from :deploy_control_endpoint:',
      ':instance_service_port: is accepted for compatibility and ignored: the endpoint comes from the region, or from :deploy_control_endpoint:',
      ':log_aws_wire: is accepted for compatibility and ignored: there is no AWS wire log; :verbose: true gives a debug agent log (credentials stay redacted)',
      ':wait_after_throttle_error: is accepted for compatibility and ignored: throttled calls are retried with exponential backoff and jitter, honouring Retry-After',
      ':wait_after_connection_problem: is accepted for compatibility and ignored: after a failed call the poll loop backs off 10 s to 90 s (capped by :retry_backoff_max_seconds:)',
      ':max_runs_per_worker: is accepted for compatibility and ignored: this agent runs one long-lived process and never recycles it',
    ]);
    for (const w of warnings) expect(w).not.toContain('\n');
  });

  it('starts silently with the official shipped file: children 1 and read-but-unused keys at their defaults', () => {
    const { warnings } = parseAgentConfig(
      [
        '---',
        ':log_aws_wire: false',
        ":log_dir: '/var/log/aws/codedeploy-agent/'",
        ":pid_dir: '/opt/codedeploy-agent/state/.pid/'",
        ':program_name: codedeploy-agent',
        ":root_dir: '/opt/codedeploy-agent/deployment-root'",
        ':verbose: false',
        ':wait_between_runs: 1',
        ':proxy_uri:',
        ':max_revisions: 5',
        ':children: 1',
        ':max_runs_per_worker: 0',
        ':wait_after_throttle_error: 60',
        ':plugins:',
        '',
      ].join('\n'),
      '/etc/codedeploy-agent/conf/codedeployagent.yml',
    );
    expect(warnings).toEqual([]);
  });

  it('reads :user: and :group:, and warns about :group: without :user:', () => {
    const both = parseAgentConfig(':user: codedeploy\n:group: deployers\n', '/c.yml');
    expect(both.config.user).toBe('codedeploy');
    expect(both.config.group).toBe('deployers');
    expect(both.warnings).toEqual([]);
    const groupOnly = parseAgentConfig(':group: deployers\n', '/c.yml');
    expect(groupOnly.warnings).toEqual([":group: is ignored without :user: (the agent runs as root, with root's groups)"]);
  });

  it('reports a missing file with the official message', async () => {
    const dir = await tempDir();
    const path = join(dir, 'nope.yml');
    await expect(loadAgentConfig(path)).rejects.toThrow(`The config file ${path} does not exist or is not readable`);
    await writeFile(path, ':root_dir: /r\n');
    expect((await loadAgentConfig(path)).config.rootDir).toBe('/r');
  });
});
