/**
 * The environment of hook scripts (reference section 7.3): the agent's own environment minus
 * secrets and process-manager variables, plus LIFECYCLE_EVENT, DEPLOYMENT_ID, APPLICATION_NAME,
 * DEPLOYMENT_GROUP_NAME, DEPLOYMENT_GROUP_ID and the revision's BUNDLE_* variables.
 *
 * Removed from the inherited environment (the official agent leaks some of these, weak point 7):
 * - AWS credentials: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN,
 *   AWS_SECURITY_TOKEN, AWS_ACCESS_KEY, AWS_SECRET_KEY (on-premises IAM user mode),
 *   AWS_CREDENTIAL_FILE, AWS_CREDENTIALS_FILE (on-premises IAM session mode),
 *   AWS_WEB_IDENTITY_TOKEN_FILE and every AWS_CONTAINER_CREDENTIALS_* variable;
 * - every variable whose name starts with AWS_ or CODEDEPLOY_ and contains SECRET, TOKEN or
 *   PASSWORD (case-insensitive), e.g. AWS_CONTAINER_AUTHORIZATION_TOKEN;
 * - systemd's per-service variables, which would let a script speak for the agent:
 *   NOTIFY_SOCKET, WATCHDOG_USEC, WATCHDOG_PID (every WATCHDOG_*), LISTEN_FDS, LISTEN_PID,
 *   LISTEN_FDNAMES.
 * Kept on purpose: AWS_REGION, AWS_DEFAULT_REGION, AWS_PROFILE, AWS_CONFIG_FILE and
 * AWS_SHARED_CREDENTIALS_FILE (names and paths an operator may set for the scripts' own aws CLI;
 * the files' permissions protect them).
 *
 * A revision variable whose value is undefined is removed even when the agent's environment has
 * it (Ruby unsets a variable given nil), e.g. no BUNDLE_VERSION for an unversioned S3 object.
 */

export interface HookEnvironmentOptions {
  baseEnv: NodeJS.ProcessEnv;
  lifecycleEvent: string;
  deploymentId: string;
  applicationName: string;
  deploymentGroupName: string;
  deploymentGroupId: string;
  /** BUNDLE_BUCKET, BUNDLE_KEY, BUNDLE_VERSION, BUNDLE_ETAG or BUNDLE_COMMIT; undefined = unset. */
  revisionEnv?: Record<string, string | undefined>;
}

/** Exact names removed from the inherited environment. */
export const REMOVED_VARIABLES: ReadonlySet<string> = new Set([
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AWS_SECURITY_TOKEN',
  'AWS_ACCESS_KEY',
  'AWS_SECRET_KEY',
  'AWS_CREDENTIAL_FILE',
  'AWS_CREDENTIALS_FILE',
  'AWS_WEB_IDENTITY_TOKEN_FILE',
  'NOTIFY_SOCKET',
  'LISTEN_FDS',
  'LISTEN_PID',
  'LISTEN_FDNAMES',
]);

/** Name patterns removed from the inherited environment. */
export const REMOVED_PATTERNS: readonly RegExp[] = [
  /^AWS_CONTAINER_CREDENTIALS_/i,
  /^WATCHDOG_/,
  /^(AWS|CODEDEPLOY)_.*(SECRET|TOKEN|PASSWORD)/i,
];

/** True when a variable of the agent's environment must not reach hook scripts. */
export function isRemovedVariable(name: string): boolean {
  return REMOVED_VARIABLES.has(name.toUpperCase()) || REMOVED_PATTERNS.some((p) => p.test(name));
}

export function buildHookEnvironment(options: HookEnvironmentOptions): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(options.baseEnv)) {
    if (value === undefined || isRemovedVariable(name)) continue;
    env[name] = value;
  }
  env.LIFECYCLE_EVENT = options.lifecycleEvent;
  env.DEPLOYMENT_ID = options.deploymentId;
  env.APPLICATION_NAME = options.applicationName;
  env.DEPLOYMENT_GROUP_NAME = options.deploymentGroupName;
  env.DEPLOYMENT_GROUP_ID = options.deploymentGroupId;
  for (const [name, value] of Object.entries(options.revisionEnv ?? {})) {
    if (value === undefined) delete env[name];
    else env[name] = value;
  }
  return env;
}
