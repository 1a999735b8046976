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
 * CDA_NSPAWN_EXE (an executable built before; default: build it), CDA_NSPAWN_STAND_IN=1 (a shell
 * stand-in instead: packaging only, no deployment).
 */
import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  AddTagsToOnPremisesInstancesCommand,
  CreateDeploymentCommand,
  GetDeploymentCommand,
  RegisterOnPremisesInstanceCommand,
} from '@aws-sdk/client-codedeploy';
import type { ControlPlane } from '../../control-plane/server.js';
import { clients, createAppAndGroup, s3Revision, startTestControlPlane, uploadFleetApp } from '../helpers/control-plane.js';
import { buildPackages, ok, onPath, writeStandIn } from './package-tools.js';

const enabled = process.env.CDA_NSPAWN_TEST === '1';
if (!enabled) console.warn('nspawn.test: skipped; set CDA_NSPAWN_TEST=1 (needs root, debootstrap, systemd-nspawn and a Debian mirror)');
const MIRROR = process.env.CDA_NSPAWN_MIRROR ?? 'http://deb.debian.org/debian';
const SUITE = process.env.CDA_NSPAWN_SUITE ?? 'bookworm';
const VERSION = '0.1.0';
const VERSION_2 = '0.1.1';
const REPO = join(import.meta.dirname, '..', '..');
let cp: ControlPlane | undefined;

