/**
 * `codedeploy-agent doctor`: every check in order, each a CheckResult {name, status, detail, hint}.
 * This file gathers the local facts (config, directories, disk, tools) and runs the identity,
 * endpoint, connectivity, credentials and clock checks of doctor-identity.ts and doctor-network.ts.
 *
 * Decisions: an invalid or missing config is a failure, and the remaining checks still run with
 * the default values (said in the detail) so one run shows everything that is wrong. Checks read;
 * they never create, fix or write anything, and they work without root: what cannot be read is a
 * warning that says to run with sudo, not a failure.
 */
import { access, constants, stat, statfs } from 'node:fs/promises';
import { delimiter, dirname, join } from 'node:path';
import { configWithOverrides, loadAgentConfig, type AgentConfig } from '../../config/agent-config.js';
import { AgentError } from '../../errors.js';
import { errnoCode, toError } from '../../../common/errors.js';
import { loadAppSpec } from '../../deployment/appspec-loader.js';
import { DeploymentLayout } from '../../deployment/layout.js';
import { isPermissionError, OpsReadError } from '../access.js';
import { pickDeployment, scanDeployments } from '../deployment-history.js';
import { checkCredentials, checkEndpoint, checkIdentity } from './doctor-identity.js';
import { probeEndpoint } from './doctor-network.js';
import { checkAgentUser, type RootNeeds } from './doctor-user.js';
import { directoryCheck, diskSpaceCheck, fail, ok, warn, type CheckResult, type DirectoryFacts } from './doctor-rules.js';

export interface DoctorOptions {
  configPath: string;
  env: NodeJS.ProcessEnv;
  now?: () => Date;
  /** The endpoint request (default 5000 ms). */
  endpointTimeoutMs?: number;
  /** Each metadata request (default 1000 ms). */
  imdsTimeoutMs?: number;
}

export async function runDoctorChecks(o: DoctorOptions): Promise<CheckResult[]> {
  const now = o.now ?? (() => new Date());
  const results: CheckResult[] = [];
  const { result: configResult, config } = await checkConfig(o.configPath);
  results.push(configResult);
  const needs = await lastAppSpecNeeds(config);
  // A non-root agent (:user:): the user exists, and may own the agent's directories.
  const agentUser = config.user !== undefined || config.group !== undefined ? await checkAgentUser(config, needs.root) : undefined;
  if (agentUser) results.push(agentUser.result);
  const owner = agentUser?.uid !== undefined ? { agentUser: { uid: agentUser.uid, name: agentUser.name ?? String(agentUser.uid) } } : {};
  results.push(directoryCheck({ ...(await directoryFacts('root_dir', config.rootDir, true)), ...owner }));
  results.push(directoryCheck({ ...(await directoryFacts('log_dir', config.logDir, true)), ...owner }));
  results.push(directoryCheck({ ...(await directoryFacts('pid_dir', config.pidDir, false)), ...owner }));
  results.push(await checkDisk(config.rootDir));
  const identity = await checkIdentity(config, o.env, { imdsTimeoutMs: o.imdsTimeoutMs ?? 1000 });
  results.push(identity.result);
  const endpoint = checkEndpoint(config, identity.facts);
  results.push(endpoint.result);
  if (endpoint.endpoint) {
    const caBundlePath = config.caBundle ?? (o.env.AWS_CA_BUNDLE?.trim() || undefined);
    const probe = await probeEndpoint(endpoint.endpoint, {
      timeoutMs: o.endpointTimeoutMs ?? 5000,
      ...(config.proxyUri ? { proxyUri: config.proxyUri } : {}),
      ...(caBundlePath ? { caBundlePath } : {}),
    });
    results.push(probe.connectivity);
    results.push(await checkCredentials(config, o.env, identity.facts, now()));
    results.push(probe.clock);
  } else {
    results.push(warn('connectivity', 'not checked: no endpoint (see endpoint)', null));
    results.push(await checkCredentials(config, o.env, identity.facts, now()));
    results.push(warn('clock', 'not measured: no endpoint to compare with', null));
  }
  results.push(await checkTools(o.env, needs));
  return results;
}

