/**
 * The `user` check of `codedeploy-agent doctor`, shown when the config sets :user: or :group:
 * (a non-root agent; agent/platform/privileges.ts): the user and group must exist (the messages
 * `start` fails with), and what the last deployed appspec asks of the host must be possible for
 * that user: `runas` another user, `owner`/`group` in permissions and SELinux `context` need root.
 */
import type { AgentConfig } from '../../config/agent-config.js';
import { lookupUser } from '../../hooks/user-lookup.js';
import { createAccountLookup } from '../../install/accounts.js';
import { createToolRunner } from '../../platform/tool-runner.js';
import { fail, ok, warn, type CheckResult } from './doctor-rules.js';

/** What the last deployment's appspec needs that only root can do. */
export interface RootNeeds {
  deployment?: string;
  /** `runas` users of its hooks. */
  runas: string[];
  /** `owner` and `group` names of its permissions. */
  owners: string[];
  groups: string[];
  context: boolean;
}

export interface AgentUserFacts {
  user?: string;
  group?: string;
  /** The user's uid and primary gid; undefined: no such user. */
  found?: { name: string; uid: number; gid: number };
  /** The :group:'s gid; undefined: no such group (or none set). */
  groupGid?: number;
  needs?: RootNeeds;
}

/** The judgement (pure). */
export function agentUserCheck(f: AgentUserFacts): CheckResult {
  if (f.user === undefined) {
    return warn(
      'user',
      `:group: ${f.group ?? ''} is set without :user:; it is ignored and the agent runs as root`,
      'Set :user: as well, or remove :group:',
    );
  }
  if (!f.found) {
    return fail(
      'user',
      `The system user does not exist: ${f.user}`,
      `Create it (e.g. useradd --system --no-create-home --shell /usr/sbin/nologin ${f.user}) or remove :user: from the config; start exits 78 until then`,
    );
  }
  if (f.group !== undefined && f.groupGid === undefined) {
    return fail(
      'user',
      `The system group does not exist: ${f.group}`,
      `Create it (groupadd --system ${f.group}) or remove :group: from the config`,
    );
  }
  const gid = f.groupGid ?? f.found.gid;
  if (f.found.uid === 0) return ok('user', `:user: ${f.user} is root: the agent runs as root`);
  const who = `${f.found.name} (uid ${f.found.uid}, gid ${gid})`;
  const detail = `the agent starts as root, takes root_dir, log_dir and pid_dir for ${who}, then runs as that user`;
  const needs = f.needs;
  const problems: string[] = [];
  if (needs) {
    const runas = needs.runas.filter((u) => u !== f.found?.name && u !== String(f.found?.uid));
    if (runas.length > 0) problems.push(`hooks run as ${runas.join(', ')} (runas)`);
    const owners = needs.owners.filter((u) => u !== f.found?.name && u !== String(f.found?.uid));
    if (owners.length > 0) problems.push(`files are given to ${owners.join(', ')} (permissions owner)`);
    const groups = needs.groups.filter((g) => g !== f.group && g !== f.found?.name && g !== String(gid));
    if (groups.length > 0)
      problems.push(`files are given to group ${groups.join(', ')} (permissions group; only the user's own groups work)`);
    if (needs.context) problems.push('SELinux contexts are set (permissions context: semanage needs root)');
  }
  if (problems.length === 0) return ok('user', detail);
  return warn(
    'user',
    `${detail}; but the appspec of ${needs?.deployment ?? 'the last deployment'} needs root: ${problems.join('; ')}`,
    'A non-root agent fails those steps: remove them from the appspec, or run the agent as root (remove :user:). See "Running the agent as a non-root user" in the README',
  );
}

/** Looks the user and group up (getent, as start does) and judges. */
export async function checkAgentUser(
  config: Readonly<AgentConfig>,
  needs: RootNeeds | undefined,
): Promise<{ result: CheckResult; uid?: number; name?: string }> {
  const facts: AgentUserFacts = {
    ...(config.user !== undefined ? { user: config.user } : {}),
    ...(config.group !== undefined ? { group: config.group } : {}),
    ...(needs ? { needs } : {}),
  };
  if (config.user !== undefined) {
    const entry = await lookupUser(config.user);
    if (entry) facts.found = { name: entry.name, uid: entry.uid, gid: entry.gid };
  }
  if (config.group !== undefined) {
    const gid = await createAccountLookup(createToolRunner({ timeoutMs: 10_000 })).gid(config.group);
    if (gid !== undefined) facts.groupGid = gid;
  }
  const result = agentUserCheck(facts);
  return { result, ...(facts.found && facts.found.uid !== 0 ? { uid: facts.found.uid, name: facts.found.name } : {}) };
}
