/**
 * A non-root agent: `:user:` and `:group:` (docs/reference.md section 8.1; README "Running the
 * agent as a non-root user"). As the official agent does, the agent starts as root and, once the
 * start-up work that needs root is done, switches to that user for good: setgid, initgroups
 * (the user's supplementary groups), setuid, in that order, then checks that root cannot come back.
 *
 * Before the switch the agent gives the user the directories it keeps writing to:
 * - root_dir, recursively (deployments, instructions, deployment logs, the in-flight records and
 *   the results outbox all live there), through `find -execdir chown` so that a path component
 *   swapped for a symlink mid-walk is never followed, and only for entries not owned yet (a
 *   restart costs one walk and no write). Regular files with more than one link are left alone: a
 *   hard link could name a file outside root_dir. Modes are kept (root_dir stays 0700).
 * - pid_dir and log_dir themselves (not their parents), and the agent's own files in them
 *   (`<program>.pid`, `.lock`, `.status.json`, `.log`, `.log.N`), with lchown.
 * A shared system directory (/, /var/log, /run, /tmp, ...) is never given away: that is a
 * configuration error. Pure decisions are exported for the unit tests; the rest touches the host.
 */
import { execFile } from 'node:child_process';
import { lchown, lstat, readdir, realpath } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { AgentError, ErrorCodes } from '../errors.js';
import { errnoCode, toError } from '../../common/errors.js';

/** A user as passwd(5) has it (hooks/user-lookup.ts PasswdEntry fits). */
export interface AgentUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

/** Who the agent becomes: the user, and the group (:group:, else the user's primary group). */
export interface AgentAccount {
  user: AgentUser;
  gid: number;
  /** The group as configured, or undefined for the user's primary group. */
  groupName?: string;
}

export interface AccountLookups {
  user(name: string): Promise<AgentUser | undefined>;
  /** The gid of a group name (or number), undefined when there is no such group. */
  group(name: string): Promise<number | undefined>;
}

export interface AccountRequest {
  user?: string;
  group?: string;
  /** The config file, for messages. */
  configSource: string;
  /** The process's effective uid now (process.geteuid()). */
  euid: number;
  lookups: AccountLookups;
}

/**
 * The account to switch to, or undefined when there is nothing to do: no :user:, or :user: is root
 * or the user the agent already runs as. Throws a configuration error (CDA_ERR_CONFIG_INVALID,
 * exit 78 at start) for a user or group that does not exist and for a non-root agent asked to
 * become someone else.
 */
export async function resolveAgentAccount(req: AccountRequest): Promise<AgentAccount | undefined> {
  if (req.user === undefined) return undefined;
  const user = await req.lookups.user(req.user);
  // The official agent's message, word for word.
  if (!user) throw new AgentError(ErrorCodes.CONFIG_INVALID, `The system user does not exist: ${req.user}`, { details: { key: 'user' } });
  let gid = user.gid;
  if (req.group !== undefined) {
    const found = await req.lookups.group(req.group);
    if (found === undefined)
      throw new AgentError(ErrorCodes.CONFIG_INVALID, `The system group does not exist: ${req.group}`, { details: { key: 'group' } });
    gid = found;
  }
  if (user.uid === 0) return undefined;
  if (user.uid === req.euid) return undefined;
  if (req.euid !== 0) {
    throw new AgentError(
      ErrorCodes.CONFIG_INVALID,
      `:user: ${req.user} in ${req.configSource} asks for user ${user.name} (uid ${user.uid}), but the agent runs as uid ${req.euid}, not root, and only root can switch users: start the agent as root (it switches to ${user.name} after start-up) or remove :user:`,
      { details: { key: 'user' } },
    );
  }
  return { user, gid, ...(req.group !== undefined ? { groupName: req.group } : {}) };
}

/** How an account is described in logs and messages: "cda (uid 998, gid 998)". */
export function describeAccount(account: AgentAccount): string {
  const group = account.groupName !== undefined ? `, group ${account.groupName}` : '';
  return `${account.user.name} (uid ${account.user.uid}, gid ${account.gid}${group})`;
}

/**
 * Directories that other programs share: giving one of them to the agent's user would hand it the
 * host. Anything at most one level below / counts too (/srv, /data, /home).
 */
const SYSTEM_DIRS = new Set([
  '/var/log',
  '/var/lib',
  '/var/run',
  '/var/cache',
  '/var/tmp',
  '/var/spool',
  '/var/log/aws',
  '/usr/local',
  '/usr/share',
  '/usr/lib',
  '/usr/bin',
  '/usr/sbin',
  '/run/user',
  '/opt/codedeploy-agent',
  '/opt/codedeploy-agent/bin',
  '/opt/codedeploy-agent/state',
  '/etc/codedeploy-agent',
  '/etc/codedeploy-agent/conf',
]);

