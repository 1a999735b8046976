/**
 * The central registry of the agent's error codes. Every error the agent raises on purpose is an
 * AgentError carrying one of these stable codes; the README lists them. Script outcomes are not
 * errors: the hook runner returns them as HookResult values with CodeDeploy's 0-7 codes.
 */
export const ErrorCodes = {
  /** The appspec file is missing, unparsable or breaks a rule. */
  APPSPEC_INVALID: 'CDA_ERR_APPSPEC_INVALID',
  /** The appspec file was not found in the revision. */
  APPSPEC_MISSING: 'CDA_ERR_APPSPEC_MISSING',
  /** The agent configuration file is missing, unparsable or has an invalid value. */
  CONFIG_INVALID: 'CDA_ERR_CONFIG_INVALID',
  /** The deployment specification is malformed or has an unsupported format. */
  SPEC_INVALID: 'CDA_ERR_SPEC_INVALID',
  /** The bundle could not be fetched (local path missing, S3 or GitHub error). */
  BUNDLE_FETCH: 'CDA_ERR_BUNDLE_FETCH',
  /** The bundle archive is corrupt or could not be unpacked. */
  BUNDLE_UNPACK: 'CDA_ERR_BUNDLE_UNPACK',
  /** An archive entry or appspec path tries to leave its directory. */
  PATH_ESCAPE: 'CDA_ERR_PATH_ESCAPE',
  /** The install step failed (file exists, conflicting instructions, permission tool failed). */
  INSTALL_FAILED: 'CDA_ERR_INSTALL_FAILED',
  /** The deployment root or instructions could not be read or written. */
  DEPLOYMENT_ROOT: 'CDA_ERR_DEPLOYMENT_ROOT',
  /** A command-line usage error. */
  USAGE: 'CDA_ERR_USAGE',
  /** The codedeploy-local validation of its options failed. */
  LOCAL_VALIDATION: 'CDA_ERR_LOCAL_VALIDATION',
  /** The feature exists in the official agent but not yet here. */
  NOT_SUPPORTED: 'CDA_ERR_NOT_SUPPORTED',
  /** The host identity or region could not be determined (IMDS unreachable or incomplete). */
  IDENTITY: 'CDA_ERR_IDENTITY',
  /** The on-premises configuration file (codedeploy.onpremises.yml) is unparsable or incomplete. */
  ONPREMISES_CONFIG_INVALID: 'CDA_ERR_ONPREMISES_CONFIG_INVALID',
  /** A commands API call (PollHostCommand, ...) failed: HTTP error, network error or malformed answer. */
  CONTROL_PLANE: 'CDA_ERR_CONTROL_PLANE',
  /** Another agent holds this host's lock (pid_dir or root_dir). */
  ALREADY_RUNNING: 'CDA_ERR_ALREADY_RUNNING',
  /** The AWS credentials for the commands API could not be obtained. */
  CREDENTIALS: 'CDA_ERR_CREDENTIALS',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

export interface AgentErrorOptions {
  cause?: unknown;
  /** Structured context, e.g. { entry: '../x' } or { file: 'appspec.yml' }; never secrets. */
  details?: Record<string, unknown>;
}

export class AgentError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, options: AgentErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AgentError';
    this.code = code;
    this.details = options.details ?? {};
  }
}

/**
 * CodeDeploy's host-command error codes, carried in PutHostCommandComplete diagnostics
 * (docs/design.md section 3; docs/reference.md section 7.6).
 */
export const ScriptErrorCode = {
  SUCCEEDED: 0,
  SCRIPT_MISSING: 1,
  SCRIPT_NOT_EXECUTABLE: 2,
  SCRIPT_TIMED_OUT: 3,
  SCRIPT_FAILED: 4,
  UNKNOWN_ERROR: 5,
  OUTPUTS_LEFT_OPEN: 6,
  FAILED_AFTER_RESTART: 7,
} as const;

export type ScriptErrorCodeValue = (typeof ScriptErrorCode)[keyof typeof ScriptErrorCode];

/**
 * Exit status of `codedeploy-agent start` for a configuration error: 78 (EX_CONFIG, sysexits.h).
 * The unit says RestartPreventExitStatus=78, so systemd stops retrying what only a fix can cure.
 */
export const EXIT_CONFIG = 78;

/** OS errors that can go away by themselves: a configuration error with one of these causes is transient. */
const TRANSIENT_ERRNO = new Set(['ENOSPC', 'EDQUOT', 'EIO', 'EMFILE', 'ENFILE', 'ENOMEM', 'EAGAIN', 'EBUSY', 'EINTR', 'ETIMEDOUT']);

/**
 * The one place that decides how a failed start exits: 78 for the configuration-class errors
 * (CONFIG_INVALID: the config file, its values, :user:/:group:, :deployment_spec_ca_file:, an
 * unusable :log_dir:; ONPREMISES_CONFIG_INVALID), unless the underlying OS error is transient
 * (a full disk, EIO); 1 for everything else (identity not yet available, network, credentials,
 * another agent still holding the host lock), which systemd's Restart=on-failure retries.
 */
export function startExitCode(err: unknown): number {
  if (!(err instanceof AgentError)) return 1;
  if (err.code !== ErrorCodes.CONFIG_INVALID && err.code !== ErrorCodes.ONPREMISES_CONFIG_INVALID) return 1;
  let cause: unknown = err.cause;
  for (let depth = 0; cause !== undefined && depth < 5; depth++) {
    const code = typeof cause === 'object' && cause !== null && 'code' in cause ? (cause as { code: unknown }).code : undefined;
    if (typeof code === 'string' && TRANSIENT_ERRNO.has(code)) return 1;
    cause = cause instanceof Error ? cause.cause : undefined;
  }
  return EXIT_CONFIG;
}
