/**
 * The real local control plane as a child process (dist/control-plane/cli/codedeploy-control-plane.js),
 * on its own data dir. It can be SIGKILLed and started again on the same data dir and port, which
 * is what a crash and a restart by systemd look like to the agents.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { DIST } from './paths.js';
import { waitFor } from './wait.js';

export const CONTROL_PLANE_CLI = join(DIST, 'control-plane', 'cli', 'codedeploy-control-plane.js');

export interface ControlPlaneProcessOptions {
  dataDir: string;
  /** --long-poll: short, so an agent's poll comes back quickly after a restart. */
  longPollSeconds?: number;
  /** --command-timeout: the service's own bound on a command. */
  commandTimeoutSeconds?: number;
}

export interface ControlPlaneProcess {
  readonly dataDir: string;
  /** Fixed at the first start; later starts reuse it. */
  readonly port: number;
  readonly url: string;
  readonly caCertificatePath: string;
  readonly running: boolean;
  readonly pid: number | undefined;
  start(): Promise<void>;
  /** SIGKILL, and wait until the process is gone. */
  kill(): Promise<void>;
  /** The last output of every run of the process (for failure messages). */
  output(): string;
}

export function controlPlaneProcess(o: ControlPlaneProcessOptions): ControlPlaneProcess {
  let port = 0;
  let child: ChildProcess | undefined;
  let output = '';
  const append = (d: Buffer): void => {
    output += d.toString();
    if (output.length > 200_000) output = output.slice(-100_000);
  };
  const alive = (): boolean => child !== undefined && child.exitCode === null && child.signalCode === null;

  return {
    dataDir: o.dataDir,
    get port() {
      return port;
    },
    get url() {
      return `http://127.0.0.1:${port}`;
    },
    caCertificatePath: join(o.dataDir, 'ca', 'ca.pem'),
    get running() {
      return alive();
    },
    get pid() {
      return alive() ? child?.pid : undefined;
    },
    async start() {
      if (alive()) throw new Error('the control plane is already running');
      const args = [
        CONTROL_PLANE_CLI,
        '--data-dir',
        o.dataDir,
        '--port',
        String(port),
        '--long-poll',
        String(o.longPollSeconds ?? 2),
        '--command-timeout',
        String(o.commandTimeoutSeconds ?? 4200),
        '--log-level',
        'warn',
      ];
      const started = Date.now();
      const proc = spawn(process.execPath, args, {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: o.dataDir },
      });
      child = proc;
      output += `--- control plane started (${args.slice(1).join(' ')})\n`;
      proc.stdout?.on('data', append);
      let listening = '';
      proc.stderr?.on('data', (d: Buffer) => {
        append(d);
        listening += d.toString();
      });
      const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
      await waitFor(
        `the control plane to listen (port ${port || 'any'})`,
        async () => {
          if (proc.exitCode !== null || proc.signalCode !== null)
            throw new Error(`the control plane exited (${proc.exitCode ?? proc.signalCode}) at start:\n${output.slice(-3000)}`);
          const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(listening);
          if (!m) return false;
          port = Number(m[1]);
          return healthy(port);
        },
        { timeoutMs: 30_000, intervalMs: 50 },
      ).catch(async (err: unknown) => {
        proc.kill('SIGKILL');
        await exited;
        throw err;
      });
      output += `--- control plane up on ${port} after ${Date.now() - started} ms\n`;
    },
    async kill() {
      const proc = child;
      if (!proc || !alive()) return;
      const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
      proc.kill('SIGKILL');
      await exited;
      output += '--- control plane SIGKILLed\n';
    },
    output: () => output,
  };
}

async function healthy(port: number): Promise<boolean> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/_health`, { signal: AbortSignal.timeout(2000) });
    return res.ok;
  } catch {
    return false;
  }
}
