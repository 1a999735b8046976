/**
 * The agent configuration: codedeployagent.yml with the official keys (docs/reference.md section 8.1),
 * loaded once, validated once, frozen. Keys may be written ":key:" (the official file's Ruby
 * symbol style) or "key:". Every path the agent uses comes from here, so tests run in temp roots.
 */
import { readFile } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import { AgentError, ErrorCodes } from '../errors.js';
import { errnoCode, toError } from '../../common/errors.js';

export interface AgentConfig {
  /** The file the values came from, or "(defaults)". */
  source: string;
  programName: string;
  logDir: string;
  pidDir: string;
  rootDir: string;
  verbose: boolean;
  waitBetweenRunsSeconds: number;
  proxyUri?: string;
  maxRevisions: number;
  disableImdsV1: boolean;
  logAwsWire: boolean;
  onPremisesConfigFile: string;
  enableDeploymentsLog: boolean;
  killAgentMaxWaitTimeSeconds: number;
  useFipsMode: boolean;
  enableAuthPolicy: boolean;
  deployControlEndpoint?: string;
  s3EndpointOverride?: string;
  httpReadTimeoutSeconds: number;
  ongoingDeploymentTracking: string;
  codedeployTestProfile: string;
  waitAfterThrottleErrorSeconds: number;
  waitAfterConnectionProblemSeconds: number;
  maxRunsPerWorker: number;
  user?: string;
  group?: string;
  /** Ours: the working directory of every hook script (official de-facto: /opt/codedeploy-agent). */
  workingDirectory: string;
  /** Ours: after a hook timeout, SIGTERM the group, then SIGKILL after this many seconds. */
  hookKillGraceSeconds: number;
  /** Ours: after a hook exits, wait this long for its stdout/stderr to close before moving on. */
  hookOutputDrainSeconds: number;
  /** Ours: concurrent copies of large files (> 1 MiB) during Install. */
  installConcurrency: number;
  /** Ours: the instance metadata service (tests point it at a fake on loopback). */
  imdsEndpoint: string;
  /** Ours: accept TEXT/JSON (unsigned) deployment specifications from the control plane. */
  allowUnsignedSpecs: boolean;
  /** Ours: PEM file of CA certificates that must have issued the spec signer (chain check when set). */
  deploymentSpecCaFile?: string;
  /** Ours: PEM CA bundle for TLS to the control plane, S3 and GitHub (also AWS_CA_BUNDLE). */
  caBundle?: string;
  /** Ours: the GitHub API base URL (GitHub Enterprise, or a local server in tests). */
  githubApiUrl: string;
  /** Ours: a command running longer than this sends PostHostCommandUpdate, then again at this interval. */
  commandUpdateIntervalSeconds: number;
  /**
   * Ours: the longest wait between two tries while the control plane is unreachable: caps the poll
   * loop's backoff (official curve 10 s to 90 s) and the retries of GetDeploymentSpecification,
   * acknowledgements and completions (1 s, doubling, with jitter).
   */
  retryBackoffMaxSeconds: number;
  /** Ours: the agent log rotates past this size ... */
  logMaxBytes: number;
  /** ... keeping this many files in all. */
  logFilesKept: number;
}

export const DEFAULT_CONFIG_FILE = '/etc/codedeploy-agent/conf/codedeployagent.yml';
export const FALLBACK_CONFIG_FILE = '/opt/codedeploy-agent/conf/codedeployagent.yml';

/** The shipped defaults (docs/reference.md section 8.1, "Shipped conf" column where it differs). */
export function defaultConfigValues(): Omit<AgentConfig, 'source'> {
  return {
    programName: 'codedeploy-agent',
    logDir: '/var/log/aws/codedeploy-agent',
    pidDir: '/opt/codedeploy-agent/state/.pid',
    rootDir: '/opt/codedeploy-agent/deployment-root',
    verbose: false,
    waitBetweenRunsSeconds: 1,
    maxRevisions: 5,
    disableImdsV1: false,
    logAwsWire: false,
    onPremisesConfigFile: '/etc/codedeploy-agent/conf/codedeploy.onpremises.yml',
    enableDeploymentsLog: true,
    killAgentMaxWaitTimeSeconds: 7200,
    useFipsMode: false,
    enableAuthPolicy: false,
    httpReadTimeoutSeconds: 80,
    ongoingDeploymentTracking: 'ongoing-deployment',
    codedeployTestProfile: 'prod',
    waitAfterThrottleErrorSeconds: 60,
    waitAfterConnectionProblemSeconds: 5,
    maxRunsPerWorker: 0,
    workingDirectory: '/opt/codedeploy-agent',
    hookKillGraceSeconds: 10,
    hookOutputDrainSeconds: 2,
    installConcurrency: 32,
    imdsEndpoint: 'http://169.254.169.254',
    allowUnsignedSpecs: false,
    githubApiUrl: 'https://api.github.com',
    commandUpdateIntervalSeconds: 60,
    retryBackoffMaxSeconds: 90,
    logMaxBytes: 64 * 1024 * 1024,
    logFilesKept: 8,
  };
}

