/**
 * The .deb under a real systemd: debootstrap a Debian root, boot it with systemd-nspawn, and
 * inside it install the package, see the unit reach "active" (Type=notify: only after READY=1),
 * stop it, and remove the package. Runs only with CDA_NSPAWN_TEST=1 (root, debootstrap,
 * systemd-nspawn from systemd-container, a Debian mirror, several minutes).
 *
 * No systemd is needed on the host (--register=no --keep-unit: no machined, no scope unit): a oneshot unit inside the container runs the checks at
 * boot, writes their output to /root/result and powers the container off, which ends nspawn.
 *
 * Environment: CDA_NSPAWN_MIRROR (default http://deb.debian.org/debian), CDA_NSPAWN_SUITE
 * (default bookworm), CDA_NSPAWN_ROOT (reuse a root debootstrapped before, to save minutes),
 * CDA_NSPAWN_EXE (the real executable instead of the stand-in).
 */
import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildPackages, ok, onPath, writeStandIn } from './package-tools.js';

const enabled = process.env.CDA_NSPAWN_TEST === '1';
if (!enabled) console.warn('nspawn.test: skipped; set CDA_NSPAWN_TEST=1 (needs root, debootstrap, systemd-nspawn and a Debian mirror)');
const MIRROR = process.env.CDA_NSPAWN_MIRROR ?? 'http://deb.debian.org/debian';
const SUITE = process.env.CDA_NSPAWN_SUITE ?? 'bookworm';
const VERSION = '0.1.0';

let work = '';
afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

/** What runs inside the booted container; every line of its output goes to /root/result. */
const CHECKS = `#!/bin/sh
set -x
dpkg -i /root/codedeploy-agent.deb; echo "install=$?"
echo "active=$(systemctl is-active codedeploy-agent)"
echo "enabled=$(systemctl is-enabled codedeploy-agent)"
echo "status=$(systemctl show -p StatusText --value codedeploy-agent)"
systemctl stop codedeploy-agent; echo "stop=$?"
echo "after_stop=$(systemctl is-active codedeploy-agent)"
systemctl start codedeploy-agent
dpkg --purge codedeploy-agent; echo "purge=$?"
echo "after_purge=$(systemctl is-active codedeploy-agent)"
echo "unit_left=$(ls /etc/systemd/system/multi-user.target.wants/codedeploy-agent.service 2>/dev/null)"
echo done=1
`;

const CHECK_UNIT = `[Unit]
Description=codedeploy-agent package checks
After=multi-user.target

[Service]
Type=oneshot
ExecStart=/bin/sh -c '/root/checks.sh >/root/result 2>&1'
ExecStopPost=/bin/systemctl poweroff --no-block

[Install]
WantedBy=multi-user.target
`;

describe.runIf(enabled)('the .deb under systemd (systemd-nspawn)', () => {
  it('installs, reaches active via READY=1, stops, and purges', { timeout: 20 * 60_000 }, async () => {
    expect(process.getuid?.(), 'needs root').toBe(0);
    expect(onPath('systemd-nspawn'), 'apt-get install systemd-container').toBe(true);
    work = await mkdtemp(join(tmpdir(), 'cda-nspawn-'));
    let exe = process.env.CDA_NSPAWN_EXE ?? '';
    if (!exe) {
      exe = join(work, 'exe');
      await writeStandIn(exe, VERSION);
    }
    const [deb] = await buildPackages([
      '--exe',
      exe,
      '--arch',
      process.arch === 'arm64' ? 'arm64' : 'x64',
      '--version',
      VERSION,
      '--out',
      work,
      '--format',
      'deb',
    ]);

    let root = process.env.CDA_NSPAWN_ROOT ?? '';
    if (!root || !existsSync(join(root, 'usr/lib/systemd/systemd'))) {
      expect(onPath('debootstrap'), 'apt-get install debootstrap').toBe(true);
      root = root || join(work, 'root');
      await ok('debootstrap', ['--variant=minbase', '--include=systemd,systemd-sysv,dbus', SUITE, root, MIRROR], { timeout: 15 * 60_000 });
    }
    await copyFile(deb!, join(root, 'root/codedeploy-agent.deb'));
    await writeFile(join(root, 'root/checks.sh'), CHECKS);
    await chmod(join(root, 'root/checks.sh'), 0o755);
    await rm(join(root, 'root/result'), { force: true });
    await writeFile(join(root, 'etc/systemd/system/cda-checks.service'), CHECK_UNIT);
    await mkdir(join(root, 'etc/systemd/system/multi-user.target.wants'), { recursive: true });
    await rm(join(root, 'etc/systemd/system/multi-user.target.wants/cda-checks.service'), { force: true });
    await ok('ln', [
      '-s',
      '/etc/systemd/system/cda-checks.service',
      join(root, 'etc/systemd/system/multi-user.target.wants/cda-checks.service'),
    ]);

    // --boot runs the root's systemd as PID 1; the checks unit powers it off when done.
    await ok(
      'systemd-nspawn',
      ['--quiet', '--boot', '--directory', root, '--machine', `cda-${process.pid}`, '--register=no', '--keep-unit', '--console=pipe'],
      {
        timeout: 5 * 60_000,
      },
    );
    const result = await readFile(join(root, 'root/result'), 'utf8');
    const value = (k: string): string | undefined => new RegExp(`^${k}=(.*)$`, 'm').exec(result)?.[1];
    expect(value('done'), result).toBe('1');
    expect(value('install'), result).toBe('0');
    expect(value('active'), result).toBe('active');
    expect(value('enabled'), result).toBe('enabled');
    expect(value('stop'), result).toBe('0');
    expect(value('after_stop'), result).toBe('inactive');
    expect(value('purge'), result).toBe('0');
    expect(value('after_purge'), result).not.toBe('active');
    expect(value('unit_left'), result).toBe('');
  });
});