/** Why `dir` must not be given to the agent's user, or undefined when it may (pure). */
export function sharedDirectoryProblem(dir: string): string | undefined {
  const path = resolve(dir);
  const depth = path.split('/').filter(Boolean).length;
  if (depth <= 1 || SYSTEM_DIRS.has(path)) return `${path} is a directory other programs share`;
  return undefined;
}

export interface DirectoryGrant {
  /** The config key that names the directory, for messages (root_dir, log_dir, pid_dir). */
  key: string;
  dir: string;
  /** root_dir: everything below. pid_dir, log_dir: the directory and the files named by `files`. */
  recursive: boolean;
  /** For a non-recursive grant: which entries of the directory are the agent's. */
  files?: (name: string) => boolean;
}

/** The directories of a daemon with this config (pure). */
export function agentDirectoryGrants(
  config: { rootDir: string; pidDir: string; logDir: string; programName: string },
  opts: { logDir: boolean },
): DirectoryGrant[] {
  const own = (name: string): boolean => name.startsWith(`${config.programName}.`);
  return [
    { key: 'root_dir', dir: config.rootDir, recursive: true },
    { key: 'pid_dir', dir: config.pidDir, recursive: false, files: own },
    ...(opts.logDir ? [{ key: 'log_dir', dir: config.logDir, recursive: false, files: own }] : []),
  ];
}

export interface GrantOutcome {
  key: string;
  dir: string;
  /** Entries whose owner changed. */
  changed: number;
}

/**
 * Gives the account the directories (see the header). Throws a configuration error when one is a
 * shared system directory, and a plain error naming the directory when chown fails.
 */
export async function grantDirectories(
  grants: readonly DirectoryGrant[],
  account: AgentAccount,
  configSource: string,
): Promise<GrantOutcome[]> {
  const outcomes: GrantOutcome[] = [];
  for (const grant of grants) {
    const dir = await realpath(grant.dir);
    const problem = sharedDirectoryProblem(dir);
    if (problem) {
      throw new AgentError(
        ErrorCodes.CONFIG_INVALID,
        `:${grant.key}: ${grant.dir} cannot be given to user ${account.user.name} (:user: in ${configSource}): ${problem}. A non-root agent must own its :${grant.key}:: point it at a directory of its own`,
        { details: { key: grant.key } },
      );
    }
    try {
      const changed = grant.recursive ? await chownTree(dir, account) : await chownOwnFiles(dir, account, grant.files ?? (() => false));
      outcomes.push({ key: grant.key, dir, changed });
    } catch (err) {
      throw new Error(`could not give ${dir} (:${grant.key}:) to user ${describeAccount(account)}: ${toError(err).message}`, {
        cause: err,
      });
    }
  }
  return outcomes;
}

const SAFE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * find -P DIR ( ! -uid U -o ! -gid G ) ( -type d -o -type l -o -type f -links 1 ) -printf . -execdir chown -h U:G -- {} +
 * -execdir runs chown from the entry's own directory on "./name", so a directory renamed or
 * replaced by a symlink while the walk runs leads nowhere outside DIR; -P never follows a link.
 */
async function chownTree(dir: string, account: AgentAccount): Promise<number> {
  const owner = `${account.user.uid}:${account.gid}`;
  // prettier-ignore
  const args = [
    '-P', dir,
    '(', '!', '-uid', String(account.user.uid), '-o', '!', '-gid', String(account.gid), ')',
    '(', '-type', 'd', '-o', '-type', 'l', '-o', '(', '-type', 'f', '-links', '1', ')', ')',
    '-printf', '.',
    '-execdir', 'chown', '-h', owner, '--', '{}', '+',
  ];
  const { stdout } = await run('find', args);
  return stdout.length;
}

function run(file: string, args: string[]): Promise<{ stdout: string }> {
  return new Promise((resolvePromise, reject) => {
    // -execdir refuses a PATH with relative entries: give find (and so chown) a fixed one.
    execFile(
      file,
      args,
      { encoding: 'utf8', env: { PATH: SAFE_PATH, LC_ALL: 'C' }, maxBuffer: 64 * 1024 * 1024, timeout: 30 * 60_000 },
      (err, stdout, stderr) => {
        if (!err) return resolvePromise({ stdout });
        const why = stderr.trim().split('\n').slice(0, 3).join('; ') || toError(err).message;
        reject(new Error(errnoCode(err) === 'ENOENT' ? `${file} is not installed (findutils)` : `${file} failed: ${why}`));
      },
    );
  });
}

