/**
 * `codedeploy-local` (dist/agent/cli/codedeploy-local.js) as a real process on a temp "host":
 * its own config (root_dir, log_dir, working_directory), bounded in time, with its peak memory
 * (VmHWM, read from /proc while it runs) reported.
 */
import { spawn } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LOCAL_CLI } from './paths.js';
import { AGENT_NODE_FLAGS } from '../../helpers/agent-node-flags.js';

export interface LocalHost {
  root: string;
  rootDir: string;
  configFile: string;
}

export async function localHost(root: string): Promise<LocalHost> {
  const rootDir = join(root, 'deployment-root');
  const workDir = join(root, 'agent-home');
  await mkdir(workDir, { recursive: true });
  const configFile = join(root, 'codedeployagent.yml');
  await writeFile(
    configFile,
    [`:root_dir: ${rootDir}`, `:log_dir: ${join(root, 'log')}`, `:working_directory: ${workDir}`, ':hook_output_drain_seconds: 1', ''].join(
      '\n',
    ),
  );
  return { root, rootDir, configFile };
}

export interface LocalRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Peak resident memory in KiB (0 when it could not be read). */
  peakRssKiB: number;
  startedAt: number;
  endedAt: number;
}

export interface LocalRunHandle {
  pid: number | undefined;
  done: Promise<LocalRun>;
  kill(): void;
}

export function runLocal(host: LocalHost, args: string[], timeoutMs: number): LocalRunHandle {
  const startedAt = Date.now();
  const child = spawn(process.execPath, [...AGENT_NODE_FLAGS, LOCAL_CLI, ...args, '-c', host.configFile], {
    cwd: host.root,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: host.root },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  let peak = 0;
  const sample = setInterval(() => {
    readFile(`/proc/${child.pid}/status`, 'utf8')
      .then((text) => {
        const kb = Number(/VmHWM:\s+(\d+)/.exec(text)?.[1] ?? 0);
        if (kb > peak) peak = kb;
      })
      .catch(() => undefined);
  }, 100);
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const done = new Promise<LocalRun>((resolve) => {
    child.once('close', (code, signal) => {
      clearInterval(sample);
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, peakRssKiB: peak, startedAt, endedAt: Date.now() });
    });
  });
  return { pid: child.pid, done, kill: () => child.kill('SIGKILL') };
}

/** Peak resident memory (VmHWM) of a live process in KiB, or 0. */
export async function peakRssKiB(pid: number | undefined): Promise<number> {
  if (pid === undefined) return 0;
  const text = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  return Number(/VmHWM:\s+(\d+)/.exec(text)?.[1] ?? 0);
}
