/**
 * scripts/install.sh end to end, into a DESTDIR (no test touches the real /opt, /etc or /var):
 * a release tarball from scripts/build-release.sh is installed with non-default paths (so the
 * rewriting of the unit, config and logrotate policy shows), the installed launcher runs the
 * agent, a second run with the same release (this time the release's own install.sh, without
 * --from) changes no file's content or mode, an edited config survives, an upgrade from a
 * release directory keeps the config and the deployment history, and --uninstall / --purge
 * remove what they promise. Plus the refusals: a Node.js that is too old, the official agent.
 *
 * Dependencies are installed by the script's own `npm ci --omit=dev --prefer-offline` (the npm
 * cache answers after the project's own npm ci); better-sqlite3 comes from the release's
 * prebuilds/ (this machine's build), so nothing is compiled.
 */
import { execFile, type ExecFileException } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, cp, lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAgentConfig } from '../../agent/config/agent-config.js';

const execFileP = promisify(execFile);
const REPO = join(import.meta.dirname, '..', '..');
const INSTALL = join(REPO, 'scripts', 'install.sh');
const PREFIX = '/srv/cda';
const CONFIG_DIR = '/etc/codedeploy-agent-test/conf';
const LOG_DIR = '/var/log/cda-test';
const PATHS = ['--prefix', PREFIX, '--config-dir', CONFIG_DIR, '--log-dir', LOG_DIR];
const systemdAnalyze = ['/usr/bin/systemd-analyze', '/bin/systemd-analyze'].find((p) => existsSync(p));
const VERSION = (JSON.parse(await readFile(join(REPO, 'package.json'), 'utf8')) as { version: string }).version;

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** The environment of an operator's shell: npm's npm_* variables (set under `npm test`) dropped. */
function hostEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k)) env[k] = v;
  return { ...env, ...extra };
}

