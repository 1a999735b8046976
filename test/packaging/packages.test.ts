/**
 * scripts/packaging/build-packages.sh: the .deb and .rpm built around a stand-in executable,
 * their metadata and file lists, and their whole life in a scratch root (never the real /):
 * install, upgrade with an edited config, reinstall, remove and purge (deb) or erase (rpm).
 *
 * dpkg runs the maintainer scripts outside a chroot (--force-script-chrootless) with DPKG_ROOT
 * set, which the scripts honour; rpm chroots its scriptlets, so the rpm root gets a /bin/sh and
 * the few tools they use (copied with their libraries), and that part needs root. No systemd
 * runs in either root: the scripts must skip systemctl there (test/packaging/nspawn.test.ts
 * covers the real service).
 */
import { existsSync } from 'node:fs';
import { appendFile, copyFile, lstat, mkdir, mkdtemp, readFile, readlink, realpath, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUILD, buildPackages, ok, onPath, run, writeStandIn } from './package-tools.js';

const V1 = '0.1.0';
const V2 = '0.1.1';
const CONFIG = 'etc/codedeploy-agent/conf/codedeployagent.yml';
const hasDpkg = onPath('dpkg-deb') && onPath('dpkg');
const hasRpm = onPath('rpmbuild') && onPath('rpm');
const isRoot = process.getuid?.() === 0;
if (!hasRpm) console.warn('packages.test: rpm/rpmbuild not installed (apt-get install rpm): the .rpm tests are skipped');
if (hasRpm && !isRoot) console.warn('packages.test: not root: the rpm scratch-root install (rpm chroots its scriptlets) is skipped');

let work = '';
const built: Record<string, string> = {};

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'cda-packages-'));
  const formats = hasRpm ? 'all' : 'deb';
  for (const v of [V1, V2]) {
    const exe = join(work, `exe-${v}`);
    await writeStandIn(exe, v);
    for (const p of await buildPackages(['--exe', exe, '--arch', 'x64', '--version', v, '--out', join(work, 'out'), '--format', formats])) {
      built[basename(p)] = p;
    }
  }
}, 120_000);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

const deb = (v: string): string => built[`codedeploy-agent_${v}_amd64.deb`] ?? '';
const rpmFile = (v: string): string => built[`codedeploy-agent-${v}-1.x86_64.rpm`] ?? '';

async function mode(p: string): Promise<string> {
  return ((await stat(p)).mode & 0o7777).toString(8).padStart(4, '0');
}

