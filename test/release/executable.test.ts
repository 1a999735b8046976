/**
 * The self-contained release executables (scripts/release/): built once for x64 and arm64, then run
 * as an operator would, with no Node.js on PATH, HOME in a temp dir and the working directory
 * outside the checkout (no node_modules to fall back on). arm64 runs under qemu-user when the
 * machine has it and the arm64 C libraries (Debian: qemu-user-static, libc6-arm64-cross,
 * libstdc++6-arm64-cross, libatomic1-arm64-cross).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  AddTagsToOnPremisesInstancesCommand,
  CreateDeploymentCommand,
  RegisterOnPremisesInstanceCommand,
  waitUntilDeploymentSuccessful,
} from '@aws-sdk/client-codedeploy';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ControlPlane } from '../../control-plane/server.js';
import { createFleetAgent } from '../../scripts/lib/local-fleet.js';
import { clients, createAppAndGroup, s3Revision, startTestControlPlane, uploadFleetApp } from '../helpers/control-plane.js';
import { suiteTempDir } from '../helpers/temp.js';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '..', '..');
const VERSION = (JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const SAMPLE = join(ROOT, 'samples', 'hello-app');
const ARM64_SYSROOT = '/usr/aarch64-linux-gnu';
const QEMU = ['/usr/bin/qemu-aarch64-static', '/usr/bin/qemu-aarch64'].find((p) => existsSync(p));
const CAN_RUN_ARM64 = process.arch === 'arm64' || (QEMU !== undefined && existsSync(join(ARM64_SYSROOT, 'lib', 'libatomic.so.1')));
const ARM64_SKIP = 'arm64 needs qemu-user-static and libc6/libstdc++6/libatomic1-arm64-cross (apt) on a non-arm64 host';

let out: string;
let home: string;
let cwd: string;
let env: NodeJS.ProcessEnv;
let deployedConfig = '';
const exe = (arch: string) => join(out, `codedeploy-agent-${VERSION}-linux-${arch}`);

/** argv to run the executable for arch on this machine (qemu-user for a foreign arch). */
function command(arch: string, args: string[]): [string, string[]] {
  if (arch === process.arch) return [exe(arch), args];
  return [QEMU ?? 'qemu-aarch64-static', ['-L', ARM64_SYSROOT, exe(arch), ...args]];
}

