/**
 * A real agent daemon (`node dist/agent/cli/codedeploy-agent.js start --config_file ...`) as an
 * on-premises instance, every path under its own root, talking to the control plane only through
 * the fault proxy (commands API and S3). Configured to come back fast after an outage.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { AGENT_CLI } from './paths.js';
import { AGENT_NODE_FLAGS } from '../../helpers/agent-node-flags.js';

const execFileAsync = promisify(execFile);

export interface AgentProcessOptions {
  name: string;
  root: string;
  /** The fault proxy's URL (commands API and S3). */
  endpoint: string;
  caCertificatePath: string;
  /** Overrides the root_dir (e.g. a small tmpfs). */
  rootDir?: string;
  extraConfig?: string[];
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface AgentProcess {
  readonly name: string;
  readonly iamUserArn: string;
  readonly root: string;
  readonly rootDir: string;
  readonly logDir: string;
  readonly pidDir: string;
  readonly configFile: string;
  readonly pidFile: string;
  /** The current daemon, if one was started and has not exited. */
  readonly pid: number | undefined;
  readonly running: boolean;
  start(): ChildProcess;
  /** Starts one more daemon with the same configuration (two agents on one host). */
  startSecond(): { child: ChildProcess; exited: Promise<ExitInfo>; output: () => string };
  /** SIGKILL and wait until it is gone. */
  kill(): Promise<void>;
  /** SIGTERM and wait (bounded by the caller's scenario timeout). */
  stop(): Promise<ExitInfo | undefined>;
  /** stderr of every run. */
  output(): string;
  /** The agent's own log (JSON lines), or '' before it exists. */
  log(): Promise<string>;
  /** `codedeploy-agent status --json --config_file ...`; `report` is the parsed JSON. */
  status(): Promise<{ code: number; report: { running?: boolean; pid?: number | null } | undefined; stdout: string; stderr: string }>;
  /** Diagnostics for a failed assertion: recent stderr and log lines. */
  describe(): Promise<string>;
}

export async function createAgentProcess(o: AgentProcessOptions): Promise<AgentProcess> {
  const root = join(o.root, o.name);
  const rootDir = o.rootDir ?? join(root, 'deployment-root');
  const logDir = join(root, 'log');
  const pidDir = join(root, 'state');
  const workDir = join(root, 'agent-home');
  await mkdir(workDir, { recursive: true });
  const iamUserArn = `arn:aws:iam::000000000000:user/${o.name}`;
  const onPrem = join(root, 'codedeploy.onpremises.yml');
  await writeFile(
    onPrem,
    [
      `region: us-east-1`,
      `iam_user_arn: ${iamUserArn}`,
      'aws_access_key_id: AKIDFAULTSUITE',
      'aws_secret_access_key: fault-suite-secret',
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  const configFile = join(root, 'codedeployagent.yml');
  await writeFile(
    configFile,
    [
      `:root_dir: ${rootDir}`,
      `:log_dir: ${logDir}`,
      `:pid_dir: ${pidDir}`,
      `:working_directory: ${workDir}`,
      `:on_premises_config_file: ${onPrem}`,
      `:deploy_control_endpoint: ${o.endpoint}`,
      `:s3_endpoint_override: ${o.endpoint}`,
      `:deployment_spec_ca_file: ${o.caCertificatePath}`,
      ':imds_endpoint: http://127.0.0.1:9',
      // Fast recovery: poll again 1 s after each poll; never wait more than 2 s between two tries
      // while the control plane is unreachable (poll loop, specs, acknowledgements, completions).
      ':wait_between_runs: 1',
      ':retry_backoff_max_seconds: 2',
      ':hook_output_drain_seconds: 1',
      ':hook_kill_grace_seconds: 1',
      ':kill_agent_max_wait_time_seconds: 5',
      ':verbose: true',
      ...(o.extraConfig ?? []),
      '',
    ].join('\n'),
  );
  const pidFile = join(pidDir, 'codedeploy-agent.pid');
  let child: ChildProcess | undefined;
  let output = '';
  const append = (d: Buffer): void => {
    output += d.toString();
    if (output.length > 200_000) output = output.slice(-100_000);
  };
  const alive = (c: ChildProcess | undefined): boolean => c !== undefined && c.exitCode === null && c.signalCode === null;
  const spawnDaemon = (): ChildProcess =>
    spawn(process.execPath, [...AGENT_NODE_FLAGS, AGENT_CLI, 'start', '--config_file', configFile], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: root },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
  const log = async (): Promise<string> => readFile(join(logDir, 'codedeploy-agent.log'), 'utf8').catch(() => '');

  const agent: AgentProcess = {
    name: o.name,
    iamUserArn,
    root,
    rootDir,
    logDir,
    pidDir,
    configFile,
    pidFile,
    get pid() {
      return alive(child) ? child?.pid : undefined;
    },
    get running() {
      return alive(child);
    },
    start() {
      if (alive(child)) throw new Error(`agent ${o.name} is already running`);
      output += `--- agent started\n`;
      child = spawnDaemon();
      child.stderr?.on('data', append);
      return child;
    },
    startSecond() {
      const second = spawnDaemon();
      let out = '';
      second.stderr?.on('data', (d: Buffer) => (out += d.toString()));
      const exited = new Promise<ExitInfo>((resolve) => second.once('exit', (code, signal) => resolve({ code, signal })));
      return { child: second, exited, output: () => out };
    },
    async kill() {
      const c = child;
      if (!c || !alive(c)) return;
      const exited = new Promise<void>((resolve) => c.once('exit', () => resolve()));
      c.kill('SIGKILL');
      await exited;
      output += '--- agent SIGKILLed\n';
    },
    async stop() {
      const c = child;
      if (!c || !alive(c)) return undefined;
      const exited = new Promise<ExitInfo>((resolve) => c.once('exit', (code, signal) => resolve({ code, signal })));
      c.kill('SIGTERM');
      return exited;
    },
    output: () => output,
    log,
    async status() {
      let out: { code: number; stdout: string; stderr: string };
      try {
        const { stdout, stderr } = await execFileAsync(process.execPath, [AGENT_CLI, 'status', '--json', '--config_file', configFile], {
          timeout: 30_000,
        });
        out = { code: 0, stdout, stderr };
      } catch (err) {
        const e = err as { code?: number; stdout?: string; stderr?: string };
        out = { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
      }
      let report;
      try {
        report = JSON.parse(out.stdout) as { running?: boolean; pid?: number | null };
      } catch {
        report = undefined;
      }
      return { ...out, report };
    },
    async describe() {
      const lines = (await log()).split('\n').filter(Boolean).slice(-25);
      return `agent ${o.name} stderr (tail):\n${output.slice(-2000)}\nagent log (last ${lines.length} lines):\n${lines.join('\n')}`;
    },
  };
  return agent;
}
