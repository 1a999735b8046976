/**
 * `add-host --start`: the agent of this package (`codedeploy-agent start --config_file FILE`) in
 * the foreground. The agent runs in its own process group so a Ctrl-C reaches it once, forwarded
 * from here, and not twice (from the terminal and from us): a second SIGINT would cut its
 * graceful stop short. Its output goes to the caller's io; its exit code (128 + signal number
 * when killed) is the command's.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { constants } from 'node:os';
import { dirname, join } from 'node:path';
import type { CliIo } from '../../common/cli-io.js';

/** dist/agent/cli/codedeploy-agent.js of this package (from package.json's bin), or undefined. */
export function agentCliPath(): string | undefined {
  for (let dir = import.meta.dirname; ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      const pkg = JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string; bin?: Record<string, string> };
      const bin = pkg.bin?.['codedeploy-agent'];
      if (pkg.name === 'codedeploy-agent-ts' && bin !== undefined && existsSync(join(dir, bin))) return join(dir, bin);
    }
    if (dirname(dir) === dir) return undefined;
  }
}

export interface AgentRunOptions {
  configFile: string;
  io: CliIo;
  env: NodeJS.ProcessEnv;
  /** Resolves with a signal name to forward to the agent (the CLI's SIGINT/SIGTERM). */
  stopSignal: Promise<string>;
  /** Called with the agent's pid once it runs (tests). */
  onStarted?: (pid: number) => void;
}

export async function runAgentInForeground(o: AgentRunOptions): Promise<number> {
  const cli = agentCliPath();
  if (cli === undefined) {
    o.io.stderr('codedeploy-control-plane add-host: cannot find codedeploy-agent in this package (dist/agent/cli); run npm run build\n');
    return 1;
  }
  const child = spawn(process.execPath, [cli, 'start', '--config_file', o.configFile], {
    env: o.env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  child.stdout.on('data', (d: Buffer) => o.io.stdout(d.toString()));
  child.stderr.on('data', (d: Buffer) => o.io.stderr(d.toString()));
  const exited = new Promise<number>((resolve) => {
    child.once('error', (err) => {
      o.io.stderr(`codedeploy-control-plane add-host: cannot start the agent: ${err.message}\n`);
      resolve(1);
    });
    child.once('close', (code, signal) => resolve(code ?? (signal ? 128 + (constants.signals[signal] ?? 0) : 1)));
  });
  if (child.pid !== undefined) o.onStarted?.(child.pid);
  void o.stopSignal.then((signal) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal as NodeJS.Signals);
  });
  return exited;
}