type Kind = 'string' | 'path' | 'bool' | 'int' | 'posint' | 'nonnegint';

/** Official key (snake_case, without the leading colon) -> our field and its kind. */
const KEYS: Record<string, { field: keyof Omit<AgentConfig, 'source'>; kind: Kind }> = {
  program_name: { field: 'programName', kind: 'string' },
  log_dir: { field: 'logDir', kind: 'path' },
  pid_dir: { field: 'pidDir', kind: 'path' },
  root_dir: { field: 'rootDir', kind: 'path' },
  verbose: { field: 'verbose', kind: 'bool' },
  wait_between_runs: { field: 'waitBetweenRunsSeconds', kind: 'nonnegint' },
  proxy_uri: { field: 'proxyUri', kind: 'string' },
  max_revisions: { field: 'maxRevisions', kind: 'posint' },
  disable_imds_v1: { field: 'disableImdsV1', kind: 'bool' },
  log_aws_wire: { field: 'logAwsWire', kind: 'bool' },
  on_premises_config_file: { field: 'onPremisesConfigFile', kind: 'path' },
  enable_deployments_log: { field: 'enableDeploymentsLog', kind: 'bool' },
  kill_agent_max_wait_time_seconds: { field: 'killAgentMaxWaitTimeSeconds', kind: 'nonnegint' },
  use_fips_mode: { field: 'useFipsMode', kind: 'bool' },
  enable_auth_policy: { field: 'enableAuthPolicy', kind: 'bool' },
  deploy_control_endpoint: { field: 'deployControlEndpoint', kind: 'string' },
  s3_endpoint_override: { field: 's3EndpointOverride', kind: 'string' },
  http_read_timeout: { field: 'httpReadTimeoutSeconds', kind: 'posint' },
  ongoing_deployment_tracking: { field: 'ongoingDeploymentTracking', kind: 'string' },
  codedeploy_test_profile: { field: 'codedeployTestProfile', kind: 'string' },
  wait_after_throttle_error: { field: 'waitAfterThrottleErrorSeconds', kind: 'nonnegint' },
  wait_after_connection_problem: { field: 'waitAfterConnectionProblemSeconds', kind: 'nonnegint' },
  max_runs_per_worker: { field: 'maxRunsPerWorker', kind: 'nonnegint' },
  user: { field: 'user', kind: 'string' },
  group: { field: 'group', kind: 'string' },
  working_directory: { field: 'workingDirectory', kind: 'path' },
  hook_kill_grace_seconds: { field: 'hookKillGraceSeconds', kind: 'nonnegint' },
  hook_output_drain_seconds: { field: 'hookOutputDrainSeconds', kind: 'nonnegint' },
  install_concurrency: { field: 'installConcurrency', kind: 'posint' },
  imds_endpoint: { field: 'imdsEndpoint', kind: 'string' },
  allow_unsigned_specs: { field: 'allowUnsignedSpecs', kind: 'bool' },
  deployment_spec_ca_file: { field: 'deploymentSpecCaFile', kind: 'path' },
  ca_bundle: { field: 'caBundle', kind: 'path' },
  github_api_url: { field: 'githubApiUrl', kind: 'string' },
  command_update_interval_seconds: { field: 'commandUpdateIntervalSeconds', kind: 'posint' },
  retry_backoff_max_seconds: { field: 'retryBackoffMaxSeconds', kind: 'posint' },
  log_max_bytes: { field: 'logMaxBytes', kind: 'posint' },
  log_files_kept: { field: 'logFilesKept', kind: 'posint' },
};

/** Official keys the agent accepts and ignores (legacy or single-process model). */
const IGNORED_KEYS = new Set([
  'children',
  'wait_between_spawning_children',
  'plugins',
  'use_mock_command_service',
  'wait_after_error',
  'shared_dir',
  'instance_service_region',
  'instance_service_endpoint',
  'instance_service_port',
]);