let work = '';
afterAll(async () => {
  await cp?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

/**
 * What runs inside the booted container; every line of its output goes to /root/result. With
 * the real executable (the default) the agent is pointed at the local control plane on the host's
 * loopback (nspawn without --private-network shares the host's network) and must finish the
 * deployment the host created before boot; then an upgrade must restart it onto the new package
 * and keep the config, and a stop must end it cleanly.
 */
const CHECKS = `#!/bin/sh
set -x
# With the real agent, the host's identity and config are in place before the package starts
# it, as on an AMI bake (--force-confold keeps that config instead of asking).
if [ -f /root/agent.yml ]; then
  mkdir -p /etc/codedeploy-agent/conf
  cp /root/agent.yml /etc/codedeploy-agent/conf/codedeployagent.yml
  cp /root/onpremises.yml /etc/codedeploy-agent/conf/codedeploy.onpremises.yml
fi
dpkg -i --force-confold /root/codedeploy-agent-1.deb; echo "install=$?"
echo "active=$(systemctl is-active codedeploy-agent)"
echo "enabled=$(systemctl is-enabled codedeploy-agent)"
if [ -f /root/agent.yml ]; then
  for i in $(seq 1 120); do
    ls /opt/codedeploy-agent/deployment-root/deployment-instructions/*_last_successful_install >/dev/null 2>&1 && break
    sleep 1
  done
  echo "deployed=$(ls /opt/codedeploy-agent/deployment-root/deployment-instructions/ | grep -c _last_successful_install)"
fi
echo "status=$(systemctl show -p StatusText --value codedeploy-agent)"
pid1=$(systemctl show -p MainPID --value codedeploy-agent)
dpkg -i --force-confold /root/codedeploy-agent-2.deb; echo "upgrade=$?"
pid2=$(systemctl show -p MainPID --value codedeploy-agent)
[ "$pid1" != "$pid2" ] && [ "$pid2" != 0 ] && echo "restarted=1"
echo "active_after_upgrade=$(systemctl is-active codedeploy-agent)"
echo "enabled_after_upgrade=$(systemctl is-enabled codedeploy-agent)"
echo "version_after_upgrade=$(cat /opt/codedeploy-agent/.version)"
[ ! -f /root/agent.yml ] || { cmp -s /root/agent.yml /etc/codedeploy-agent/conf/codedeployagent.yml && echo "config_kept=1"; }
systemctl stop codedeploy-agent; echo "stop=$?"
echo "after_stop=$(systemctl is-active codedeploy-agent)"
echo "stop_result=$(systemctl show -p Result --value codedeploy-agent)"
echo "killed=$(journalctl -u codedeploy-agent --no-pager | grep -c -i 'SIGKILL')"
journalctl -u codedeploy-agent --no-pager | tail -n 40 | sed 's/^/journal: /'
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
  it(
    'installs, reaches active via READY=1, deploys, upgrades with a restart, stops cleanly, and purges',
    { timeout: 20 * 60_000 },
    async () => {
      expect(process.getuid?.(), 'needs root').toBe(0);
      expect(onPath('systemd-nspawn'), 'apt-get install systemd-container').toBe(true);
      work = await mkdtemp(join(tmpdir(), 'cda-nspawn-'));
      const arch = process.arch === 'arm64' ? 'arm64' : 'x64';
      // The real executable unless CDA_NSPAWN_STAND_IN=1 (a shell stand-in: packaging only, no deployment).
      const standIn = process.env.CDA_NSPAWN_STAND_IN === '1';
      let exe = process.env.CDA_NSPAWN_EXE ?? '';
      if (standIn) {
        exe = join(work, 'exe');
        await writeStandIn(exe, VERSION);
      } else if (!exe) {
        const built = await ok(
          process.execPath,
          [join(REPO, 'scripts', 'release', 'build-executables.mjs'), '--out', join(work, 'exe'), '--arch', arch],
          {
            timeout: 300_000,
          },
        );
        exe = built.trim().split('\n').pop() ?? '';
      }
      const debs: string[] = [];
      for (const version of [VERSION, VERSION_2]) {
        const [deb] = await buildPackages(['--exe', exe, '--arch', arch, '--version', version, '--out', work, '--format', 'deb']);
        debs.push(deb!);
      }

      let root = process.env.CDA_NSPAWN_ROOT ?? '';
      if (!root || !existsSync(join(root, 'usr/lib/systemd/systemd'))) {
        expect(onPath('debootstrap'), 'apt-get install debootstrap').toBe(true);
        root = root || join(work, 'root');
        await ok('debootstrap', ['--variant=minbase', '--include=systemd,systemd-sysv,dbus', SUITE, root, MIRROR], {
          timeout: 15 * 60_000,
        });
      }
      // The package's dependencies (libatomic1 is not in minbase): dpkg -i does not fetch them, so
      // the root gets them first, as apt would on a real host.
      await ok('chroot', [root, 'apt-get', 'install', '-y', '-qq', '--no-install-recommends', 'libatomic1', 'libstdc++6'], {
        timeout: 5 * 60_000,
        env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
      });
      await copyFile(debs[0]!, join(root, 'root/codedeploy-agent-1.deb'));
      await copyFile(debs[1]!, join(root, 'root/codedeploy-agent-2.deb'));
      await writeFile(join(root, 'root/checks.sh'), CHECKS);
      await chmod(join(root, 'root/checks.sh'), 0o755);
      for (const f of ['root/result', 'root/agent.yml', 'root/onpremises.yml', 'root/cp-ca.pem']) await rm(join(root, f), { force: true });
      await rm(join(root, 'etc/codedeploy-agent'), { recursive: true, force: true });
      await rm(join(root, 'opt/codedeploy-agent'), { recursive: true, force: true });
      await writeFile(join(root, 'etc/systemd/system/cda-checks.service'), CHECK_UNIT);
      await mkdir(join(root, 'etc/systemd/system/multi-user.target.wants'), { recursive: true });
      await rm(join(root, 'etc/systemd/system/multi-user.target.wants/cda-checks.service'), { force: true });
      await ok('ln', [
        '-s',
        '/etc/systemd/system/cda-checks.service',
        join(root, 'etc/systemd/system/multi-user.target.wants/cda-checks.service'),
      ]);

      // The control plane on the host's loopback, with a deployment waiting for the container's agent.
      let deploymentId = '';
      if (!standIn) {
        cp = await startTestControlPlane();
        const sdk = clients(cp);
        const name = 'nspawn-host';
        const iamUserArn = `arn:aws:iam::000000000000:user/${name}`;
        await sdk.deploy.send(new RegisterOnPremisesInstanceCommand({ instanceName: name, iamUserArn }));
        await sdk.deploy.send(
          new AddTagsToOnPremisesInstancesCommand({ instanceNames: [name], tags: [{ Key: 'fleet', Value: 'nspawn' }] }),
        );
        const { application, group } = await createAppAndGroup(sdk.deploy, { group: 'nspawn', tag: 'nspawn' });
        const revision = await uploadFleetApp(sdk.s3);
        deploymentId =
          (
            await sdk.deploy.send(
              new CreateDeploymentCommand({ applicationName: application, deploymentGroupName: group, revision: s3Revision(revision) }),
            )
          ).deploymentId ?? '';
        await copyFile(cp.caCertificatePath, join(root, 'root/cp-ca.pem'));
        await writeFile(
          join(root, 'root/onpremises.yml'),
          `region: us-east-1\niam_user_arn: ${iamUserArn}\naws_access_key_id: AKIDLOCALNSPAWN\naws_secret_access_key: local-secret-not-checked\n`,
        );
        await writeFile(
          join(root, 'root/agent.yml'),
          [
            `:deploy_control_endpoint: ${cp.url}`,
            `:s3_endpoint_override: ${cp.url}`,
            ':deployment_spec_ca_file: /root/cp-ca.pem',
            ':imds_endpoint: http://127.0.0.1:9',
            ':wait_between_runs: 0',
            '',
          ].join('\n'),
        );
      }

      // --boot runs the root's systemd as PID 1; the checks unit powers it off when done.
      await ok(
        'systemd-nspawn',
        ['--quiet', '--boot', '--directory', root, '--machine', `cda-${process.pid}`, '--register=no', '--keep-unit', '--console=pipe'],
        {
          timeout: 10 * 60_000,
        },
      );
      const result = await readFile(join(root, 'root/result'), 'utf8');
      const value = (k: string): string | undefined => new RegExp(`^${k}=(.*)$`, 'm').exec(result)?.[1];
      expect(value('done'), result).toBe('1');
      expect(value('install'), result).toBe('0');
      expect(value('active'), result).toBe('active');
      expect(value('enabled'), result).toBe('enabled');
      if (!standIn) {
        expect(value('deployed'), result).toBe('1');
        const got = await clients(cp!).deploy.send(new GetDeploymentCommand({ deploymentId }));
        expect(got.deploymentInfo?.status, result).toBe('Succeeded');
        expect(value('config_kept'), result).toBe('1');
      }
      expect(value('upgrade'), result).toBe('0');
      expect(value('restarted'), result).toBe('1');
      expect(value('active_after_upgrade'), result).toBe('active');
      expect(value('enabled_after_upgrade'), result).toBe('enabled');
      expect(value('version_after_upgrade'), result).toBe(`agent_version: TS_${VERSION_2}_deb`);
      expect(value('stop'), result).toBe('0');
      expect(value('after_stop'), result).toBe('inactive');
      expect(value('stop_result'), result).toBe('success');
      expect(value('killed'), result).toBe('0');
      expect(value('purge'), result).toBe('0');
      expect(value('after_purge'), result).not.toBe('active');
      expect(value('unit_left'), result).toBe('');
    },
  );
});
