/**
 * The files that attach one agent to this control plane, all in one host directory D: the agent
 * config (codedeployagent.yml), the on-premises identity (codedeploy.onpremises.yml) and the CA
 * certificate that signs deployment specifications (ca.pem), with every path the agent writes to
 * (root_dir, log_dir, pid_dir, working_directory) under D so an unprivileged developer can run it.
 * `codedeploy-control-plane add-host`, the demo and the test fleets all render the files here, so
 * they run exactly what an operator would. Key names are the agent's (agent/config/agent-config.ts,
 * agent/identity/on-premises-config.ts); values are written with the yaml library in YAML 1.1, the
 * version the agent reads, so a path with spaces or a value like "yes" keeps its meaning.
 */
import { join } from 'node:path';
import { stringify } from 'yaml';
import { writeFileAtomic } from '../../common/atomic-file.js';
import { makeDirs } from '../../common/file-modes.js';

/** Where everything of one host lives, under its directory. */
export interface HostLayout {
  dir: string;
  configFile: string;
  onPremisesFile: string;
  caFile: string;
  rootDir: string;
  logDir: string;
  pidDir: string;
  /** :working_directory: (hooks run here). */
  workDir: string;
}

export function hostLayout(dir: string): HostLayout {
  return {
    dir,
    configFile: join(dir, 'codedeployagent.yml'),
    onPremisesFile: join(dir, 'codedeploy.onpremises.yml'),
    caFile: join(dir, 'ca.pem'),
    rootDir: join(dir, 'deployment-root'),
    logDir: join(dir, 'log'),
    pidDir: join(dir, 'state'),
    workDir: join(dir, 'agent-home'),
  };
}

export interface AgentConfigInput {
  layout: HostLayout;
  /** The control plane's URL (commands API; GitHub under <url>/github). */
  controlPlaneUrl: string;
  /** Where agents download S3 revisions; default the control plane's URL. */
  s3Endpoint?: string;
  /** The CA certificate that signs deployment specifications; default layout.caFile. */
  deploymentSpecCaFile?: string;
  /** PEM bundle the agent trusts for TLS; written only when set (an https control plane). */
  caBundle?: string;
  /** :wait_between_runs: seconds; default 1 (the shipped value). */
  waitBetweenRunsSeconds?: number;
  /** Further lines appended as they are, e.g. ':command_update_interval_seconds: 1'. */
  extraLines?: readonly string[];
}

/** codedeployagent.yml for a host of this control plane. */
export function renderAgentConfig(o: AgentConfigInput): string {
  const url = o.controlPlaneUrl.replace(/\/+$/, '');
  const { layout } = o;
  const lines = [
    '# Written by codedeploy-control-plane add-host: an agent of the local control plane at',
    `# ${url}, every path under this directory. Run it with:`,
    `#   codedeploy-agent start --config_file ${layout.configFile}`,
    entry('deploy_control_endpoint', url),
    entry('s3_endpoint_override', o.s3Endpoint ?? url),
    entry('github_api_url', `${url}/github`),
    entry('deployment_spec_ca_file', o.deploymentSpecCaFile ?? layout.caFile),
    ...(o.caBundle !== undefined ? [entry('ca_bundle', o.caBundle)] : []),
    entry('root_dir', layout.rootDir),
    entry('log_dir', layout.logDir),
    entry('pid_dir', layout.pidDir),
    entry('working_directory', layout.workDir),
    entry('on_premises_config_file', layout.onPremisesFile),
    entry('wait_between_runs', o.waitBetweenRunsSeconds ?? 1),
    ...(o.extraLines ?? []),
  ];
  return `${lines.join('\n')}\n`;
}

export interface OnPremisesInput {
  region: string;
  iamUserArn: string;
  /** The instance name; makes the placeholder access key id readable in the control plane's logs. */
  name: string;
}

/** codedeploy.onpremises.yml: the identity the agent polls with, and placeholder keys. */
export function renderOnPremisesConfig(o: OnPremisesInput): string {
  return [
    '# The on-premises identity of this host. The local control plane accepts any credentials:',
    "# the keys below are placeholders, not secrets (against AWS, put an IAM user's keys here).",
    `region: ${scalar(o.region)}`,
    `iam_user_arn: ${scalar(o.iamUserArn)}`,
    `aws_access_key_id: ${scalar(placeholderAccessKeyId(o.name))}`,
    'aws_secret_access_key: placeholder-the-local-control-plane-accepts-any-key',
    '',
  ].join('\n');
}

/** AKIDLOCAL + the name's letters and digits, upper case (SigV4 puts it in the credential scope). */
export function placeholderAccessKeyId(name: string): string {
  return `AKIDLOCAL${name.replace(/[^A-Za-z0-9]/g, '').toUpperCase()}`;
}

export interface AgentFiles {
  config: string;
  onPremises: string;
  /** The CA certificate PEM to write to layout.caFile; not written when undefined. */
  caCertificate?: string;
}

/**
 * Writes the files atomically (the on-premises file 0600: it holds keys) and creates the
 * directory and the working directory (hooks start there); the agent creates the others itself.
 */
export async function writeAgentFiles(layout: HostLayout, files: AgentFiles): Promise<void> {
  await makeDirs(layout.dir);
  await makeDirs(layout.workDir);
  if (files.caCertificate !== undefined) await writeFileAtomic(layout.caFile, files.caCertificate, { mode: 0o644 });
  await writeFileAtomic(layout.onPremisesFile, files.onPremises, { mode: 0o600 });
  await writeFileAtomic(layout.configFile, files.config, { mode: 0o644 });
}

function entry(key: string, value: string | number): string {
  return `:${key}: ${scalar(value)}`;
}

/** One YAML 1.1 scalar on one line, quoted only when a plain one would mean something else. */
function scalar(value: string | number): string {
  return stringify(value, { version: '1.1', lineWidth: 0 }).trimEnd();
}
