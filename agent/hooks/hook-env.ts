/**
 * The environment of hook scripts (docs/reference.md section 7.3): the agent's own environment minus
 * credentials and process-manager variables, plus LIFECYCLE_EVENT, DEPLOYMENT_ID, APPLICATION_NAME,
 * DEPLOYMENT_GROUP_NAME, DEPLOYMENT_GROUP_ID and the revision's BUNDLE_* variables.
 *
 * Removed from the inherited environment (the official agent leaks some of these, weak point 7;
 * the README promises that no credential or token of the agent's environment reaches a hook):
 * - AWS credentials and what selects or locates them: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
 *   AWS_SESSION_TOKEN, AWS_SECURITY_TOKEN, AWS_ACCESS_KEY, AWS_SECRET_KEY (on-premises IAM user),
 *   AWS_CREDENTIAL_FILE, AWS_CREDENTIALS_FILE (on-premises IAM session), AWS_PROFILE,
 *   AWS_DEFAULT_PROFILE, AWS_SHARED_CREDENTIALS_FILE, AWS_CONFIG_FILE, AWS_ROLE_ARN,
 *   AWS_ROLE_SESSION_NAME, AWS_WEB_IDENTITY_TOKEN_FILE and every AWS_CONTAINER_* variable
 *   (ECS/EKS credential endpoints and their authorization token);
 * - GitHub tokens: GITHUB_TOKEN, GH_TOKEN, GH_ENTERPRISE_TOKEN, GITHUB_ENTERPRISE_TOKEN, GITHUB_PAT;
 * - any variable whose name contains SECRET, PASSWORD or PASSWD, has TOKEN(S), CREDENTIAL(S) or
 *   APIKEY between underscores, or ends in _API_KEY, _ACCESS_KEY, _PRIVATE_KEY or _SECRET_KEY
 *   (case-insensitive: NPM_TOKEN, VAULT_TOKEN, PGPASSWORD, DB_PASSWORD, STRIPE_API_KEY, ...), and
 *   MYSQL_PWD;
 * - systemd's per-service variables, which would let a script speak for the agent:
 *   NOTIFY_SOCKET, WATCHDOG_USEC, WATCHDOG_PID (every WATCHDOG_*), LISTEN_FDS, LISTEN_PID,
 *   LISTEN_FDNAMES;
 * - CODEDEPLOY_HOOK_RUN_ID: the hook runner sets its own per run (hook-runner.ts).
 * Kept, as the official agent passes them and they are no secret: AWS_REGION, AWS_DEFAULT_REGION,
 * AWS_HOST_IDENTIFIER, AWS_CA_BUNDLE and everything else (PATH, HOME, LANG, proxies, ...). A
 * script that needs AWS access uses the instance profile or its own configuration, never the
 * agent's identity.
 *
 * A revision variable whose value is undefined is removed even when the agent's environment has
 * it (Ruby unsets a variable given nil), e.g. no BUNDLE_VERSION for an unversioned S3 object.
 */

import { HOOK_RUN_ID_VARIABLE } from './hook-run-id.js';

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

/** Exact names removed from the inherited environment (compared in upper case). */
export const REMOVED_VARIABLES: ReadonlySet<string> = new Set([
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AWS_SECURITY_TOKEN',
  'AWS_ACCESS_KEY',
  'AWS_SECRET_KEY',
  'AWS_CREDENTIAL_FILE',
  'AWS_CREDENTIALS_FILE',
  'AWS_PROFILE',
  'AWS_DEFAULT_PROFILE',
  'AWS_SHARED_CREDENTIALS_FILE',
  'AWS_CONFIG_FILE',
  'AWS_ROLE_ARN',
  'AWS_ROLE_SESSION_NAME',
  'AWS_WEB_IDENTITY_TOKEN_FILE',
  'GITHUB_TOKEN',
  'GH_TOKEN',
  'GH_ENTERPRISE_TOKEN',
  'GITHUB_ENTERPRISE_TOKEN',
  'GITHUB_PAT',
  'MYSQL_PWD',
  'NOTIFY_SOCKET',
  'LISTEN_FDS',
  'LISTEN_PID',
  'LISTEN_FDNAMES',
  HOOK_RUN_ID_VARIABLE,
]);

/** Name patterns removed from the inherited environment. */
export const REMOVED_PATTERNS: readonly RegExp[] = [
  /^AWS_CONTAINER_/i,
  /^WATCHDOG_/,
  /SECRET|PASSWORD|PASSWD/i,
  /(^|_)(TOKENS?|CREDENTIALS?|APIKEY)(_|$)/i,
  /_(API|ACCESS|PRIVATE|SECRET)_KEY$/i,
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
