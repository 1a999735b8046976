/**
 * A host running the real daemon (`node dist/agent/cli/codedeploy-agent.js start`) against the
 * scripted commands server, as an on-premises instance (IAM user identity, no IMDS), with every
 * path in a temp root. `deploy()` plays the service's part: it hands out one command per poll, in
 * order, and waits for each completion before the next, like CodeDeploy does for one host.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startCommandsServer, TEST_CREDENTIALS, type CommandsServer, type RecordedCall } from './commands-server.js';
import { sharedSpecSigner } from './spec-signer.js';
import { tempDir } from './temp.js';
import { waitFor } from './wait-for.js';

export const AGENT_CLI = join(import.meta.dirname, '..', '..', 'dist', 'agent', 'cli', 'codedeploy-agent.js');
export const HOST_ARN = 'arn:aws:iam::123456789012:user/test-host';

export interface QueuedCommand {
  HostCommandIdentifier: string;
  HostIdentifier: string;
  DeploymentExecutionId: string;
  CommandName: string;
}

export interface DaemonHost {
  root: string;
  rootDir: string;
  workDir: string;
  logDir: string;
  configFile: string;
  proofFile: string;
  server: CommandsServer;
  /** Specs by DeploymentExecutionId, answered by GetDeploymentSpecification (signed PKCS7/JSON). */
  specs: Map<string, object>;
  /** Commands handed out by the next polls. */
  queue: QueuedCommand[];
  start(extraEnv?: Record<string, string>): ChildProcess;
  readonly agent: ChildProcess | undefined;
  stderr(): string;
  /** Queue the commands one after the other; resolves with each one's completion call. */
  deploy(executionId: string, commands: string[], opts?: { idPrefix?: string }): Promise<RecordedCall[]>;
  waitForComplete(hostCommandIdentifier: string, timeoutMs?: number): Promise<RecordedCall>;
  completes(hostCommandIdentifier?: string): RecordedCall[];
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export interface DaemonHostOptions {
  extraConfig?: string[];
  /** The host's IAM user keys (also what the commands server checks signatures against). */
  credentials?: { accessKeyId: string; secretAccessKey: string };
}

export async function startDaemonHost(options: DaemonHostOptions = {}): Promise<DaemonHost> {
  const extraConfig = options.extraConfig ?? [];
  const creds = options.credentials ?? TEST_CREDENTIALS;
  const root = await tempDir('cda-daemon-');
  const rootDir = join(root, 'deployment-root');
  const workDir = join(root, 'agent-home');
  const logDir = join(root, 'log');
  await mkdir(workDir, { recursive: true });
  const server = await startCommandsServer({ credentials: creds });
  const signer = sharedSpecSigner();
  const specs = new Map<string, object>();
  const queue: QueuedCommand[] = [];

  server.script('PollHostCommand', async () => {
    const next = queue.shift();
    if (next) return { json: { HostCommand: next } };
    return { json: {}, delayMs: 100 }; // a short long-poll
  });
  server.script('GetDeploymentSpecification', (call) => {
    const id = (call.body as { DeploymentExecutionId?: string }).DeploymentExecutionId ?? '';
    const spec = specs.get(id);
    if (!spec) return { error: { status: 400, type: 'DeploymentNotFoundException', message: `no deployment ${id}` } };
    return { json: { DeploymentSystem: 'CodeDeploy', DeploymentSpecification: { GenericEnvelope: signer.envelope(spec) } } };
  });

  const onPrem = join(root, 'codedeploy.onpremises.yml');
  await writeFile(
    onPrem,
    [
      `region: us-east-1`,
      `iam_user_arn: ${HOST_ARN}`,
      `aws_access_key_id: ${creds.accessKeyId}`,
      `aws_secret_access_key: ${creds.secretAccessKey}`,
      '',
    ].join('\n'),
  );
  const configFile = join(root, 'codedeployagent.yml');
  await writeFile(
    configFile,
    [
      `:root_dir: ${rootDir}`,
      `:log_dir: ${logDir}`,
      `:pid_dir: ${join(root, 'state')}`,
      `:working_directory: ${workDir}`,
      `:on_premises_config_file: ${onPrem}`,
      `:deploy_control_endpoint: ${server.url}`,
      `:deployment_spec_ca_file: ${signer.caCertPath}`,
      ':imds_endpoint: http://127.0.0.1:9',
      ':wait_between_runs: 0',
      ':hook_output_drain_seconds: 1',
      ':hook_kill_grace_seconds: 1',
      ':kill_agent_max_wait_time_seconds: 30',
      ':verbose: true',
      ...extraConfig,
      '',
    ].join('\n'),
  );
  const proofFile = join(root, 'executed_proof_file');
  let agent: ChildProcess | undefined;
  let stderr = '';

  const completes = (id?: string) =>
    server
      .calls('PutHostCommandComplete')
      .filter((c) => id === undefined || (c.body as { HostCommandIdentifier?: string }).HostCommandIdentifier === id);

  const waitForComplete = (id: string, timeoutMs = 30_000): Promise<RecordedCall> =>
    waitFor(`PutHostCommandComplete for ${id}`, () => completes(id)[0], {
      timeoutMs,
      intervalMs: 20,
      details: () => `agent stderr:\n${stderr}`,
    });

  const host: DaemonHost = {
    root,
    rootDir,
    workDir,
    logDir,
    configFile,
    proofFile,
    server,
    specs,
    queue,
    get agent() {
      return agent;
    },
    stderr: () => stderr,
    start(extraEnv = {}) {
      agent = spawn(process.execPath, [AGENT_CLI, 'start', '--config_file', configFile], {
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', PROOF_FILE: proofFile, ...extraEnv },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      agent.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
      return agent;
    },
    async deploy(executionId, commands, opts = {}) {
      const out: RecordedCall[] = [];
      for (const name of commands) {
        const id = `${opts.idPrefix ?? 'hc'}-${name}-${Math.random().toString(36).slice(2, 8)}`;
        queue.push({ HostCommandIdentifier: id, HostIdentifier: HOST_ARN, DeploymentExecutionId: executionId, CommandName: name });
        const call = await waitForComplete(id);
        out.push(call);
        if ((call.body as { CommandStatus?: string }).CommandStatus !== 'Succeeded') break;
      }
      return out;
    },
    waitForComplete,
    completes,
    async stop(signal = 'SIGTERM') {
      const child = agent;
      if (!child || child.exitCode !== null || child.signalCode !== null) return child?.exitCode ?? null;
      const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      child.kill(signal);
      return exited;
    },
  };
  return host;
}

/** The spec the service would send for a local-directory revision (tests use local bundles). */
export function localSpec(deploymentId: string, groupId: string, location: string, extra: Record<string, unknown> = {}): object {
  return {
    DeploymentId: deploymentId,
    DeploymentGroupId: groupId,
    DeploymentGroupName: 'test-group',
    ApplicationName: 'test-app',
    DeploymentCreator: 'user',
    DeploymentType: 'IN_PLACE',
    Revision: { RevisionType: 'Local Directory', LocalRevision: { Location: location, BundleType: 'directory' } },
    ...extra,
  };
}

export const FULL_LIFECYCLE = [
  'BeforeBlockTraffic',
  'AfterBlockTraffic',
  'ApplicationStop',
  'DownloadBundle',
  'BeforeInstall',
  'Install',
  'AfterInstall',
  'ApplicationStart',
  'ValidateService',
  'BeforeAllowTraffic',
  'AfterAllowTraffic',
];