export async function checkConfig(path: string): Promise<{ result: CheckResult; config: Readonly<AgentConfig> }> {
  try {
    const { config, warnings } = await loadAgentConfig(path);
    if (warnings.length > 0)
      return { result: warn('config', `${path} is valid, with warnings: ${warnings.join('; ')}`, 'Remove or correct those keys'), config };
    return { result: ok('config', `${path} is valid`), config };
  } catch (err) {
    const errno = err instanceof AgentError ? err.details.errno : errnoCode(err);
    const defaults = configWithOverrides({});
    const rest = 'the other checks use the default values';
    if (errno === 'EACCES' || errno === 'EPERM') {
      return {
        result: fail('config', `permission denied reading ${path}; run with sudo (${rest})`, 'Run "sudo codedeploy-agent doctor"'),
        config: defaults,
      };
    }
    const hint =
      errno === 'ENOENT'
        ? 'Install the agent (scripts/install.sh writes a default config), or pass --config_file with the path of codedeployagent.yml'
        : 'Fix the value named in the message; the keys are listed in the README (Configuration)';
    return { result: fail('config', `${toError(err).message} (${rest})`, hint), config: defaults };
  }
}

/** The deepest existing directory on the way to `path` (itself when it exists). */
async function nearestExisting(path: string): Promise<string> {
  let current = path;
  for (;;) {
    try {
      await stat(current);
      return current;
    } catch {
      const parent = dirname(current);
      if (parent === current) return current;
      current = parent;
    }
  }
}

async function directoryFacts(key: string, path: string, isPrivate: boolean): Promise<DirectoryFacts> {
  try {
    const s = await stat(path);
    return { key, path, private: isPrivate, stat: { isDirectory: s.isDirectory(), mode: s.mode, uid: s.uid } };
  } catch (err) {
    if (isPermissionError(err)) return { key, path, private: isPrivate, error: 'permission denied; cannot inspect it as this user' };
    if (errnoCode(err) !== 'ENOENT') return { key, path, private: isPrivate, error: toError(err).message };
  }
  const ancestor = await nearestExisting(path);
  let creatable = false;
  try {
    creatable = (await stat(ancestor)).isDirectory();
    await access(ancestor, constants.W_OK | constants.X_OK);
  } catch {
    creatable = false;
  }
  return { key, path, private: isPrivate, creatable };
}

async function checkDisk(rootDir: string): Promise<CheckResult> {
  const where = await nearestExisting(rootDir);
  try {
    const s = await statfs(where);
    return diskSpaceCheck(rootDir, s.bavail * s.bsize);
  } catch (err) {
    return warn('disk', `cannot measure free space for ${rootDir}: ${toError(err).message}`, null);
  }
}

/** The executable `name` on PATH (plus the sbin directories root has), or undefined. */
export async function findExecutable(name: string, pathVariable: string | undefined): Promise<string | undefined> {
  const dirs = [
    ...(pathVariable ?? '').split(delimiter),
    '/usr/local/sbin',
    '/usr/local/bin',
    '/usr/sbin',
    '/usr/bin',
    '/sbin',
    '/bin',
  ].filter((d) => d !== '');
  for (const dir of new Set(dirs)) {
    const candidate = join(dir, name);
    try {
      await access(candidate, constants.X_OK);
      if ((await stat(candidate)).isFile()) return candidate;
    } catch {
      // next
    }
  }
  return undefined;
}

/** What the last deployment's appspec needs from the host: setfacl for acls, semanage + restorecon for context. */
interface AppSpecNeeds {
  acls: boolean;
  runas?: boolean;
  context: boolean;
  deployment?: string;
  problem?: string;
  /** What only root can do (doctor-user.ts). */
  root?: RootNeeds;
}

