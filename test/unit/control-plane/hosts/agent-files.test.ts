/**
 * The files add-host, the demo and the test fleets write: read back with the agent's own parsers
 * (agent/config, agent/identity), so a key name or a quoting mistake fails here and not on a host.
 */
import { stat, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAgentConfig } from '../../../../agent/config/agent-config.js';
import { parseOnPremisesConfig } from '../../../../agent/identity/on-premises-config.js';
import {
  hostLayout,
  placeholderAccessKeyId,
  renderAgentConfig,
  renderOnPremisesConfig,
  writeAgentFiles,
} from '../../../../control-plane/hosts/agent-files.js';
import { tempDir } from '../../../helpers/temp.js';

describe('agent files', () => {
  it('renders a config the agent loads, with every path under the host directory', () => {
    const layout = hostLayout('/home/dev/hosts/web-1');
    const text = renderAgentConfig({ layout, controlPlaneUrl: 'http://127.0.0.1:8080/' });
    const { config, warnings } = parseAgentConfig(text, layout.configFile);
    expect(warnings).toEqual([]);
    expect(config).toMatchObject({
      deployControlEndpoint: 'http://127.0.0.1:8080',
      s3EndpointOverride: 'http://127.0.0.1:8080',
      githubApiUrl: 'http://127.0.0.1:8080/github',
      deploymentSpecCaFile: '/home/dev/hosts/web-1/ca.pem',
      rootDir: '/home/dev/hosts/web-1/deployment-root',
      logDir: '/home/dev/hosts/web-1/log',
      pidDir: '/home/dev/hosts/web-1/state',
      workingDirectory: '/home/dev/hosts/web-1/agent-home',
      onPremisesConfigFile: '/home/dev/hosts/web-1/codedeploy.onpremises.yml',
      waitBetweenRunsSeconds: 1,
    });
    expect(config.caBundle).toBeUndefined();
  });

  it('adds :ca_bundle:, another S3 endpoint, the wait and extra lines when asked', () => {
    const layout = hostLayout('/srv/h');
    const text = renderAgentConfig({
      layout,
      controlPlaneUrl: 'https://cp.example:8443',
      s3Endpoint: 'http://minio:9000',
      caBundle: '/srv/h/ca.pem',
      deploymentSpecCaFile: '/data/ca/ca.pem',
      waitBetweenRunsSeconds: 0,
      extraLines: [':command_update_interval_seconds: 1'],
    });
    const { config } = parseAgentConfig(text, layout.configFile);
    expect(config).toMatchObject({
      deployControlEndpoint: 'https://cp.example:8443',
      s3EndpointOverride: 'http://minio:9000',
      githubApiUrl: 'https://cp.example:8443/github',
      caBundle: '/srv/h/ca.pem',
      deploymentSpecCaFile: '/data/ca/ca.pem',
      waitBetweenRunsSeconds: 0,
      commandUpdateIntervalSeconds: 1,
    });
  });

  it.each([
    ['spaces and a colon', '/tmp/my hosts/a: b'],
    ['a YAML 1.1 boolean word', '/tmp/x/yes'],
    ['a comment sign', '/tmp/#h'],
    ['quotes', `/tmp/it's "q"`],
  ])('keeps a directory with %s exactly', (_what, dir) => {
    const layout = hostLayout(dir);
    const { config } = parseAgentConfig(renderAgentConfig({ layout, controlPlaneUrl: 'http://127.0.0.1:1' }), '/x/codedeployagent.yml');
    expect(config.rootDir).toBe(join(dir, 'deployment-root'));
    expect(config.onPremisesConfigFile).toBe(join(dir, 'codedeploy.onpremises.yml'));
  });

  it('renders an on-premises identity the agent accepts, with placeholder keys', () => {
    const text = renderOnPremisesConfig({ region: 'eu-west-1', iamUserArn: 'arn:aws:iam::123456789012:user/web-1', name: 'web-1' });
    expect(text).toContain('accepts any credentials');
    const parsed = parseOnPremisesConfig(text, '/x/codedeploy.onpremises.yml');
    expect(parsed).toMatchObject({
      mode: 'iam-user',
      region: 'eu-west-1',
      iamUserArn: 'arn:aws:iam::123456789012:user/web-1',
      accessKeyId: 'AKIDLOCALWEB1',
    });
    expect(placeholderAccessKeyId('a.b_c-d')).toBe('AKIDLOCALABCD');
  });

  it('writes the files with their modes and creates the working directory', async () => {
    const layout = hostLayout(join(await tempDir('cda-agent-files-'), 'h1'));
    await writeAgentFiles(layout, { config: 'a: 1\n', onPremises: 'region: x\n', caCertificate: 'PEM\n' });
    expect((await stat(layout.onPremisesFile)).mode & 0o777).toBe(0o600);
    expect((await stat(layout.configFile)).mode & 0o077).toBe(0o044 & ~process.umask());
    expect(await readFile(layout.caFile, 'utf8')).toBe('PEM\n');
    expect((await stat(layout.workDir)).isDirectory()).toBe(true);
    // Rewriting keeps the modes (a temp file renamed over the old one).
    await writeAgentFiles(layout, { config: 'a: 2\n', onPremises: 'region: y\n' });
    expect((await stat(layout.onPremisesFile)).mode & 0o777).toBe(0o600);
    expect(await readFile(layout.onPremisesFile, 'utf8')).toBe('region: y\n');
  });
});
