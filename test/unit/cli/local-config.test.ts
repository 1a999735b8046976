import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveLocalConfig, userStateDir, type LocalDefaults } from '../../../agent/cli/local-config.js';
import { tempDir } from '../../helpers/temp.js';

/** A temp "host": its default config paths and default working directory live in a temp dir. */
async function host(opts: { files?: Record<string, string>; installDir?: boolean; isRoot: boolean }): Promise<{
  dir: string;
  cwd: string;
  defaults: LocalDefaults;
}> {
  const dir = await tempDir('cda-local-config-');
  const cwd = join(dir, 'project');
  await mkdir(cwd);
  for (const [name, text] of Object.entries(opts.files ?? {})) await writeFile(join(dir, name), text);
  const installDir = join(dir, 'opt-codedeploy-agent');
  if (opts.installDir) await mkdir(installDir);
  return {
    dir,
    cwd,
    defaults: { configFiles: [join(dir, 'etc.yml'), join(dir, 'opt.yml')], workingDirectory: installDir, isRoot: opts.isRoot },
  };
}

describe('codedeploy-local configuration', () => {
  it('-c names a file that must exist', async () => {
    const h = await host({ isRoot: true });
    await expect(resolveLocalConfig({ configFile: 'missing.yml', cwd: h.cwd, env: {}, defaults: h.defaults })).rejects.toThrow(
      'configuration file missing.yml does not exist or is not readable',
    );
  });

  it('reads the first default file that exists; hooks run in the install directory when it exists', async () => {
    const h = await host({ files: { 'opt.yml': ':root_dir: /srv/cd\n' }, installDir: true, isRoot: false });
    const r = await resolveLocalConfig({ configFile: undefined, cwd: h.cwd, env: {}, defaults: h.defaults });
    expect(r.file).toBe(join(h.dir, 'opt.yml'));
    expect(r.config.rootDir).toBe('/srv/cd');
    expect(r.config.workingDirectory).toBe(h.defaults.workingDirectory);
    expect(r.notice).toBeUndefined();
  });

  it("hooks run in the caller's directory when working_directory is not set and the install directory does not exist", async () => {
    const h = await host({ files: { 'etc.yml': ':verbose: true\n' }, isRoot: true });
    const r = await resolveLocalConfig({ configFile: undefined, cwd: h.cwd, env: {}, defaults: h.defaults });
    expect(r.config.workingDirectory).toBe(h.cwd);
  });

  it('a working_directory set in the file wins, whether or not it exists (checked before the first event)', async () => {
    const h = await host({ files: { 'c.yml': ':working_directory: /nonexistent/wd\n' }, installDir: true, isRoot: true });
    const r = await resolveLocalConfig({ configFile: 'c.yml', cwd: h.dir, env: {}, defaults: h.defaults });
    expect(r.config.workingDirectory).toBe('/nonexistent/wd');
  });

  it('no file, root: the built-in layout, hooks in the current directory, one notice', async () => {
    const h = await host({ installDir: true, isRoot: true });
    const r = await resolveLocalConfig({ configFile: undefined, cwd: h.cwd, env: {}, defaults: h.defaults });
    expect(r.file).toBeUndefined();
    expect(r.config.rootDir).toBe('/opt/codedeploy-agent/deployment-root');
    expect(r.config.logDir).toBe('/var/log/aws/codedeploy-agent');
    expect(r.config.workingDirectory).toBe(h.cwd);
    expect(r.notice).toBe(
      `codedeploy-local: no configuration file (${h.defaults.configFiles.join(', ')}): deployments go to /opt/codedeploy-agent/deployment-root, the log to /var/log/aws/codedeploy-agent/codedeploy-local.log (use -c FILE to choose)\n`,
    );
  });

  it('no file, not root: a per-user root in the XDG state directory', async () => {
    const h = await host({ isRoot: false });
    const state = join(h.dir, 'state');
    const r = await resolveLocalConfig({
      configFile: undefined,
      cwd: h.cwd,
      env: { XDG_STATE_HOME: state, HOME: '/nowhere' },
      defaults: h.defaults,
    });
    expect(r.config.rootDir).toBe(join(state, 'codedeploy-agent', 'deployment-root'));
    expect(r.config.logDir).toBe(join(state, 'codedeploy-agent', 'logs'));
    expect(r.config.workingDirectory).toBe(h.cwd);
    expect(r.notice).toContain(', not running as root: deployments go to ');
  });

  it('the state directory: XDG_STATE_HOME when absolute, else ~/.local/state', () => {
    expect(userStateDir({ XDG_STATE_HOME: '/x/state', HOME: '/home/u' })).toBe('/x/state/codedeploy-agent');
    expect(userStateDir({ XDG_STATE_HOME: 'relative', HOME: '/home/u' })).toBe('/home/u/.local/state/codedeploy-agent');
    expect(userStateDir({ HOME: '/home/u' })).toBe('/home/u/.local/state/codedeploy-agent');
  });
});
