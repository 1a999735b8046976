/**
 * scripts/install.sh with the host tarball (codedeploy-agent-<v>-linux-<arch>.tar.gz: the
 * self-contained executable, config, unit, install.sh) into a DESTDIR: no Node.js and no npm on
 * PATH, a recording systemctl in their place (CODEDEPLOY_INSTALL_TEST=1, the script's test-only
 * switch), and a shell stand-in for the executable (a real one is tested in test/release/).
 * Then --migrate from a host laid out as the official agent 1.8.1 leaves it (reference §6.6), and
 * the proof that matters after a migration: the next deployment's ApplicationStop runs the last
 * revision the official agent installed.
 */
import { execFile, type ExecFileException } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, cp, lstat, mkdir, readdir, readFile, readlink, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { writeStandIn } from '../packaging/package-tools.js';
import { suiteTempDir } from '../helpers/temp.js';

const execFileP = promisify(execFile);
const REPO = join(import.meta.dirname, '..', '..');
const LOCAL_CLI = join(REPO, 'dist', 'agent', 'cli', 'codedeploy-local.js');
const PREFIX = '/opt/codedeploy-agent';
const CONF = '/etc/codedeploy-agent/conf';

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

async function sh(file: string, args: string[], env: NodeJS.ProcessEnv): Promise<Result> {
  try {
    const { stdout, stderr } = await execFileP(file, args, { env, timeout: 120_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as ExecFileException & { stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? e.message };
  }
}

let work: string;
let pathDir: string;
let calls: string;

/** A host release directory as build-release.sh lays it out, around a stand-in executable. */
async function hostRelease(name: string, version: string): Promise<string> {
  const dir = join(work, name, `codedeploy-agent-${version}-linux-x64`);
  await mkdir(join(dir, 'bin'), { recursive: true });
  await mkdir(join(dir, 'scripts'), { recursive: true });
  await writeStandIn(join(dir, 'bin', 'codedeploy-agent'), version);
  await cp(join(REPO, 'conf'), join(dir, 'conf'), { recursive: true });
  await cp(join(REPO, 'systemd'), join(dir, 'systemd'), { recursive: true });
  await cp(join(REPO, 'scripts', 'logrotate'), join(dir, 'scripts', 'logrotate'), { recursive: true });
  await cp(join(REPO, 'scripts', 'install.sh'), join(dir, 'scripts', 'install.sh'));
  await cp(join(REPO, 'README.md'), join(dir, 'README.md'));
  return dir;
}

async function tarball(dir: string): Promise<string> {
  const out = `${dir}.tar.gz`;
  await execFileP('tar', ['-czf', out, '-C', join(dir, '..'), dir.split('/').pop() ?? '']);
  return out;
}

function env(destdir: string): NodeJS.ProcessEnv {
  return { PATH: pathDir, HOME: work, DESTDIR: destdir, CODEDEPLOY_INSTALL_TEST: '1', SYSTEMCTL_LOG: calls };
}

async function install(destdir: string, args: string[]): Promise<Result> {
  return sh('/bin/bash', [join(REPO, 'scripts', 'install.sh'), '--bin-dir', '', ...args], env(destdir));
}

async function systemctlCalls(): Promise<string[]> {
  const text = await readFile(calls, 'utf8').catch(() => '');
  return text.split('\n').filter(Boolean);
}

beforeAll(async () => {
  work = await suiteTempDir('cda-host-tarball-');
  // PATH: every system tool but Node.js and npm, and a systemctl that records its arguments.
  pathDir = join(work, 'path');
  await mkdir(pathDir);
  const skip = new Set(['node', 'nodejs', 'npm', 'npx', 'corepack', 'systemctl']);
  for (const d of ['/usr/bin', '/bin', '/usr/sbin', '/sbin']) {
    for (const name of await readdir(d).catch(() => [])) {
      if (skip.has(name) || existsSync(join(pathDir, name))) continue;
      await symlink(join(d, name), join(pathDir, name)).catch(() => undefined);
    }
  }
  calls = join(work, 'systemctl.calls');
  await writeFile(
    join(pathDir, 'systemctl'),
    '#!/bin/sh\necho "$*" >>"$SYSTEMCTL_LOG"\ncase "$1" in is-active|is-enabled) exit 3 ;; esac\nexit 0\n',
  );
  await chmod(join(pathDir, 'systemctl'), 0o755);
});

describe('install.sh from the host tarball (no Node.js, no npm, no network)', () => {
  it('installs, re-runs without changes, upgrades and uninstalls', async () => {
    const root = join(work, 'root1');
    await expect(sh('/bin/sh', ['-c', 'command -v node || command -v npm || echo none'], env(root))).resolves.toMatchObject({
      stdout: 'none\n',
    });
    const v1 = await tarball(await hostRelease('r1', '0.1.0'));
    const r = await install(root, ['--from', v1]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('no Node.js or npm needed');
    const P = join(root, PREFIX);
    expect((await lstat(join(P, 'bin', 'codedeploy-agent'))).mode & 0o777).toBe(0o755);
    expect(await readlink(join(P, 'bin', 'codedeploy-local'))).toBe('codedeploy-agent');
    expect(await readFile(join(P, '.version'), 'utf8')).toBe('agent_version: TS_0.1.0_tarball\n');
    expect(existsSync(join(P, 'README.md'))).toBe(true);
    expect(existsSync(join(P, 'dist')) || existsSync(join(P, 'node_modules'))).toBe(false);
    expect(await readFile(join(root, CONF, 'codedeployagent.yml'), 'utf8')).toContain(':root_dir:');
    expect(await readFile(join(root, '/etc/systemd/system/codedeploy-agent.service'), 'utf8')).toContain('ExecStart=');
    expect(await systemctlCalls()).toEqual(
      expect.arrayContaining(['daemon-reload', 'enable --quiet codedeploy-agent.service', 'restart codedeploy-agent.service']),
    );

    const again = await install(root, ['--from', v1]);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('already installed');

    await writeFile(join(root, CONF, 'codedeployagent.yml'), ':log_aws_wire: false\n');
    const v2 = await hostRelease('r2', '0.2.0');
    const up = await install(root, ['--from', v2]);
    expect(up.code).toBe(0);
    expect(await readFile(join(P, '.version'), 'utf8')).toBe('agent_version: TS_0.2.0_tarball\n');
    expect(await readFile(join(root, CONF, 'codedeployagent.yml'), 'utf8')).toBe(':log_aws_wire: false\n');

    const un = await install(root, ['--uninstall']);
    expect(un.code).toBe(0);
    expect(existsSync(join(P, 'bin'))).toBe(false);
    expect(existsSync(join(P, '.version'))).toBe(false);
    expect(existsSync(join(root, CONF, 'codedeployagent.yml'))).toBe(true);
  });

  it('refuses an executable for another architecture before changing anything', async () => {
    const root = join(work, 'root2');
    const dir = await hostRelease('arm', '0.1.0');
    // An ELF header whose machine is aarch64 (183) on this x86_64 host, or x86-64 (62) on arm64.
    const header = Buffer.alloc(64);
    header.write('\x7fELF', 0, 'latin1');
    header.writeUInt16LE(process.arch === 'arm64' ? 62 : 183, 18);
    await writeFile(join(dir, 'bin', 'codedeploy-agent'), header);
    const r = await install(root, ['--from', dir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(process.arch === 'arm64' ? /is the x64 \(x86_64\) release/ : /is the arm64 \(aarch64\) release/);
    expect(existsSync(join(root, PREFIX))).toBe(false);
  });

  it('refuses a prefix the codedeploy-agent package installed', async () => {
    const root = join(work, 'root3');
    await mkdir(join(root, PREFIX), { recursive: true });
    await writeFile(join(root, PREFIX, '.version'), 'agent_version: TS_0.1.0_deb\n');
    const r = await install(root, ['--from', await hostRelease('r3', '0.1.0')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('installed by the codedeploy-agent package');
  });
});

describe('install.sh --migrate from the official agent', () => {
  const GROUP = 'my-group';
  const OLD = 'd-OFFICIAL1';
  let root: string;
  let rootDir: string;

  /**
   * The official agent's files as version 1.8.1 leaves them, under DESTDIR. The instruction files
   * name the DESTDIR path of the last deployment, so codedeploy-local can follow them here.
   */
  async function officialHost(): Promise<void> {
    root = join(work, 'official');
    const P = join(root, PREFIX);
    rootDir = join(P, 'deployment-root');
    for (const d of ['bin', 'lib/instance_agent', 'vendor/gems/process_manager-0.0.13', 'certs', 'state/.pid', 'init.d'])
      await mkdir(join(P, d), { recursive: true });
    await writeFile(join(P, 'bin', 'codedeploy-agent'), '#!/usr/bin/env ruby\n');
    await writeFile(join(P, 'bin', 'install'), '#!/usr/bin/env ruby\n');
    await writeFile(join(P, 'lib', 'instance_agent', 'agent.rb'), '# ruby\n');
    await writeFile(join(P, '.version'), 'agent_version: OFFICIAL_1.8.1-2005_deb\n');
    await writeFile(join(P, 'state', '.pid', 'codedeploy-agent.pid'), '4242\n');
    await mkdir(join(root, CONF), { recursive: true });
    await writeFile(
      join(root, CONF, 'codedeployagent.yml'),
      `---\n:log_aws_wire: false\n:log_dir: '/var/log/aws/codedeploy-agent/'\n:pid_dir: '/opt/codedeploy-agent/state/.pid/'\n:program_name: codedeploy-agent\n:root_dir: '/opt/codedeploy-agent/deployment-root'\n:verbose: true\n:wait_between_runs: 1\n:max_revisions: 3\n`,
    );
    await writeFile(
      join(root, CONF, 'codedeploy.onpremises.yml'),
      '---\nregion: us-east-1\niam_user_arn: arn:aws:iam::123456789012:user/host\n',
    );
    await mkdir(join(root, 'etc', 'init.d'), { recursive: true });
    await writeFile(join(root, 'etc', 'init.d', 'codedeploy-agent'), '#!/bin/sh\n# official init script\n');
    // The last deployment the official agent made: its revision's ApplicationStop leaves a marker.
    const dep = join(rootDir, GROUP, OLD);
    await mkdir(join(dep, 'deployment-archive', 'scripts'), { recursive: true });
    await mkdir(join(dep, 'logs'), { recursive: true });
    await writeFile(join(dep, 'bundle.tar'), 'tar bytes');
    await writeFile(join(dep, 'logs', 'scripts.log'), '2026-11-30 12:00:01 LifecycleEvent - ApplicationStart\n');
    await writeFile(
      join(dep, 'deployment-archive', 'appspec.yml'),
      'version: 0.0\nos: linux\nhooks:\n  ApplicationStop:\n    - location: scripts/stop.sh\n',
    );
    await writeFile(
      join(dep, 'deployment-archive', 'scripts', 'stop.sh'),
      `#!/bin/sh\necho "stopping the official revision"\necho stopped >"${join(work, 'official-stop.marker')}"\n`,
    );
    await chmod(join(dep, 'deployment-archive', 'scripts', 'stop.sh'), 0o755);
    const instructions = join(rootDir, 'deployment-instructions');
    await mkdir(instructions, { recursive: true });
    await writeFile(join(instructions, `${GROUP}_last_successful_install`), dep);
    await writeFile(join(instructions, `${GROUP}_most_recent_install`), dep);
    await mkdir(join(rootDir, 'deployment-logs'), { recursive: true });
    await writeFile(
      join(rootDir, 'deployment-logs', 'codedeploy-agent-deployments.log'),
      `[2026-11-30 12:00:01.123] [${OLD}]LifecycleEvent - ApplicationStart\n`,
    );
  }

  it('without --migrate refuses and names it', async () => {
    await officialHost();
    const r = await install(root, ['--from', await hostRelease('m0', '0.1.0')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('--migrate');
    expect(existsSync(join(root, PREFIX, 'lib', 'instance_agent'))).toBe(true);
  });

  it('stops and disables the official agent, keeps config and history, installs this one', async () => {
    await officialHost();
    const configBefore = await readFile(join(root, CONF, 'codedeployagent.yml'));
    const onpremBefore = await readFile(join(root, CONF, 'codedeploy.onpremises.yml'));
    await writeFile(calls, '');
    const r = await install(root, ['--migrate', '--from', await tarball(await hostRelease('m1', '0.1.0'))]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('migrating from the official CodeDeploy agent OFFICIAL_1.8.1-2005_deb');
    const sc = await systemctlCalls();
    expect(sc.slice(0, 2)).toEqual(['stop codedeploy-agent', 'disable codedeploy-agent']);
    expect(sc.indexOf('enable --quiet codedeploy-agent.service')).toBeGreaterThan(1);
    expect(sc.at(-1)).toBe('restart codedeploy-agent.service');

    const P = join(root, PREFIX);
    expect(await readFile(join(root, CONF, 'codedeployagent.yml'))).toEqual(configBefore);
    expect(await readFile(join(root, CONF, 'codedeploy.onpremises.yml'))).toEqual(onpremBefore);
    expect(await readFile(join(P, '.version'), 'utf8')).toBe('agent_version: TS_0.1.0_tarball\n');
    expect(existsSync(join(P, 'lib'))).toBe(false);
    expect(existsSync(join(P, 'bin', 'install'))).toBe(false);
    expect(await readFile(join(rootDir, 'deployment-instructions', `${GROUP}_last_successful_install`), 'utf8')).toBe(
      join(rootDir, GROUP, OLD),
    );
    expect(await readFile(join(rootDir, GROUP, OLD, 'bundle.tar'), 'utf8')).toBe('tar bytes');
    expect(await readFile(join(rootDir, 'deployment-logs', 'codedeploy-agent-deployments.log'), 'utf8')).toContain(OLD);
    // The official program is kept beside the prefix, not deleted.
    const backups = (await readdir(join(root, 'opt'))).filter((n) => n.startsWith('codedeploy-agent.official-'));
    expect(backups).toHaveLength(1);
    const backup = join(root, 'opt', backups[0]!);
    expect(existsSync(join(backup, 'lib', 'instance_agent', 'agent.rb'))).toBe(true);
    expect(await readFile(join(backup, '.version'), 'utf8')).toContain('OFFICIAL_1.8.1');
    expect(existsSync(join(backup, 'service', 'codedeploy-agent'))).toBe(true);
    expect(existsSync(join(root, 'etc', 'init.d', 'codedeploy-agent'))).toBe(false);
  });

  it.skipIf(!existsSync(LOCAL_CLI))("the next deployment runs the official agent's last revision's ApplicationStop", async () => {
    // Continues from the migrated host above.
    expect(existsSync(join(rootDir, GROUP, OLD))).toBe(true);
    const revision = join(work, 'new-revision');
    await mkdir(revision, { recursive: true });
    await writeFile(join(revision, 'appspec.yml'), 'version: 0.0\nos: linux\n');
    const config = join(work, 'local.yml');
    await writeFile(config, `:root_dir: ${rootDir}\n:log_dir: ${join(work, 'local-log')}\n:working_directory: ${work}\n`);
    const r = await sh(process.execPath, [LOCAL_CLI, '-l', revision, '-t', 'directory', '-g', GROUP, '-c', config], {
      PATH: process.env.PATH,
      HOME: work,
    });
    expect(r.stdout).toContain('Local deployment successful');
    expect(await readFile(join(work, 'official-stop.marker'), 'utf8')).toBe('stopped\n');
    const newDeployment = (await readdir(join(rootDir, GROUP))).find((d) => d !== OLD)!;
    const scriptsLog = await readFile(join(rootDir, GROUP, OLD, 'logs', 'scripts.log'), 'utf8').catch(() => '');
    const newLog = await readFile(join(rootDir, GROUP, newDeployment, 'logs', 'scripts.log'), 'utf8').catch(() => '');
    expect(scriptsLog + newLog).toMatch(
      /LifecycleEvent - ApplicationStop\n.*Script - scripts\/stop\.sh\n.*\[stdout\]stopping the official revision/,
    );
  });
});
