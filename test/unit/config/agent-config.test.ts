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

  it('reports a missing file with the official message', async () => {
    const dir = await tempDir();
    const path = join(dir, 'nope.yml');
    await expect(loadAgentConfig(path)).rejects.toThrow(`The config file ${path} does not exist or is not readable`);
    await writeFile(path, ':root_dir: /r\n');
    expect((await loadAgentConfig(path)).config.rootDir).toBe('/r');
  });
});
