/**
 * Lets a `runas` user reach its script. The agent keeps root_dir 0700 and its other directories
 * 0750, owned by root (docs/design.md section 8), so a user such as nobody cannot traverse
 * <root_dir>/<DGID>/<DID>/deployment-archive/ on its own. Before such a script runs, that one user
 * gets a POSIX ACL entry: search (--x) on every directory from root_dir down to the deployment
 * directory, read and search (r-x) on deployment-archive. The archive's content keeps the modes it
 * shipped with.
 *
 * - Only missing bits are added. The user's current access on a directory (its named entry, else
 *   the owning group's bits when that is its primary group, else "other") is kept, and the
 *   directory is left alone when it already covers what is needed. So a second hook of the same
 *   deployment writes nothing, and no grant takes access away.
 * - The owner, owning-group and other entries stay as they were. With a named entry in an ACL,
 *   the group bits of the mode show the ACL mask instead: `ls -ld root_dir` shows drwx--x---+,
 *   and `getfacl` still shows group::---.
 * - Without ACLs (setfacl missing, or a filesystem without ACL support) the same bits go on the
 *   "other" class (the group class when the dir's group is the user's primary group), and the
 *   outcome carries one warning for scripts.log.
 *
 * A user who reaches a directory only through a supplementary group, and holds more there than
 * search, keeps only search plus "other" on the directories of the chain: the entry is named.
 */
import { chmod, stat } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import type { Logger } from 'pino';
import { toError } from '../../common/errors.js';
import { isInside } from '../../common/path-confinement.js';
import { describeStatus, type ToolResult, type ToolRunner } from '../platform/tool-runner.js';
import { isValidUserName, type PasswdEntry, type UserLookup } from './user-lookup.js';

const SEARCH = 0o1;
const READ_SEARCH = 0o5;

export interface AccessStep {
  dir: string;
  /** rwx bits the user needs there: 1 (search) or 5 (read and search). */
  need: number;
}

/**
 * The directories of one grant: root_dir, each directory below it down to the deployment
 * directory (search), then the archive (read and search). Undefined when the archive's deployment
 * directory is not inside root_dir: then it is none of the agent's directories.
 */
export function accessChain(rootDir: string, archiveDir: string): AccessStep[] | undefined {
  const root = resolve(rootDir);
  const archive = resolve(archiveDir);
  const deploymentDir = dirname(archive);
  if (!isInside(root, deploymentDir)) return undefined;
  const rel = relative(root, deploymentDir);
  const steps: AccessStep[] = [{ dir: root, need: SEARCH }];
  let dir = root;
  for (const part of rel === '' ? [] : rel.split(sep)) {
    dir = join(dir, part);
    steps.push({ dir, need: SEARCH });
  }
  steps.push({ dir: archive, need: READ_SEARCH });
  return steps;
}

interface AclFacts {
  /** The user's named entry, when it has one. */
  named?: number;
  group: number;
  other: number;
  mask?: number;
}

/** `getfacl --omit-header --numeric` output, for one uid (pure). Default entries do not decide access. */
export function parseAcl(text: string, uid: number): AclFacts | undefined {
  const facts: Partial<AclFacts> = {};
  for (const raw of text.split('\n')) {
    const m = /^(user|group|mask|other):([^:]*):([r-][w-][x-])/.exec(raw.trim());
    if (!m) continue;
    const [type, qualifier, p] = [m[1], m[2], m[3] ?? ''];
    const bits = (p[0] === 'r' ? 4 : 0) | (p[1] === 'w' ? 2 : 0) | (p[2] === 'x' ? 1 : 0);
    if (type === 'user' && qualifier === String(uid)) facts.named = bits;
    else if (type === 'group' && qualifier === '') facts.group = bits;
    else if (type === 'mask') facts.mask = bits;
    else if (type === 'other') facts.other = bits;
  }
  if (facts.group === undefined || facts.other === undefined) return undefined;
  return facts as AclFacts;
}

/** The bits the user holds on the directory now, as the kernel would decide (owner aside: never the user here). */
function currentBits(acl: AclFacts, ownGroup: boolean): number {
  const mask = acl.mask ?? 7;
  if (acl.named !== undefined) return acl.named & mask;
  return ownGroup ? acl.group & mask : acl.other;
}

const perms = (bits: number): string => `${bits & 4 ? 'r' : '-'}${bits & 2 ? 'w' : '-'}${bits & 1 ? 'x' : '-'}`;

export interface RunasAccessRequest {
  rootDir: string;
  /** The deployment-archive the script runs from (this deployment's or a previous one's). */
  archiveDir: string;
  user: PasswdEntry;
  tools: ToolRunner;
}

export interface RunasAccessOutcome {
  /** Directories whose ACL got (or widened) the user's entry. */
  acl: string[];
  /** Directories whose mode bits were widened because ACLs were unavailable, e.g. "o+x /root". */
  widened: string[];
  /** One line for scripts.log when mode bits were widened. */
  warning?: string;
}

