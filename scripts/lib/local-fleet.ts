/**
 * Real agents for a local control plane: each one a `codedeploy-agent start` process (the
 * compiled daemon) registered as an on-premises instance with its own IAM-user identity, every
 * path in its own temp root. Used by the demo, the benchmark and the integration tests, so the
 * three exercise exactly what an operator would run: the files are rendered by the code of
 * `codedeploy-control-plane add-host` (control-plane/hosts/agent-files.ts), and with `register`
 * the host is registered and tagged by add-host itself.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { addHost } from '../../control-plane/hosts/add-host.js';
import { hostLayout, renderAgentConfig, renderOnPremisesConfig, writeAgentFiles } from '../../control-plane/hosts/agent-files.js';
import type { HostTag } from '../../control-plane/hosts/host-input.js';

/** The project root: the nearest directory up from here holding package.json (works from dist/ and from sources). */
export function projectRoot(): string {
  let dir = import.meta.dirname;
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error(`no package.json above ${import.meta.dirname}`);
    dir = up;
  }
}

export const AGENT_CLI = join(projectRoot(), 'dist', 'agent', 'cli', 'codedeploy-agent.js');

export interface FleetAgentOptions {
  /** Instance name, e.g. host-1; also the IAM user name in its ARN. */
  name: string;
  controlPlaneUrl: string;
  /** The control plane's CA certificate (deployment_spec_ca_file). */
  caCertificatePath: string;
  accountId?: string;
  region?: string;
  /** Parent directory of this agent's root; default a new temp dir. */
  root?: string;
  /**
   * :wait_between_runs: (seconds after an empty or failed poll). Default 0, so tests and the demo
   * never idle; benches that report the shipped behaviour pass 1, conf/codedeployagent.yml's value.
   */
  waitBetweenRunsSeconds?: number;
  /** Extra codedeployagent.yml lines, e.g. ':command_update_interval_seconds: 1'. */
  extraConfig?: string[];
  /** Extra environment for the daemon (hooks inherit it). */
  env?: Record<string, string>;
  /** Where the daemon's stderr goes: kept in memory (default) or inherited. */
  stderr?: 'capture' | 'inherit';
  /**
   * Register the instance and add these tags through add-host (which also fetches the CA into the
   * agent's root; caCertificatePath and accountId are then the control plane's own). Without it,
   * only the files are written and the caller registers the instance.
   */
  register?: { tags: HostTag[] };
  /** :ca_bundle: (an https control plane). */
  caBundle?: string;
}

/** Settings of every fleet agent: no instance metadata, short hook grace periods, a quick stop. */
const FLEET_CONFIG = [
  // No instance metadata on a developer machine: point IMDS at a closed port so it fails fast.
  ':imds_endpoint: http://127.0.0.1:9',
  ':hook_output_drain_seconds: 1',
  ':hook_kill_grace_seconds: 2',
  ':kill_agent_max_wait_time_seconds: 30',
];

export interface FleetAgent {
  name: string;
  /** What the agent polls with and what register-on-premises-instance takes. */
  iamUserArn: string;
  root: string;
  rootDir: string;
  logDir: string;
  /** :working_directory: (hooks run here; the sample installs hello-app/ here). */
  workDir: string;
  configFile: string;
  start(): ChildProcess;
  readonly process: ChildProcess | undefined;
  stderr(): string;
  /** SIGTERM (default) and wait for the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  /** <root_dir>/<group id>/<deployment id>/logs/scripts.log */
  scriptsLogPath(deploymentGroupId: string, deploymentId: string): string;
}

export async function createFleetAgent(o: FleetAgentOptions): Promise<FleetAgent> {
  const root = o.root ? join(o.root, o.name) : await mkdtemp(join(tmpdir(), `cda-${o.name}-`));
  const layout = hostLayout(root);
  const agent = { waitBetweenRunsSeconds: o.waitBetweenRunsSeconds ?? 0, extraLines: [...FLEET_CONFIG, ...(o.extraConfig ?? [])] };
  let iamUserArn: string;
  if (o.register) {
    const added = await addHost({
      name: o.name,
      endpoint: o.controlPlaneUrl,
      tags: o.register.tags,
      dir: root,
      region: o.region,
      caBundle: o.caBundle,
      agent,
    });
    iamUserArn = added.iamUserArn;
  } else {
    iamUserArn = `arn:aws:iam::${o.accountId ?? '000000000000'}:user/${o.name}`;
    await writeAgentFiles(layout, {
      config: renderAgentConfig({
        layout,
        controlPlaneUrl: o.controlPlaneUrl,
        deploymentSpecCaFile: o.caCertificatePath,
        caBundle: o.caBundle,
        ...agent,
      }),
      onPremises: renderOnPremisesConfig({ region: o.region ?? 'us-east-1', iamUserArn, name: o.name }),
    });
  }
  const { rootDir, logDir, workDir, configFile } = layout;
  let proc: ChildProcess | undefined;
  let stderr = '';
  return {
    name: o.name,
    iamUserArn,
    root,
    rootDir,
    logDir,
    workDir,
    configFile,
    get process() {
      return proc;
    },
    stderr: () => stderr,
    start() {
      proc = spawn(process.execPath, [AGENT_CLI, 'start', '--config_file', configFile], {
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: root, ...(o.env ?? {}) },
        stdio: ['ignore', 'ignore', o.stderr === 'inherit' ? 'inherit' : 'pipe'],
      });
      proc.stderr?.on('data', (d: Buffer) => {
        stderr += d.toString();
        if (stderr.length > 1_000_000) stderr = stderr.slice(-500_000);
      });
      return proc;
    },
    async stop(signal = 'SIGTERM') {
      const p = proc;
      if (!p || p.exitCode !== null || p.signalCode !== null) return p?.exitCode ?? null;
      const exited = new Promise<number | null>((resolve) => p.once('exit', (code) => resolve(code)));
      p.kill(signal);
      return exited;
    },
    scriptsLogPath: (groupId, deploymentId) => join(rootDir, groupId, deploymentId, 'logs', 'scripts.log'),
  };
}