describe('build-packages.sh', () => {
  it('prints its usage, and refuses a bad architecture, version or missing executable', async () => {
    const help = await run(BUILD, ['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('--exe PATH');
    const exe = join(work, `exe-${V1}`);
    const badArch = await run(BUILD, ['--exe', exe, '--arch', 'ia64', '--out', work]);
    expect(badArch.code).not.toBe(0);
    expect(badArch.stderr).toContain('x64 or arm64');
    const badVersion = await run(BUILD, ['--exe', exe, '--arch', 'x64', '--version', '1.0-2', '--out', work]);
    expect(badVersion.code).not.toBe(0);
    const noExe = await run(BUILD, ['--exe', join(work, 'missing'), '--arch', 'x64', '--version', V1, '--out', work]);
    expect(noExe.stderr).toContain('does not exist');
  });

  it('refuses an ELF executable of the other architecture', async () => {
    const elf = join(work, 'elf-x64');
    await copyFile(process.execPath, elf); // this machine's node: x64 here
    const other = process.arch === 'x64' ? 'arm64' : 'x64';
    const r = await run(BUILD, ['--exe', elf, '--arch', other, '--version', V1, '--out', join(work, 'elf-out'), '--format', 'deb']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('ELF executable for machine');
  });

  it.runIf(hasDpkg)('names the arm64 packages by each format’s architecture', async () => {
    const paths = await buildPackages([
      '--exe',
      join(work, `exe-${V1}`),
      '--arch',
      'arm64',
      '--version',
      V1,
      '--out',
      join(work, 'arm'),
      '--format',
      hasRpm ? 'all' : 'deb',
    ]);
    expect(paths.map((p) => basename(p))).toEqual([
      `codedeploy-agent_${V1}_arm64.deb`,
      ...(hasRpm ? [`codedeploy-agent-${V1}-1.aarch64.rpm`] : []),
    ]);
    expect(await ok('dpkg-deb', ['--field', paths[0]!, 'Architecture'])).toBe('arm64\n');
    if (hasRpm) expect(await ok('rpm', ['-qp', '--qf', '%{ARCH}', paths[1]!])).toBe('aarch64');
  });

  it.runIf(hasDpkg)('builds the same bytes twice (SOURCE_DATE_EPOCH, root owner, sorted)', async () => {
    const again = await buildPackages([
      '--exe',
      join(work, `exe-${V1}`),
      '--arch',
      'x64',
      '--version',
      V1,
      '--out',
      join(work, 'again'),
      '--format',
      hasRpm ? 'all' : 'deb',
    ]);
    expect(await readFile(again[0]!)).toEqual(await readFile(deb(V1)));
    if (hasRpm) expect(await readFile(again[1]!)).toEqual(await readFile(rpmFile(V1)));
  });
});

describe.runIf(hasDpkg)('.deb', () => {
  it('has the official package name, an epoch above the official 1.x, and its conffiles', async () => {
    const info = await ok('dpkg-deb', ['--info', deb(V1)]);
    expect(info).toMatch(/^ Package: codedeploy-agent$/m);
    expect(info).toMatch(/^ Version: 1:0\.1\.0$/m);
    expect(info).toMatch(/^ Architecture: amd64$/m);
    const conffiles = await ok('sh', ['-c', 'dpkg-deb --ctrl-tarfile "$1" | tar -xOf - ./conffiles', 'sh', deb(V1)]);
    expect(conffiles.trim().split('\n')).toEqual(['/etc/codedeploy-agent/conf/codedeployagent.yml', '/etc/logrotate.d/codedeploy-agent']);
    // The epoch makes it an upgrade of the official package, whatever its 1.x.
    expect((await run('dpkg', ['--compare-versions', '1:0.1.0', 'gt', '1.8.1-1'])).code).toBe(0);
  });

  it('holds the executable, the codedeploy-local link, .version, config, unit and logrotate policy, owned by root', async () => {
    const lines = (await ok('dpkg-deb', ['--contents', deb(V1)])).trim().split('\n');
    const entries = new Map(
      lines.map((l) => {
        const f = l.split(/\s+/);
        return [f[5]!.replace(/^\./, ''), { perms: f[0]!, owner: f[1]!, target: f[7] }] as const;
      }),
    );
    for (const e of entries.values()) expect(e.owner).toBe('root/root');
    expect(entries.get('/opt/codedeploy-agent/bin/codedeploy-agent')?.perms).toBe('-rwxr-xr-x');
    expect(entries.get('/opt/codedeploy-agent/bin/codedeploy-local')).toMatchObject({ perms: 'lrwxrwxrwx', target: 'codedeploy-agent' });
    expect(entries.get('/usr/bin/codedeploy-agent')?.target).toBe('/opt/codedeploy-agent/bin/codedeploy-agent');
    for (const f of [
      '/opt/codedeploy-agent/.version',
      // The unit's Documentation=file:/opt/codedeploy-agent/README.md.
      '/opt/codedeploy-agent/README.md',
      `/${CONFIG}`,
      '/etc/logrotate.d/codedeploy-agent',
      '/usr/lib/systemd/system/codedeploy-agent.service',
    ]) {
      expect(entries.get(f)?.perms, f).toBe('-rw-r--r--');
    }
  });

  it.runIf(onPath('shellcheck'))('has shellcheck-clean maintainer scripts', async () => {
    const ctrl = join(work, 'ctrl');
    await ok('dpkg-deb', ['--control', deb(V1), ctrl]);
    // SC2317: each script carries all of maint/functions.sh and calls only some of it.
    await ok('shellcheck', ['-s', 'sh', '-e', 'SC2317', join(ctrl, 'postinst'), join(ctrl, 'prerm'), join(ctrl, 'postrm')]);
  });

  it('installs, upgrades keeping an edited config, reinstalls, removes and purges in a scratch root', async () => {
    const root = join(work, 'deb-root');
    for (const d of ['info', 'updates', 'triggers']) await mkdir(join(root, 'var/lib/dpkg', d), { recursive: true });
    await writeFile(join(root, 'var/lib/dpkg/status'), '');
    await writeFile(join(root, 'var/lib/dpkg/available'), '');
    // The scratch root has no libc6 package: --force-depends. No chroot: the scripts use $DPKG_ROOT.
    const dpkg = (...args: string[]): Promise<string> =>
      ok('dpkg', [`--root=${root}`, '--force-script-chrootless', '--force-depends', '--force-confold', ...args]);
    const at = (p: string): string => join(root, p);

    await dpkg('-i', deb(V1));
    expect(await readFile(at('opt/codedeploy-agent/.version'), 'utf8')).toBe(`agent_version: TS_${V1}_deb\n`);
    expect(await readlink(at('opt/codedeploy-agent/bin/codedeploy-local'))).toBe('codedeploy-agent');
    expect(await ok(at('opt/codedeploy-agent/bin/codedeploy-agent'), ['--version'])).toBe(`${V1}\n`);
    expect(await mode(at('opt/codedeploy-agent/deployment-root'))).toBe('0700');
    expect(await mode(at('var/log/aws/codedeploy-agent'))).toBe('0750');
    expect(await mode(at('opt/codedeploy-agent/state/.pid'))).toBe('0755');
    expect(await ok('dpkg-query', [`--admindir=${at('var/lib/dpkg')}`, '-W', '-f', '${Version} ${Status}', 'codedeploy-agent'])).toBe(
      '1:0.1.0 install ok installed',
    );

    // History and an operator's edit survive the upgrade.
    await appendFile(at(CONFIG), ':verbose: true\n');
    await writeFile(at('opt/codedeploy-agent/deployment-root/history'), 'kept');
    await dpkg('-i', deb(V2));
    expect(await readFile(at('opt/codedeploy-agent/.version'), 'utf8')).toBe(`agent_version: TS_${V2}_deb\n`);
    expect(await readFile(at(CONFIG), 'utf8')).toContain(':verbose: true\n');
    expect(existsSync(at('opt/codedeploy-agent/deployment-root/history'))).toBe(true);

    await dpkg('-i', deb(V2)); // reinstall
    expect(await ok(at('opt/codedeploy-agent/bin/codedeploy-local'), ['version'])).toBe(`${V2}\n`);
    expect(await readlink(at('usr/bin/codedeploy-agent'))).toBe('/opt/codedeploy-agent/bin/codedeploy-agent');

    // Remove: the program goes; config, history and logs stay.
    await dpkg('--remove', 'codedeploy-agent');
    expect(existsSync(at('opt/codedeploy-agent/bin/codedeploy-agent'))).toBe(false);
    expect(existsSync(at('usr/lib/systemd/system/codedeploy-agent.service'))).toBe(false);
    expect(await readFile(at(CONFIG), 'utf8')).toContain(':verbose: true\n');
    expect(existsSync(at('opt/codedeploy-agent/deployment-root/history'))).toBe(true);
    expect(existsSync(at('var/log/aws/codedeploy-agent'))).toBe(true);

    // Purge: everything the package and its scripts made.
    await dpkg('--purge', 'codedeploy-agent');
    for (const p of ['etc/codedeploy-agent', 'etc/logrotate.d/codedeploy-agent', 'opt/codedeploy-agent', 'var/log/aws']) {
      expect(existsSync(at(p)), p).toBe(false);
    }
    expect((await run('dpkg-query', [`--admindir=${at('var/lib/dpkg')}`, '-W', 'codedeploy-agent'])).code).not.toBe(0);
  });
});

/** A root where rpm's chrooted scriptlets find /bin/sh and the tools they call, with libraries. */
async function shellRoot(root: string): Promise<void> {
  const tools = ['sh', 'mkdir', 'chmod', 'rm', 'rmdir', 'sed', 'tail', 'tr', 'wc'];
  for (const tool of tools) {
    const found = (await ok('sh', ['-c', `command -v ${tool}`])).trim();
    const real = await realpath(found);
    const libs = (await run('ldd', [real])).stdout.match(/\/\S+/g) ?? [];
    for (const f of [...libs]) {
      await mkdir(join(root, dirname(f)), { recursive: true });
      await copyFile(await realpath(f), join(root, f));
    }
    for (const dir of ['bin', 'usr/bin']) {
      await mkdir(join(root, dir), { recursive: true });
      await copyFile(real, join(root, dir, tool));
    }
  }
}

describe.runIf(hasRpm)('.rpm', () => {
  it('has the official name, epoch 1, the architecture, config files and scriptlets', async () => {
    const qf = '%{NAME} %{EPOCH}:%{VERSION}-%{RELEASE} %{ARCH}';
    expect(await ok('rpm', ['-qp', '--qf', qf, rpmFile(V1)])).toBe('codedeploy-agent 1:0.1.0-1 x86_64');
    const list = (await ok('rpm', ['-qlp', rpmFile(V1)])).trim().split('\n');
    expect(list).toEqual(
      expect.arrayContaining([
        '/opt/codedeploy-agent/bin/codedeploy-agent',
        '/opt/codedeploy-agent/bin/codedeploy-local',
        '/opt/codedeploy-agent/.version',
        '/opt/codedeploy-agent/README.md',
        `/${CONFIG}`,
        '/etc/logrotate.d/codedeploy-agent',
        '/usr/lib/systemd/system/codedeploy-agent.service',
      ]),
    );
    expect((await ok('rpm', ['-qcp', rpmFile(V1)])).trim().split('\n')).toEqual([`/${CONFIG}`, '/etc/logrotate.d/codedeploy-agent']);
    const owners = await ok('rpm', ['-qp', '--qf', '[%{FILEUSERNAME}:%{FILEGROUPNAME}\\n]', rpmFile(V1)]);
    expect(new Set(owners.trim().split('\n'))).toEqual(new Set(['root:root']));
    const scripts = await ok('rpm', ['-qp', '--scripts', rpmFile(V1)]);
    expect(scripts).toMatch(/postinstall scriptlet[\s\S]*cda_enable_and_restart/);
    expect(scripts).toMatch(/preuninstall scriptlet[\s\S]*if \[ "\$1" = 0 \]; then\s+cda_stop_and_disable/);
    expect(scripts).not.toContain('%%');
  });

  it.runIf(isRoot)('installs, upgrades keeping an edited config, and erases in a scratch root', async () => {
    const root = join(work, 'rpm-root');
    await shellRoot(root);
    const rpm = (...args: string[]): Promise<string> => ok('rpm', ['--root', root, '--dbpath', '/var/lib/rpm', ...args]);
    const at = (p: string): string => join(root, p);
    await rpm('--initdb');

    await rpm('-i', '--nodeps', rpmFile(V1));
    expect(await readFile(at('opt/codedeploy-agent/.version'), 'utf8')).toBe(`agent_version: TS_${V1}_rpm\n`);
    expect((await lstat(at('opt/codedeploy-agent/bin/codedeploy-local'))).isSymbolicLink()).toBe(true);
    expect(await mode(at('opt/codedeploy-agent/deployment-root'))).toBe('0700');
    expect(await mode(at('var/log/aws/codedeploy-agent'))).toBe('0750');

    await appendFile(at(CONFIG), ':verbose: true\n');
    await writeFile(at('opt/codedeploy-agent/deployment-root/history'), 'kept');
    await rpm('-U', '--nodeps', rpmFile(V2));
    expect(await rpm('-q', 'codedeploy-agent')).toBe(`codedeploy-agent-${V2}-1.x86_64\n`);
    expect(await readFile(at('opt/codedeploy-agent/.version'), 'utf8')).toBe(`agent_version: TS_${V2}_rpm\n`);
    expect(await readFile(at(CONFIG), 'utf8')).toContain(':verbose: true\n');

    await rpm('-U', '--replacepkgs', '--nodeps', rpmFile(V2)); // reinstall
    expect(await readFile(at(CONFIG), 'utf8')).toContain(':verbose: true\n');

    // Erase: rpm keeps the edited config as .rpmsave; history and logs stay (rpm has no purge).
    await rpm('-e', '--nodeps', 'codedeploy-agent');
    expect(existsSync(at('opt/codedeploy-agent/bin/codedeploy-agent'))).toBe(false);
    expect(await readFile(at(`${CONFIG}.rpmsave`), 'utf8')).toContain(':verbose: true\n');
    expect(existsSync(at('opt/codedeploy-agent/deployment-root/history'))).toBe(true);
    expect(existsSync(at('var/log/aws/codedeploy-agent'))).toBe(true);
  });
});

/**
 * The executable is Node.js with the agent inside: every shared library the Node.js binary links
 * (readelf NEEDED) must come from a package the .deb depends on and the .rpm requires. A minimal
 * Debian has no libatomic1: without the dependency the service failed with exit 127 under systemd.
 */
const NODE_26 = join(dirname(BUILD), '..', '..', '.cache', 'node', `26.12.1-${process.arch}`, 'bin', 'node');
const LIBRARY_PACKAGES: Record<string, { deb: string; rpm: string }> = {
  'libatomic.so.1': { deb: 'libatomic1', rpm: 'libatomic' },
  'libstdc++.so.6': { deb: 'libstdc++6', rpm: 'libstdc++' },
  'libgcc_s.so.1': { deb: 'libgcc-s1', rpm: 'libgcc' },
};
const GLIBC = /^(libc|libm|libdl|libpthread|librt|ld-linux[-\w]*)\.so/;

describe.runIf(existsSync(NODE_26) && onPath('readelf') && process.arch === 'x64')('package dependencies', () => {
  it('cover every library the embedded Node.js links', async () => {
    const needed = [...(await ok('readelf', ['-d', NODE_26])).matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1]!);
    expect(needed.length).toBeGreaterThan(3);
    const script = await readFile(BUILD, 'utf8');
    const depends = /^Depends: (.*)$/m.exec(script)?.[1] ?? '';
    const requires = /^Requires: (.*)$/m.exec(script)?.[1] ?? '';
    for (const lib of needed) {
      if (GLIBC.test(lib)) {
        expect(depends).toContain('libc6');
        expect(requires).toContain('glibc');
        continue;
      }
      const pkg = LIBRARY_PACKAGES[lib];
      expect(pkg, `${lib}: which package provides it? add it to LIBRARY_PACKAGES and to build-packages.sh`).toBeDefined();
      expect(
        depends.split(/[,|]/).map((d) => d.trim().split(' ')[0]),
        lib,
      ).toContain(pkg!.deb);
      expect(
        requires.split(',').map((r) => r.trim().split(' ')[0]),
        lib,
      ).toContain(pkg!.rpm);
    }
  });
});