async function lastAppSpecNeeds(config: Readonly<AgentConfig>): Promise<AppSpecNeeds> {
  try {
    const last = pickDeployment(await scanDeployments(config.rootDir, { trackingName: config.ongoingDeploymentTracking }));
    if (!last) return { acls: false, context: false };
    const archive = new DeploymentLayout(config.rootDir).archiveDir(last.dir);
    const { spec } = await loadAppSpec(archive, 'appspec.yml');
    const runasUsers = [...spec.hooks.values()].flatMap((scripts) =>
      scripts.flatMap((h) => (h.runas !== undefined && h.runas !== 'root' ? [h.runas] : [])),
    );
    const context = spec.permissions.some((p) => p.context !== undefined);
    return {
      acls: spec.permissions.some((p) => (p.acls?.length ?? 0) > 0),
      // A runas user reaches its scripts under the 0700 root_dir through ACL entries (agent/hooks/runas-access.ts).
      runas: runasUsers.length > 0,
      context,
      deployment: last.deploymentId,
      root: {
        deployment: last.deploymentId,
        runas: [...new Set(runasUsers)],
        owners: [...new Set(spec.permissions.flatMap((p) => (p.owner !== undefined ? [p.owner] : [])))],
        groups: [...new Set(spec.permissions.flatMap((p) => (p.group !== undefined ? [p.group] : [])))],
        context,
      },
    };
  } catch (err) {
    // Only an unreadable root_dir matters here; a revision without a valid appspec needs no tools.
    const denied = isPermissionError(err) || (err instanceof OpsReadError && (err.errno === 'EACCES' || err.errno === 'EPERM'));
    return denied ? { acls: false, context: false, problem: toError(err).message } : { acls: false, context: false };
  }
}

async function checkTools(env: NodeJS.ProcessEnv, needs: AppSpecNeeds): Promise<CheckResult> {
  const path = env.PATH;
  const parts: string[] = [];
  const missing: string[] = [];
  const tar = await findExecutable('tar', path);
  if (tar) parts.push(`tar ${tar}`);
  else missing.push('tar');
  parts.push('unzip not needed (zip bundles are unpacked in-process)');
  const wanted = [...(needs.acls || needs.runas ? ['setfacl'] : []), ...(needs.context ? ['semanage', 'restorecon'] : [])];
  const aclUse = needs.acls && needs.runas ? 'acls and runas hooks' : needs.acls ? 'acls' : 'runas hooks';
  for (const tool of wanted) {
    const found = await findExecutable(tool, path);
    if (found) parts.push(`${tool} ${found} (the appspec of ${needs.deployment} uses ${tool === 'setfacl' ? aclUse : 'context'})`);
    else missing.push(tool);
  }
  if (wanted.length === 0 && !needs.problem) {
    parts.push(
      needs.deployment
        ? `setfacl, semanage, restorecon not needed (the appspec of ${needs.deployment} uses no acls or context)`
        : 'setfacl, semanage, restorecon not needed yet (no deployed appspec on this host)',
    );
  }
  if (missing.length > 0) {
    const hints: string[] = [];
    if (missing.includes('tar')) hints.push('install tar (apt-get install tar / dnf install tar)');
    if (missing.includes('setfacl')) {
      hints.push(
        `install the acl package (apt-get install acl / dnf install acl) for appspec ${aclUse}${needs.runas ? ' (without it, runas users get o+x on the deployment root instead)' : ''}`,
      );
    }
    if (missing.includes('semanage') || missing.includes('restorecon')) {
      hints.push('install policycoreutils-python-utils (dnf) or policycoreutils-python-utils / semanage-utils (apt) for appspec context');
    }
    return fail('tools', `missing: ${missing.join(', ')}; ${parts.join('; ')}`, hints.join('; '));
  }
  if (needs.problem) {
    return warn(
      'tools',
      `${parts.join('; ')}; the last deployment's appspec could not be read (${needs.problem})`,
      'Run "sudo codedeploy-agent doctor" to check which tools the last appspec needs',
    );
  }
  return ok('tools', parts.join('; '));
}