export async function grantRunasAccess(req: RunasAccessRequest): Promise<RunasAccessOutcome> {
  const outcome: RunasAccessOutcome = { acl: [], widened: [] };
  const chain = accessChain(req.rootDir, req.archiveDir);
  if (!chain || req.user.uid === 0) return outcome;
  const acls = await readAcls(
    req.tools,
    chain.map((s) => s.dir),
    req.user.uid,
  );
  let aclFailure = typeof acls === 'string' ? acls : undefined;
  for (const [i, { dir, need }] of chain.entries()) {
    const st = await stat(dir);
    const ownGroup = st.gid === req.user.gid;
    const acl = typeof acls === 'string' ? undefined : acls[i];
    if (aclFailure === undefined && acl) {
      const has = currentBits(acl, ownGroup);
      if ((has & need) === need) continue;
      const set = await req.tools.run('setfacl', ['-m', `u:${req.user.uid}:${perms((acl.named ?? has) | need)}`, '--', dir]);
      if (set.exitCode === 0) {
        outcome.acl.push(dir);
        continue;
      }
      aclFailure = failure('setfacl', set);
    }
    // No ACLs: widen the class the kernel will check for this user.
    const shift = ownGroup ? 3 : 0;
    const mode = st.mode & 0o7777;
    if (((mode >> shift) & 7 & need) === need) continue;
    await chmod(dir, mode | (need << shift));
    outcome.widened.push(`${ownGroup ? 'g' : 'o'}+${perms(need).replace(/-/g, '')} ${dir}`);
  }
  if (outcome.widened.length > 0) {
    outcome.warning =
      `Could not give user ${req.user.name} access with an ACL (${aclFailure ?? 'unknown error'}); widened mode bits instead so its script can run:` +
      ` ${outcome.widened.join(', ')}. Every user in that class can now reach these directories.` +
      ' To grant only the runas user, install the acl package (apt-get install acl, or dnf install acl) and keep root_dir on a filesystem with ACL support.';
  }
  return outcome;
}

/**
 * One getfacl for the whole chain (a later hook only reads, so this is its whole cost); its
 * sections come in argument order. A string says why the ACLs could not be read.
 */
async function readAcls(tools: ToolRunner, dirs: string[], uid: number): Promise<AclFacts[] | string> {
  const read = await tools.run('getfacl', ['--numeric', '--absolute-names', '--', ...dirs]);
  if (read.exitCode !== 0) return failure('getfacl', read);
  const acls = read.stdout
    .split(/^# file: /m)
    .slice(1)
    .map((section) => parseAcl(section, uid));
  const parsed = acls.filter((a): a is AclFacts => a !== undefined);
  if (parsed.length !== dirs.length) return `getfacl printed ${parsed.length} ACLs for ${dirs.length} directories`;
  return parsed;
}

function failure(tool: string, result: ToolResult): string {
  const why = result.stderr.trim().split('\n')[0] ?? '';
  return `${tool} exited with ${describeStatus(result)}${why ? `: ${why}` : ''}`;
}

export interface RunasAccessContext {
  rootDir: string;
  tools: ToolRunner;
  lookupUser: UserLookup;
  /** The agent's effective uid: only root switches users, so only root grants. */
  agentUid: number;
  logger: Logger;
  /** Writes one [agent] line to scripts.log (and the diagnostics tail). */
  note(message: string): void;
  /** "<archiveDir>\0<uid>" already handled by this lifecycle event. */
  done: Set<string>;
}

/**
 * Before a `runas` script: resolves the user and grants what it needs. Returns the resolved user
 * so the hook runner need not look it up again; undefined when there is nothing to grant (root, an
 * unknown user: the runner reports that). A failed grant is logged and noted, never thrown: the
 * script then fails the way it would have, with its own message.
 */
export async function prepareRunasAccess(ctx: RunasAccessContext, runas: string, archiveDir: string): Promise<PasswdEntry | undefined> {
  if (ctx.agentUid !== 0 || !isValidUserName(runas)) return undefined;
  const user = await ctx.lookupUser(runas);
  if (!user || user.uid === 0) return user;
  const key = `${resolve(archiveDir)}\0${user.uid}`;
  if (ctx.done.has(key)) return user;
  ctx.done.add(key);
  try {
    const outcome = await grantRunasAccess({ rootDir: ctx.rootDir, archiveDir, user, tools: ctx.tools });
    if (outcome.acl.length > 0)
      ctx.logger.info({ user: user.name, dirs: outcome.acl }, `gave user ${user.name} access to its scripts with ACL entries`);
    if (outcome.warning) {
      ctx.logger.warn({ user: user.name, widened: outcome.widened }, outcome.warning);
      ctx.note(outcome.warning);
    }
  } catch (err) {
    const message = `Could not give user ${user.name} access to ${archiveDir}: ${toError(err).message}`;
    ctx.logger.warn({ err: toError(err), user: user.name }, message);
    ctx.note(message);
  }
  return user;
}
