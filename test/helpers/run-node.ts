/**
 * A Node program (a dist/ entry point, a wrapper script) run as a child process to its end, its
 * stdout and stderr collected: what the integration tests of the command lines share.
 */
import { spawn, type ChildProcess, type SpawnOptionsWithoutStdio } from 'node:child_process';

export interface ProgramRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunNodeOptions extends Pick<SpawnOptionsWithoutStdio, 'cwd' | 'uid' | 'gid'> {
  /** The child's whole environment; without it the child inherits this process's. */
  env?: NodeJS.ProcessEnv;
  /** Called with the child as soon as it is spawned (to signal it, or to kill it after the test). */
  onSpawn?: (child: ChildProcess) => void;
}

/** `node SCRIPT ARGS...` with stdin closed; resolves when the child has closed its output. */
export function runNode(script: string, args: readonly string[], opts: RunNodeOptions = {}): Promise<ProgramRun> {
  const { onSpawn, ...spawnOptions } = opts;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], { ...spawnOptions, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    onSpawn?.(child);
  });
}