async function sh(file: string, args: string[], env: NodeJS.ProcessEnv, timeout = 120_000): Promise<Result> {
  try {
    const { stdout, stderr } = await execFileP(file, args, { env, timeout, maxBuffer: 16 * 1024 * 1024 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as ExecFileException & { stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? e.message };
  }
}

/** Every entry under root: type, mode, and content hash or link target. */
async function snapshot(root: string): Promise<string[]> {
  const lines: string[] = [];
  const walk = async (dir: string, rel: string): Promise<void> => {
    for (const name of (await readdir(dir)).sort()) {
      const path = join(dir, name);
      const r = rel ? `${rel}/${name}` : name;
      const s = await lstat(path);
      const mode = (s.mode & 0o7777).toString(8);
      if (s.isSymbolicLink()) lines.push(`l ${mode} ${r} -> ${await readlink(path)}`);
      else if (s.isDirectory()) {
        lines.push(`d ${mode} ${r}`);
        await walk(path, r);
      } else
        lines.push(
          `f ${mode} ${r} ${createHash('sha256')
            .update(await readFile(path))
            .digest('hex')}`,
        );
    }
  };
  await walk(root, '');
  return lines;
}

async function mode(path: string): Promise<number> {
  return (await stat(path)).mode & 0o777;
}

describe('scripts/install.sh', () => {
  let work: string;
  let tarball: string;
  let extracted: string;
  let destdir: string;
  const at = (p: string): string => join(destdir, p);
  const install = (args: string[], extra: Record<string, string> = {}, file = INSTALL): Promise<Result> =>
    sh(file, args, hostEnv({ DESTDIR: destdir, ...extra }));

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'cda-install-script-'));
    destdir = join(work, 'root');
    await mkdir(destdir);
    // `npm test` builds dist/ first; without it the release build compiles into its own stage.
    const noBuild = existsSync(join(REPO, 'dist', 'agent', 'cli', 'codedeploy-agent.js')) ? ['--no-build'] : [];
    // Only the tarball: the executables and packages have their own tests (test/release, test/packaging).
    const built = await sh(
      join(REPO, 'scripts', 'build-release.sh'),
      ['--out', join(work, 'release'), '--no-executables', ...noBuild],
      hostEnv({}),
    );
    expect(built.code, built.stderr).toBe(0);
    tarball =
      built.stdout
        .trim()
        .split('\n')
        .find((line) => line.endsWith('.tgz')) ?? '';
    expect(tarball).toBe(join(work, 'release', `codedeploy-agent-ts-${VERSION}.tgz`));
    extracted = join(work, 'extracted');
    await mkdir(extracted);
    await execFileP('tar', ['-xzf', tarball, '-C', extracted]);
  }, 180_000);

  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('ships what a host install needs in the release tarball', async () => {
    const pkg = join(extracted, 'package');
    for (const f of [
      'package.json',
      'npm-shrinkwrap.json',
      'conf/codedeployagent.yml',
      'dist/agent/cli/codedeploy-agent.js',
      'systemd/codedeploy-agent.service',
      'scripts/install.sh',
      'scripts/logrotate/codedeploy-agent',
    ]) {
      expect(existsSync(join(pkg, f)), f).toBe(true);
    }
    expect(await mode(join(pkg, 'scripts', 'install.sh'))).toBe(0o755);
    const prebuilds = await readdir(join(pkg, 'prebuilds'));
    expect(prebuilds).toEqual([expect.stringMatching(/^better-sqlite3-v[\d.]+-node-v\d+-linux-[a-z0-9]+\.tar\.gz$/)]);
  });

  it('refuses a Node.js that is too old, saying what to install', async () => {
    const fake = join(work, 'old-node');
    await mkdir(fake);
    await writeFile(join(fake, 'node'), '#!/bin/sh\necho v18.0.0\n', { mode: 0o755 });
    const r = await install(['--from', tarball, ...PATHS], { PATH: `${fake}:${process.env.PATH ?? ''}` });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`Node.js v18.0.0 at ${join(fake, 'node')} is too old: the agent needs Node.js 20 or later`);
    for (const distro of ['Debian / Ubuntu', 'Amazon Linux 2023', 'RHEL']) expect(r.stderr).toContain(distro);
    expect(await readdir(destdir)).toEqual([]);

    const missing = await install(['--from', tarball, '--node', join(work, 'no-such-node'), ...PATHS]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('is not an executable file');
    expect(missing.stderr).toContain('https://nodejs.org');
  });

  it('refuses to install over the official agent, and unsafe paths', async () => {
    const other = join(work, 'official');
    await mkdir(join(other, 'opt', 'codedeploy-agent', 'lib', 'instance_agent'), { recursive: true });
    const r = await sh(INSTALL, ['--from', tarball], hostEnv({ DESTDIR: other }));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('the official (Ruby) CodeDeploy agent is installed in /opt/codedeploy-agent');

    for (const [flag, bad, message] of [
      ['--prefix', 'opt/cda', 'must be an absolute path'],
      ['--prefix', '/usr', 'is a system directory'],
      ['--log-dir', '/var/log', 'is a system directory'],
      ['--prefix', '/opt/x/../y', 'must not contain . or ..'],
      ['--config-dir', '', 'must not be empty'],
    ] as const) {
      const refused = await install(['--from', tarball, flag, bad]);
      expect(refused.code, `${flag} ${bad}`).toBe(1);
      expect(refused.stderr, `${flag} ${bad}`).toContain(message);
    }
    expect(await readdir(destdir)).toEqual([]);
  });

  it('installs a release tarball into DESTDIR with production dependencies only', async () => {
    const r = await install(['--from', tarball, ...PATHS]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`installing codedeploy-agent ${VERSION} into ${PREFIX}`);
    expect(r.stdout).toContain(`wrote ${CONFIG_DIR}/codedeployagent.yml`);

    const prefix = at(PREFIX);
    expect(await mode(join(prefix, 'bin', 'codedeploy-agent'))).toBe(0o755);
    expect(await mode(join(prefix, 'bin', 'codedeploy-local'))).toBe(0o755);
    expect(existsSync(join(prefix, 'dist', 'agent', 'cli', 'codedeploy-agent.js'))).toBe(true);
    expect(await readFile(join(prefix, '.release'), 'utf8')).toMatch(
      new RegExp(`^version: ${VERSION.replaceAll('.', '\\.')}\nfingerprint: [0-9a-f]{64}\nnode_abi: \\d+-linux-`),
    );
    // The official version file operators check; the daemon keeps it current (platform/version-file.ts).
    expect(await readFile(join(prefix, '.version'), 'utf8')).toBe(`agent_version: TS_${VERSION}_npm\n`);
    const modules = await readdir(join(prefix, 'node_modules'));
    for (const dep of ['pino', 'yaml', 'tar', 'better-sqlite3', '@aws-sdk']) expect(modules, dep).toContain(dep);
    for (const dev of ['vitest', 'typescript', 'eslint', 's3rver', '@vitest', 'typescript-eslint']) expect(modules, dev).not.toContain(dev);
    // The control plane's add-host registers hosts through the public API: a runtime dependency now.
    expect(existsSync(join(prefix, 'node_modules', '@aws-sdk', 'client-codedeploy'))).toBe(true);
    for (const dev of ['client-sns', 'client-elastic-load-balancing-v2'])
      expect(existsSync(join(prefix, 'node_modules', '@aws-sdk', dev)), dev).toBe(false);
    // The native module came from the release's prebuild: loadable, and no compiler output.
    expect(await readdir(join(prefix, 'node_modules', 'better-sqlite3', 'build'))).toEqual(['Release']);
    // Nothing is left of the staging.
    expect(await readdir(at('/srv'))).toEqual(['cda']);

    // Directories: deployment root and logs private; the pid directory readable for `status`.
    expect(await mode(at(`${PREFIX}/deployment-root`))).toBe(0o700);
    expect(await mode(at(LOG_DIR))).toBe(0o750);
    expect(await mode(at(`${PREFIX}/state/.pid`))).toBe(0o755);

    // The config: 0644, our paths, and the agent loads it cleanly.
    const configFile = at(`${CONFIG_DIR}/codedeployagent.yml`);
    expect(await mode(configFile)).toBe(0o644);
    const { config, warnings } = parseAgentConfig(await readFile(configFile, 'utf8'), `${CONFIG_DIR}/codedeployagent.yml`);
    expect(warnings).toEqual([]);
    expect(config).toMatchObject({
      rootDir: `${PREFIX}/deployment-root`,
      pidDir: `${PREFIX}/state/.pid`,
      logDir: LOG_DIR,
      workingDirectory: PREFIX,
      onPremisesConfigFile: `${CONFIG_DIR}/codedeploy.onpremises.yml`,
    });

    // The unit and the logrotate policy point at this install, and at nothing of the defaults.
    const unit = await readFile(at('/etc/systemd/system/codedeploy-agent.service'), 'utf8');
    expect(await mode(at('/etc/systemd/system/codedeploy-agent.service'))).toBe(0o644);
    expect(unit).toContain(`exec ${PREFIX}/bin/codedeploy-agent start --config_file ${CONFIG_DIR}/codedeployagent.yml'`);
    expect(unit).toMatch(new RegExp(`^WorkingDirectory=${PREFIX}$`, 'm'));
    if (systemdAnalyze) {
      const verify = await sh(
        systemdAnalyze,
        ['verify', at('/etc/systemd/system/codedeploy-agent.service')],
        hostEnv({ SYSTEMD_LOG_COLOR: '0' }),
      );
      expect(verify).toEqual({ code: 0, stdout: '', stderr: '' });
    }
    const logrotate = await readFile(at('/etc/logrotate.d/codedeploy-agent'), 'utf8');
    expect(logrotate).toContain(`${PREFIX}/deployment-root/*/*/logs/scripts.log {`);
    for (const text of [unit, logrotate, await readFile(configFile, 'utf8')]) {
      expect(text).not.toMatch(/\/opt\/codedeploy-agent|\/etc\/codedeploy-agent\/conf|\/var\/log\/aws/);
    }
    expect(await readlink(at('/usr/local/bin/codedeploy-agent'))).toBe(`${PREFIX}/bin/codedeploy-agent`);
    expect(await readlink(at('/usr/local/bin/codedeploy-local'))).toBe(`${PREFIX}/bin/codedeploy-local`);
  }, 180_000);

  it('runs the installed agent through its launcher', async () => {
    const env = hostEnv({});
    const version = await sh(at(`${PREFIX}/bin/codedeploy-agent`), ['version'], env);
    expect(version).toMatchObject({ code: 0, stdout: `${VERSION}\n` });

    const validate = await sh(at(`${PREFIX}/bin/codedeploy-agent`), ['validate', join(REPO, 'samples', 'hello-app')], env);
    expect(validate.code, validate.stderr).toBe(0);
    expect(validate.stdout).toContain('appspec.yml: valid');
    const broken = join(work, 'broken-app');
    await mkdir(broken);
    await writeFile(join(broken, 'appspec.yml'), 'version: 0.0\nos: linux\nhooks:\n  BeforeInstall:\n    - location: missing.sh\n');
    const invalid = await sh(at(`${PREFIX}/bin/codedeploy-agent`), ['validate', broken], env);
    expect(invalid.code).toBe(1);

    const local = await sh(at(`${PREFIX}/bin/codedeploy-local`), ['--help'], env);
    expect(local.code, local.stderr).toBe(0);
    expect(local.stdout).toContain('codedeploy-local');

    const sqlite = await sh(
      process.execPath,
      [
        '-e',
        'const D = require(process.argv[1]); process.stdout.write(String(new D(":memory:").prepare("select 41 + 1 as x").get().x))',
        at(`${PREFIX}/node_modules/better-sqlite3`),
      ],
      env,
    );
    expect(sqlite).toMatchObject({ code: 0, stdout: '42' });
  });

  it('changes nothing when run again (the release’s own install.sh, no --from), keeping an edited config', async () => {
    const configFile = at(`${CONFIG_DIR}/codedeployagent.yml`);
    const edited = `${await readFile(configFile, 'utf8')}:verbose: true\n`;
    await writeFile(configFile, edited);
    await chmod(configFile, 0o600);
    const before = await snapshot(destdir);

    const r = await install(PATHS, {}, join(extracted, 'package', 'scripts', 'install.sh'));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`codedeploy-agent ${VERSION} is already installed in ${PREFIX}; program files unchanged`);
    expect(r.stdout).toContain(`keeping the existing ${CONFIG_DIR}/codedeployagent.yml`);
    expect(await snapshot(destdir)).toEqual(before);
    expect(await readFile(configFile, 'utf8')).toBe(edited);
  });

  // The systemctl calls, with systemd "running": in a private mount namespace, tmpfs over every
  // directory the installer writes to (the real ones are never touched) and a recording fake
  // systemctl. Needs root and mount namespaces; skipped where they are not available.
  const sim = `set -eu
for d in /srv /var/log /usr/local/bin /etc/systemd/system /etc/logrotate.d /run; do
  [ -d "$d" ] || { echo "no $d to mount over" >&2; exit 3; }
  mount -t tmpfs tmpfs "$d"
done
[ "$1" = probe ] && exit 0
mkdir -p /run/systemd/system /run/fake
cat >/run/fake/systemctl <<'FAKE'
#!/bin/sh
echo "systemctl $*" >>/run/calls
case "$1" in
  is-active) [ -f /run/active ] ;;
  is-enabled) [ -f /run/enabled ] ;;
  enable) touch /run/enabled ;;
  start | restart) touch /run/active ;;
  stop) rm -f /run/active ;;
  disable) rm -f /run/enabled /run/active ;;
esac
FAKE
chmod +x /run/fake/systemctl
export PATH="/run/fake:$PATH"
cp -a "$2" /srv/cda
shift 2
echo "== first run" >>/run/calls; "$@" >/dev/null
echo "== second run" >>/run/calls; "$@" >/dev/null
echo "== forced" >>/run/calls; "$@" --force >/dev/null
echo "== uninstall" >>/run/calls; "$@" --uninstall >/dev/null
[ ! -e /srv/cda/bin ] && [ ! -e /etc/systemd/system/codedeploy-agent.service ]
cat /run/calls
`;
  const unshare = ['/usr/bin/unshare', '/bin/unshare'].find((p) => existsSync(p));
  const canSimulate = async (): Promise<boolean> => {
    if (!unshare || process.getuid?.() !== 0) return false;
    const probe = await sh(unshare, ['-m', '--propagation', 'private', 'sh', '-c', sim, 'sim', 'probe'], hostEnv({}));
    return probe.code === 0;
  };
  it('enables and starts the service when systemd runs the host, restarts it after an upgrade, disables it on --uninstall', async (ctx) => {
    if (!(await canSimulate())) ctx.skip('needs root and mount namespaces (unshare -m) to fake a systemd host');
    const args = [INSTALL, '--from', tarball, '--prefix', PREFIX, '--config-dir', '/srv/cda-conf/conf', '--log-dir', LOG_DIR];
    const r = await sh(
      unshare ?? 'unshare',
      ['-m', '--propagation', 'private', 'sh', '-c', sim, 'sim', 'run', at(PREFIX), ...args],
      hostEnv({}),
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual([
      // The program is the one in DESTDIR already (same release): only the unit is new.
      '== first run',
      'systemctl daemon-reload',
      'systemctl is-enabled --quiet codedeploy-agent.service',
      'systemctl enable --quiet codedeploy-agent.service',
      'systemctl restart codedeploy-agent.service',
      '== second run',
      'systemctl is-enabled --quiet codedeploy-agent.service',
      'systemctl start codedeploy-agent.service',
      // A new program: stopped before the swap, started after it.
      '== forced',
      'systemctl is-active --quiet codedeploy-agent.service',
      'systemctl stop codedeploy-agent.service',
      'systemctl is-enabled --quiet codedeploy-agent.service',
      'systemctl restart codedeploy-agent.service',
      '== uninstall',
      'systemctl disable --now codedeploy-agent.service',
      'systemctl daemon-reload',
    ]);
  }, 180_000);

  it('upgrades in place from a release directory, keeping the config and the deployment history', async () => {
    const history = at(`${PREFIX}/deployment-root/group-1/d-ABCDEFGHI/logs/scripts.log`);
    await mkdir(join(history, '..'), { recursive: true });
    await writeFile(history, '2024-05-01 12:00:01 LifecycleEvent - BeforeInstall\n');
    await writeFile(at(`${PREFIX}/dist/stale-file.js`), '// from an older release\n');
    const configBefore = await readFile(at(`${CONFIG_DIR}/codedeployagent.yml`), 'utf8');

    // The next release: the same files with another version.
    const next = join(work, 'next-release');
    await cp(join(extracted, 'package'), next, { recursive: true });
    const pkg = JSON.parse(await readFile(join(next, 'package.json'), 'utf8')) as { version: string };
    pkg.version = `${VERSION}-next`;
    await writeFile(join(next, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);

    const r = await install(['--from', next, ...PATHS]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`installing codedeploy-agent ${VERSION}-next into ${PREFIX}`);
    const version = await sh(at(`${PREFIX}/bin/codedeploy-agent`), ['version'], hostEnv({}));
    expect(version.stdout).toBe(`${VERSION}-next\n`);
    expect(await readFile(at(`${PREFIX}/.version`), 'utf8')).toBe(`agent_version: TS_${VERSION}-next_npm\n`);
    expect(await readFile(history, 'utf8')).toContain('LifecycleEvent - BeforeInstall');
    expect(await readFile(at(`${CONFIG_DIR}/codedeployagent.yml`), 'utf8')).toBe(configBefore);
    expect(existsSync(at(`${PREFIX}/dist/stale-file.js`))).toBe(false);
    expect(await mode(at(`${PREFIX}/deployment-root`))).toBe(0o700);
    expect(await readdir(at('/srv'))).toEqual(['cda']);
  }, 180_000);

  it('--uninstall removes the program but keeps the deployment history, config and logs', async () => {
    await writeFile(at(`${LOG_DIR}/codedeploy-agent.log`), '{"msg":"Polling for commands"}\n');
    const r = await install(['--uninstall', ...PATHS]);
    expect(r.code, r.stderr).toBe(0);
    expect(await readdir(at(PREFIX))).toEqual(['deployment-root']);
    expect(existsSync(at(`${PREFIX}/deployment-root/group-1/d-ABCDEFGHI/logs/scripts.log`))).toBe(true);
    expect(existsSync(at(`${CONFIG_DIR}/codedeployagent.yml`))).toBe(true);
    expect(existsSync(at(`${LOG_DIR}/codedeploy-agent.log`))).toBe(true);
    for (const gone of [
      '/etc/systemd/system/codedeploy-agent.service',
      '/etc/logrotate.d/codedeploy-agent',
      '/usr/local/bin/codedeploy-agent',
      '/usr/local/bin/codedeploy-local',
    ]) {
      expect(existsSync(at(gone)) || (await lstat(at(gone)).catch(() => undefined)) !== undefined, gone).toBe(false);
    }
  });

  it('--uninstall --purge removes the history, config and logs too', async () => {
    const r = await install(['--uninstall', '--purge', ...PATHS]);
    expect(r.code, r.stderr).toBe(0);
    for (const gone of [PREFIX, CONFIG_DIR, '/etc/codedeploy-agent-test', LOG_DIR]) expect(existsSync(at(gone)), gone).toBe(false);
    // Only empty directories of the staging root remain (etc/systemd/system, usr/local/bin, ...).
    expect((await snapshot(destdir)).filter((l) => !l.startsWith('d '))).toEqual([]);
  });

  const shellcheck = ['/usr/bin/shellcheck', '/bin/shellcheck', '/usr/local/bin/shellcheck'].find((p) => existsSync(p));
  it.skipIf(!shellcheck)(
    `is shellcheck-clean${shellcheck ? '' : ' (skipped: shellcheck is not installed; apt-get install shellcheck)'}`,
    async () => {
      const r = await sh(shellcheck ?? 'shellcheck', [INSTALL, join(REPO, 'scripts', 'build-release.sh')], hostEnv({}));
      expect(r.stdout + r.stderr).toBe('');
      expect(r.code).toBe(0);
    },
  );
});