async function runExe(arch: string, args: string[], extraEnv: Record<string, string> = {}) {
  const [file, argv] = command(arch, args);
  try {
    const r = await run(file, argv, { cwd, env: { ...env, ...extraEnv }, timeout: 60_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/** A PATH directory with every /usr/bin tool but Node.js and its package managers. */
async function nodelessPath(dir: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  const skip = new Set(['node', 'nodejs', 'npm', 'npx', 'corepack', 'yarn', 'pnpm']);
  for (const name of await readdir('/usr/bin')) if (!skip.has(name)) await symlink(join('/usr/bin', name), join(dir, name));
  return dir;
}

async function localDeploy(arch: string) {
  const root = await suiteTempDir(`cda-rel-local-${arch}-`);
  const workDir = join(root, 'agent-home');
  await mkdir(workDir, { recursive: true });
  const config = join(root, 'codedeployagent.yml');
  const lines = [`:root_dir: ${join(root, 'deployment-root')}`, `:log_dir: ${join(root, 'log')}`, `:working_directory: ${workDir}`];
  // Port 9 (discard) refuses at once: doctor finds no instance metadata here, even on EC2.
  await writeFile(config, [...lines, ':hook_output_drain_seconds: 1', ':imds_endpoint: http://127.0.0.1:9', ''].join('\n'));
  const r = await runExe(arch, ['local', '-l', SAMPLE, '-t', 'directory', '-g', 'release-test', '-c', config]);
  return { ...r, workDir, config };
}

beforeAll(async () => {
  out = await suiteTempDir('cda-release-');
  await run(process.execPath, [join(ROOT, 'scripts', 'release', 'build-executables.mjs'), '--out', out, '--keep-bundle'], {
    cwd: ROOT,
    timeout: 240_000,
  });
  home = await suiteTempDir('cda-release-home-');
  cwd = await suiteTempDir('cda-release-cwd-');
  env = { PATH: await nodelessPath(join(home, 'bin')), HOME: home };
}, 300_000);

describe('the release bundle', () => {
  it('holds the agent only: no control plane, no native addons, nothing from node_modules at run time', async () => {
    const meta = JSON.parse(await readFile(join(out, 'codedeploy-agent.cjs.meta.json'), 'utf8')) as { inputs: Record<string, unknown> };
    const inputs = Object.keys(meta.inputs);
    expect(inputs).toContain('agent/cli/agent-main.ts');
    expect(inputs.filter((i) => i.startsWith('control-plane/') || /better-sqlite3|s3rver|\.node$/.test(i))).toEqual([]);
    const bundle = await readFile(join(out, 'codedeploy-agent.cjs'), 'utf8');
    expect(bundle).not.toContain('better-sqlite3');
  });

  it('runs with no node on PATH', async () => {
    const r = await run('/bin/sh', ['-c', 'command -v node || echo none'], { env });
    expect(r.stdout.trim()).toBe('none');
  });
});

describe('the x64 executable', () => {
  it('prints the package version and both usages', async () => {
    expect(await runExe('x64', ['--version'])).toMatchObject({ code: 0, stdout: `${VERSION}\n`, stderr: '' });
    const help = await runExe('x64', ['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: codedeploy-agent [--config_file PATH] <command>');
    expect(help.stdout).toContain('codedeploy-agent local');
    expect(help.stderr).toBe('');
    const local = await runExe('x64', ['local', '--help']);
    expect(local.stdout).toContain('Usage: codedeploy-local');
  });

  it('ignores NODE_OPTIONS (meant for the applications hooks start); takes Node flags from --node-options', async () => {
    expect(await runExe('x64', ['--version'], { NODE_OPTIONS: '--no-such-flag-for-the-agent' })).toMatchObject({
      code: 0,
      stdout: `${VERSION}\n`,
    });
    expect(await runExe('x64', ['--node-options=--max-old-space-size=200', '--version'])).toMatchObject({ code: 0, stdout: `${VERSION}\n` });
    // Proof that --node-options reaches Node: an unknown flag stops it before the agent runs.
    const bad = await runExe('x64', ['--node-options=--no-such-flag-for-the-agent', '--version']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('bad option: --no-such-flag-for-the-agent');
  });

  it('is codedeploy-local under that name', async () => {
    const link = join(home, 'codedeploy-local');
    if (!existsSync(link)) await symlink(exe('x64'), link);
    const r = await run(link, ['--help'], { cwd, env });
    expect(r.stdout).toContain('Usage: codedeploy-local');
  });

  it('validates the sample app', async () => {
    const r = await runExe('x64', ['validate', SAMPLE]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('valid (0 errors');
  });

  it('deploys the sample app with codedeploy-local', async () => {
    const r = await localDeploy('x64');
    expect(r.stdout).toContain('Local deployment successful');
    expect(r.code).toBe(0);
    expect(await readFile(join(r.workDir, 'hello-app', 'site', 'index.html'), 'utf8')).toContain('Hello');
    expect(r.stderr).not.toMatch(/ExperimentalWarning|single executable|NodeVersionSupport/i);
    deployedConfig = r.config;
  });

  it('runs status, logs and doctor: the commands it loads on demand are in the bundle', async () => {
    expect(deployedConfig, 'the codedeploy-local test above ran').not.toBe('');
    const status = await runExe('x64', ['status', '--config_file', deployedConfig]);
    expect(status.stderr).not.toMatch(/Cannot find|ERR_MODULE|is not a function/);
    expect(status.stdout).toContain('Last deployments:');
    expect(status.stdout).toContain('release-test');
    const logs = await runExe('x64', ['logs', '--config_file', deployedConfig]);
    expect(logs).toMatchObject({ code: 0 });
    expect(logs.stdout).toContain('LifecycleEvent - ApplicationStart');
    // No identity here (no on-premises file, no instance metadata): doctor says so, and checks the rest.
    const doctor = await runExe('x64', ['doctor', '--config_file', deployedConfig]);
    expect(doctor.stderr).not.toMatch(/Cannot find|ERR_MODULE|is not a function/);
    expect(doctor.stdout).toMatch(/\[ok\] +config/);
    expect(doctor.stdout).toMatch(/\[FAIL\] +identity/);
  }, 60_000);

  describe('as the daemon against the local control plane', () => {
    let cp: ControlPlane;
    let agent: ChildProcess | undefined;
    let stderr = '';

    afterAll(async () => {
      if (agent && agent.exitCode === null) {
        const exited = new Promise((r) => agent?.once('exit', r));
        agent.kill('SIGTERM');
        await exited;
      }
      await cp?.close();
    });

    it('polls, deploys a revision from S3 and stops on SIGTERM', async () => {
      cp = await startTestControlPlane();
      const sdk = clients(cp);
      const proof = join(await suiteTempDir('cda-rel-proof-'), 'proof.log');
      await writeFile(proof, '');
      const host = await createFleetAgent({
        name: 'sea-host',
        controlPlaneUrl: cp.url,
        caCertificatePath: cp.caCertificatePath,
        root: await suiteTempDir('cda-rel-daemon-'),
        extraConfig: [':command_update_interval_seconds: 1'],
      });
      await sdk.deploy.send(new RegisterOnPremisesInstanceCommand({ instanceName: host.name, iamUserArn: host.iamUserArn }));
      await sdk.deploy.send(
        new AddTagsToOnPremisesInstancesCommand({ instanceNames: [host.name], tags: [{ Key: 'fleet', Value: 'sea' }] }),
      );
      const { application, group } = await createAppAndGroup(sdk.deploy, { group: 'sea', tag: 'sea' });
      const revision = await uploadFleetApp(sdk.s3);
      agent = spawn(exe('x64'), ['start', '--config_file', host.configFile], {
        cwd,
        env: { ...env, FLEET_HOST: host.name, FLEET_PROOF: proof, HOOK_SLEEP_SECONDS: '0' },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      agent.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
      const { deploymentId } = await sdk.deploy.send(
        new CreateDeploymentCommand({ applicationName: application, deploymentGroupName: group, revision: s3Revision(revision) }),
      );
      await waitUntilDeploymentSuccessful({ client: sdk.deploy, maxWaitTime: 90, minDelay: 1 }, { deploymentId }).catch((err: Error) => {
        throw new Error(`${err.message}\nagent stderr:\n${stderr}`);
      });
      expect(await readFile(proof, 'utf8')).toContain(`sea-host ApplicationStart end`);
      const exited = new Promise<number | null>((r) => agent?.once('exit', (code) => r(code)));
      agent.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(stderr).not.toMatch(/ExperimentalWarning|NodeVersionSupport/);
    }, 120_000);
  });
});

describe('the arm64 executable', () => {
  it.skipIf(!CAN_RUN_ARM64)(`prints the package version (${ARM64_SKIP})`, async () => {
    expect(await runExe('arm64', ['--version'])).toMatchObject({ code: 0, stdout: `${VERSION}\n` });
  }, 60_000);

  it.skipIf(!CAN_RUN_ARM64)(`deploys the sample app with codedeploy-local (${ARM64_SKIP})`, async () => {
    const r = await localDeploy('arm64');
    expect(r.stdout).toContain('Local deployment successful');
    expect(r.code).toBe(0);
    expect(await readFile(join(r.workDir, 'hello-app', 'site', 'index.html'), 'utf8')).toContain('Hello');
  }, 120_000);
});
