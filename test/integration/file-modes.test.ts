/**
 * Modes of what codedeploy-local and the daemon create, whatever the umask (issue 9 item 7;
 * docs/design.md section 8: directories 0750, logs 0640, root_dir 0700). The real programs (dist/) are
 * started under `umask 000` and `umask 077`; hook output lands in scripts.log and the deployments
 * log, which must not become world-readable.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startDaemonHost, type DaemonHost } from '../helpers/daemon-host.js';
import { FIXTURES, makeTarball } from '../helpers/local-deploy.js';
import { tempDir } from '../helpers/temp.js';
import { waitFor } from '../helpers/wait-for.js';

const LOCAL_CLI = join(import.meta.dirname, '..', '..', 'dist', 'agent', 'cli', 'codedeploy-local.js');
const AGENT_CLI = join(import.meta.dirname, '..', '..', 'dist', 'agent', 'cli', 'codedeploy-agent.js');
const GROUP = 'modes-group';

async function mode(path: string): Promise<string> {
  return ((await stat(path)).mode & 0o7777).toString(8).padStart(4, '0');
}

interface LocalRun {
  code: number | null;
  output: string;
  rootDir: string;
  logDir: string;
  deploymentDir: string;
}

/** codedeploy-local with a tgz of the sample app, under the given umask (set by the shell that execs node). */
async function runLocalUnderUmask(umask: string): Promise<LocalRun> {
  const root = await tempDir('cda-modes-');
  const rootDir = join(root, 'opt', 'deployment-root');
  const logDir = join(root, 'var', 'log', 'aws');
  const config = join(root, 'codedeployagent.yml');
  await writeFile(config, [`:root_dir: ${rootDir}`, `:log_dir: ${logDir}`, `:working_directory: ${root}`, ''].join('\n'));
  const bundle = await makeTarball(join(FIXTURES, 'sample-app'), join(root, 'bundle.tgz'), true);
  const args = [LOCAL_CLI, '-l', bundle, '-t', 'tgz', '-g', GROUP, '-c', config];
  const child = spawn('sh', ['-c', `umask ${umask} && exec "$0" "$@"`, process.execPath, ...args], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', PROOF_FILE: join(root, 'proof') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const code = await new Promise<number | null>((r) => child.on('close', r));
  const ids = existsSync(join(rootDir, GROUP)) ? await readdir(join(rootDir, GROUP)) : [];
  return { code, output, rootDir, logDir, deploymentDir: join(rootDir, GROUP, ids[0] ?? 'none') };
}

const hosts: DaemonHost[] = [];
afterEach(async () => {
  for (const h of hosts.splice(0)) {
    await h.stop('SIGKILL');
    await h.server.close();
  }
});

describe.skipIf(!existsSync(LOCAL_CLI))('file modes whatever the umask', () => {
  it.each(['000', '077'])('codedeploy-local under umask %s: root_dir 0700, log dirs 0750, logs 0640', async (umask) => {
    const run = await runLocalUnderUmask(umask);
    expect({ code: run.code, output: run.output }).toMatchObject({ code: 0 });
    expect(await mode(run.rootDir)).toBe('0700');
    expect(await mode(run.logDir)).toBe('0750');
    expect(await mode(join(run.logDir, '..'))).toBe('0750');
    expect(await mode(join(run.logDir, 'codedeploy-local.log'))).toBe('0640');
    expect(await mode(join(run.rootDir, 'deployment-logs'))).toBe('0750');
    expect(await mode(join(run.rootDir, 'deployment-logs', 'codedeploy-agent-deployments.log'))).toBe('0640');
    expect(await mode(join(run.deploymentDir, 'logs'))).toBe('0750');
    expect(await mode(join(run.deploymentDir, 'logs', 'scripts.log'))).toBe('0640');
    expect(await readFile(join(run.deploymentDir, 'logs', 'scripts.log'), 'utf8')).toContain('Script - scripts/hook.sh');
  });

  // Needs the deployment machinery (agent/deployment/command-executor.ts, not owned here) to
  // create the group, deployment and revision directories with DIR_MODE; see the report.
  it.each(['000', '077'])('codedeploy-local under umask %s: group, deployment and revision directories 0750', async (umask) => {
    const run = await runLocalUnderUmask(umask);
    expect(run.code).toBe(0);
    expect(await mode(join(run.rootDir, GROUP))).toBe('0750');
    expect(await mode(run.deploymentDir)).toBe('0750');
    expect(await mode(join(run.deploymentDir, 'deployment-archive'))).toBe('0750');
    expect(await mode(join(run.rootDir, 'deployment-instructions'))).toBe('0750');
  });

  it.skipIf(!existsSync(AGENT_CLI))('the daemon under umask 000: root_dir 0700, its log directory 0750 and log 0640', async () => {
    const h = await startPollingDaemonUnderUmask0();
    expect(await mode(h.rootDir)).toBe('0700');
    expect(await mode(h.logDir)).toBe('0750');
    expect(await mode(join(h.logDir, 'codedeploy-agent.log'))).toBe('0640');
  });
});

/** The real daemon started with umask 000 (the child inherits it), once it polls. */
async function startPollingDaemonUnderUmask0(): Promise<DaemonHost> {
  const h = await startDaemonHost();
  hosts.push(h);
  const old = process.umask(0);
  try {
    h.start();
  } finally {
    process.umask(old);
  }
  const log = join(h.logDir, 'codedeploy-agent.log');
  await waitFor(
    'the daemon to start polling',
    async () => existsSync(log) && (await readFile(log, 'utf8')).includes('Polling for commands'),
    {
      timeoutMs: 20_000,
      details: () => `stderr:\n${h.stderr()}`,
    },
  );
  return h;
}
