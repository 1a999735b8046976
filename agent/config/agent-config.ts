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
  /** Ours: the agent log's format: text (the official line, default) or json (pino JSON lines). */
  logFormat: 'text' | 'json';
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
    logFormat: 'text',
  };
}

type Kind = 'string' | 'path' | 'bool' | 'int' | 'posint' | 'nonnegint' | 'logformat';

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
  log_format: { field: 'logFormat', kind: 'logformat' },
};

/**
 * Official keys the agent accepts and ignores (legacy, or the official master/children process
 * model), with why: a file that sets one gets a one-line warning at start, in the agent log and in
 * `doctor`. `children` is not here: 1 is what this agent does (silent), anything else is an error.
 */
const IGNORED_KEYS = new Map<string, string>([
  ['wait_between_spawning_children', 'this agent runs one process and spawns no children'],
  ['plugins', 'the CodeDeploy commands are built in and no plugins are loaded'],
  ['use_mock_command_service', 'to test against a fake service, point :deploy_control_endpoint: at it (e.g. codedeploy-control-plane)'],
  ['wait_after_error', 'after a failed poll the agent backs off 10 s to 90 s (capped by :retry_backoff_max_seconds:)'],
  ['shared_dir', 'the agent keeps its state under :root_dir: and :pid_dir:'],
  ['instance_service_region', 'the region comes from AWS_REGION, the on-premises file or the instance metadata'],
  ['instance_service_endpoint', 'the endpoint comes from the region, or from :deploy_control_endpoint:'],
  ['instance_service_port', 'the endpoint comes from the region, or from :deploy_control_endpoint:'],
]);

/**
 * Official keys that are read and validated but change nothing here. Their default is what this
 * agent does, so only another value is worth a warning (the official shipped file sets
 * `:log_aws_wire: false`, and a migrated config must start silently).
 */
const UNUSED_KEYS = new Map<string, string>([
  ['log_aws_wire', 'there is no AWS wire log; :verbose: true gives a debug agent log (credentials stay redacted)'],
  ['wait_after_throttle_error', 'throttled calls are retried with exponential backoff and jitter, honouring Retry-After'],
  ['wait_after_connection_problem', 'after a failed call the poll loop backs off 10 s to 90 s (capped by :retry_backoff_max_seconds:)'],
  ['max_runs_per_worker', 'this agent runs one long-lived process and never recycles it'],
]);

const ignoredWarning = (key: string, why: string): string => `:${key}: is accepted for compatibility and ignored: ${why}`;

export interface LoadedConfig {
  config: Readonly<AgentConfig>;
  /** Non-fatal notes, e.g. unknown keys. */
  warnings: string[];
  /** The official keys (without colons) the file sets to a value, e.g. "working_directory". */
  setKeys: ReadonlySet<string>;
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
  const setKeys = new Set<string>();
  for (const [rawKey, value] of Object.entries(raw as Record<string, unknown>)) {
    const key = rawKey.replace(/^:/, '');
    if (key === 'children') {
      if (value !== 1) problems.push('children can only be set to 1');
      continue;
    }
    const ignored = IGNORED_KEYS.get(key);
    if (ignored !== undefined) {
      if (value !== null && value !== undefined && value !== '') warnings.push(ignoredWarning(key, ignored));
      continue;
    }
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
    else {
      values[spec.field] = checked;
      setKeys.add(key);
    }
  }
  for (const [key, why] of UNUSED_KEYS) {
    const field = KEYS[key]?.field;
    if (setKeys.has(key) && field && values[field] !== defaultConfigValues()[field]) warnings.push(ignoredWarning(key, why));
  }
  if (values.group !== undefined && values.user === undefined) {
    warnings.push(":group: is ignored without :user: (the agent runs as root, with root's groups)");
  }
  if (problems.length > 0) fail(problems.join('; '));
  const config = Object.freeze({ source: path, ...(values as Omit<AgentConfig, 'source'>) });
  return { config, warnings, setKeys };
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
    case 'logformat': {
      const format = typeof value === 'string' ? value.trim().toLowerCase() : value;
      if (format === 'text' || format === 'json') return format;
      return { problem: `:${key}: must be text or json, not ${JSON.stringify(value)}` };
    }
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