/** lchown the directory itself and its entries that `files` names (regular files with one link). */
async function chownOwnFiles(dir: string, account: AgentAccount, files: (name: string) => boolean): Promise<number> {
  const { uid } = account.user;
  const { gid } = account;
  let changed = 0;
  const give = async (path: string, isDir: boolean): Promise<void> => {
    let st;
    try {
      st = await lstat(path);
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return; // a file that went away meanwhile (a rotated log)
      throw err;
    }
    if (st.uid === uid && st.gid === gid) return;
    if (isDir ? !st.isDirectory() : !st.isFile() || st.nlink !== 1) return;
    await lchown(path, uid, gid);
    changed++;
  };
  await give(dir, true);
  for (const name of await readdir(dir)) if (files(name)) await give(join(dir, name), false);
  return changed;
}

/** What the process calls to change identity (process in production; a fake in unit tests). */
export interface IdentityCalls {
  setgid(id: number): void;
  initgroups(user: string | number, extraGroup: number): void;
  setuid(id: number): void;
  getuid(): number;
  geteuid(): number;
  getgid(): number;
  getegid(): number;
  seteuid(id: number): void;
}

/**
 * setgid, initgroups, setuid, in that order (setgid and initgroups need root, so they come
 * before setuid), then proves the switch: every id is the account's, and setuid(0) and
 * seteuid(0) fail. Anything else throws, and the caller must not go on.
 */
export function switchToAccount(account: AgentAccount, calls: IdentityCalls = processIdentityCalls()): void {
  const who = describeAccount(account);
  try {
    calls.setgid(account.gid);
    calls.initgroups(account.user.name, account.gid);
    calls.setuid(account.user.uid);
  } catch (err) {
    throw new Error(`could not switch to user ${who}: ${toError(err).message}`, { cause: err });
  }
  const ids = [calls.getuid(), calls.geteuid(), calls.getgid(), calls.getegid()];
  const want = [account.user.uid, account.user.uid, account.gid, account.gid];
  if (ids.some((id, i) => id !== want[i])) {
    throw new Error(`switched to user ${who}, but the process now has uid ${ids[0]}/${ids[1]} and gid ${ids[2]}/${ids[3]}`);
  }
  for (const [name, call] of [
    ['setuid', () => calls.setuid(0)],
    ['seteuid', () => calls.seteuid(0)],
  ] as const) {
    let regained = true;
    try {
      call();
    } catch {
      regained = false;
    }
    if (regained) throw new Error(`switched to user ${who}, but ${name}(0) still succeeds: refusing to run with a way back to root`);
  }
}

function processIdentityCalls(): IdentityCalls {
  // process.initgroups exists on every POSIX Node; the @types/node the project builds with omits it.
  const p = process as NodeJS.Process & { initgroups?: (user: string | number, extraGroup: string | number) => void };
  if (!p.setgid || !p.initgroups || !p.setuid || !p.getuid || !p.geteuid || !p.getgid || !p.getegid || !p.seteuid) {
    throw new Error('switching users is not supported on this platform');
  }
  return {
    setgid: (id) => p.setgid?.(id),
    initgroups: (user, extra) => p.initgroups?.(user, extra),
    setuid: (id) => p.setuid?.(id),
    getuid: () => p.getuid?.() ?? -1,
    geteuid: () => p.geteuid?.() ?? -1,
    getgid: () => p.getgid?.() ?? -1,
    getegid: () => p.getegid?.() ?? -1,
    seteuid: (id) => p.seteuid?.(id),
  };
}

/** The agent's environment after the switch: HOME, USER and LOGNAME are the user's (hooks inherit them). */
export function accountEnvironment(env: NodeJS.ProcessEnv, account: AgentAccount): NodeJS.ProcessEnv {
  return { ...env, HOME: account.user.home || '/', USER: account.user.name, LOGNAME: account.user.name };
}

/**
 * For a failure message: when the cause is a permission error and this process is not root, one
 * sentence that says why (a non-root agent) and what the operator can do. "" otherwise.
 */
export function nonRootHint(cause: string, euid: number | undefined = process.geteuid?.()): string {
  if (euid === undefined || euid === 0 || !/\b(EACCES|EPERM)\b|permission denied|operation not permitted/i.test(cause)) return '';
  return ` (the agent runs as uid ${euid}, not root, because of :user: in its config or because codedeploy-local was started without sudo: it can only write where that user may and give files only to that user and its groups; see "Running the agent as a non-root user" in the README)`;
}