export interface LoadedConfig {
  config: Readonly<AgentConfig>;
  /** Non-fatal notes, e.g. unknown keys. */
  warnings: string[];
}

/** Read and validate a config file. Errors carry the official message texts. */
export async function loadAgentConfig(path: string): Promise<LoadedConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new AgentError(ErrorCodes.CONFIG_INVALID, `The config file ${path} does not exist or is not readable`, {
      cause: err,
      details: { errno: errnoCode(err) },
    });
  }
  return parseAgentConfig(text, path);
}

/** Validate config text (pure apart from resolving relative paths against the file's directory). */
export function parseAgentConfig(text: string, path: string): LoadedConfig {
  const fail = (message: string): never => {
    throw new AgentError(
      ErrorCodes.CONFIG_INVALID,
      `An error occurred loading the CodeDeploy agent config file at ${path}. Error message: ${message}`,
    );
  };
  // Duplicate keys: the last one wins, as in the official agent (docs/reference.md section 8.2).
  const doc = parseDocument(text, { version: '1.1', uniqueKeys: false });
  if (doc.errors.length > 0) {
    // The yaml library's first message line already names the line and column.
    fail((doc.errors[0]?.message.split('\n')[0] ?? 'invalid YAML').replace(/:\s*$/, ''));
  }
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    fail(toError(err).message);
  }
  if (raw === null || raw === undefined) raw = {};
  if (typeof raw !== 'object' || Array.isArray(raw)) fail('the file must be a mapping of keys to values');

  const values: Record<string, unknown> = { ...defaultConfigValues() };
  const warnings: string[] = [];
  const problems: string[] = [];
  for (const [rawKey, value] of Object.entries(raw as Record<string, unknown>)) {
    const key = rawKey.replace(/^:/, '');
    if (key === 'children') {
      if (value !== 1) problems.push('children can only be set to 1');
      continue;
    }
    if (IGNORED_KEYS.has(key)) continue;
    const spec = KEYS[key];
    if (!spec) {
      warnings.push(`Unknown configuration key :${key}: in ${path} is ignored`);
      continue;
    }
    if (value === null || value === undefined || value === '') {
      // An empty value (e.g. ":proxy_uri:" with nothing after it) means "not set".
      if (spec.kind === 'string') values[spec.field] = undefined;
      continue;
    }
    const checked = checkValue(key, spec.kind, value, path);
    if (isProblem(checked)) problems.push(checked.problem);
    else values[spec.field] = checked;
  }
  if (problems.length > 0) fail(problems.join('; '));
  const config = Object.freeze({ source: path, ...(values as Omit<AgentConfig, 'source'>) });
  return { config, warnings };
}

function isProblem(value: unknown): value is { problem: string } {
  return typeof value === 'object' && value !== null && 'problem' in value;
}

function checkValue(key: string, kind: Kind, value: unknown, path: string): unknown {
  switch (kind) {
    case 'string':
      if (typeof value === 'string' || typeof value === 'number') return String(value).trim();
      return { problem: `:${key}: must be a string` };
    case 'path': {
      if (typeof value !== 'string') return { problem: `:${key}: must be a path` };
      const trimmed = value.trim().replace(/(.)\/+$/, '$1');
      return isAbsolute(trimmed) ? trimmed : resolve(path, '..', trimmed);
    }
    case 'bool':
      if (typeof value === 'boolean') return value;
      return { problem: `:${key}: must be true or false` };
    case 'int':
    case 'posint':
    case 'nonnegint': {
      const n = typeof value === 'string' && /^\s*-?\d+\s*$/.test(value) ? Number(value) : value;
      const ok = typeof n === 'number' && Number.isInteger(n) && (kind !== 'posint' || n >= 1) && (kind !== 'nonnegint' || n >= 0);
      if (ok) return n;
      if (key === 'max_revisions') return { problem: `Invalid configuration :max_revision=${String(value)}` };
      return {
        problem: `:${key}: must be ${kind === 'posint' ? 'an integer of at least 1' : 'a whole number'}, not ${JSON.stringify(value)}`,
      };
    }
  }
}

/** A config made of the defaults with some values replaced (tests and the demo). */
export function configWithOverrides(overrides: Partial<Omit<AgentConfig, 'source'>>, source = '(defaults)'): Readonly<AgentConfig> {
  return Object.freeze({ source, ...defaultConfigValues(), ...overrides });
}
