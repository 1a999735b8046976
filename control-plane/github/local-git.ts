/**
 * Read access to the local git repositories the GitHub endpoint serves: `<reposDir>/<owner>/<repo>`
 * (a working tree) or `<reposDir>/<owner>/<repo>.git` (a bare repository).
 *
 * Decisions:
 * - Names come from URLs, so they are checked (`^[A-Za-z0-9_.-]+$`, not `.`/`..`) and the real path
 *   (symbolic links resolved) must stay inside the real reposDir; anything else is "no such repo".
 * - git is spawned with an argv array (never a shell), with every GIT_* variable of our own
 *   environment removed, and with an explicit `--git-dir`: git never searches parent directories
 *   (a plain folder inside some other work tree cannot serve that tree), and the ownership check
 *   (`safe.directory`) that applies to discovered repositories does not refuse repositories that an
 *   operator mounted with another owner. A `.git` file (linked work tree) is given to git as is.
 * - A ref is never an option: one starting with `-` is unknown, and `--end-of-options` comes first.
 * - A ref is what GitHub accepts in an archive URL: a full or abbreviated sha, HEAD, or a branch or
 *   tag name by git's refname rules (`git check-ref-format`). Revision syntax (`HEAD^{tree}`,
 *   `main~2`, `v1:path`, `@{-1}`) is an unknown ref, a 404, as on GitHub.
 * - Output of the small commands is bounded and they have a timeout; the archive is a child process
 *   the caller streams.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstat, realpath, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { isInside } from '../../common/path-confinement.js';

const NAME = /^[A-Za-z0-9_.-]+$/;
/** A full object name: SHA-1 (40) or SHA-256 (64) hex. */
const OBJECT_ID = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;
const COMMAND_TIMEOUT_MS = 30_000;
const MAX_OUTPUT_BYTES = 4 * 1024 * 1024;

export interface LocalRepository {
  owner: string;
  name: string;
  /** Real path of the repository folder (the work tree, or the bare repository). */
  dir: string;
  /** What git gets as --git-dir: `<dir>/.git` (folder or gitfile) or the bare `<dir>`. */
  gitDir: string;
}

export interface CommitInfo {
  sha: string;
  message: string;
  author: { name: string; email: string; date: string };
  committer: { name: string; email: string; date: string };
}

export type ArchiveFormat = 'tar.gz' | 'zip';

/** A git command that failed for a reason other than "no such ref". */
export class GitCommandError extends Error {
  constructor(
    message: string,
    readonly exitCode: number | null,
    readonly stderr: string,
  ) {
    super(message);
    this.name = 'GitCommandError';
  }
}

export function isValidName(name: string): boolean {
  return NAME.test(name) && name !== '.' && name !== '..';
}

export function isObjectId(value: string): boolean {
  return OBJECT_ID.test(value);
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

/** The git directory of a repository folder, or undefined when the folder is not a repository. */
async function gitDirOf(dir: string): Promise<string | undefined> {
  const dotGit = join(dir, '.git');
  try {
    const st = await lstat(dotGit);
    if (st.isDirectory() || st.isFile()) return dotGit;
  } catch {
    // not a work tree: maybe bare
  }
  if ((await isDirectory(join(dir, 'objects'))) && (await isDirectory(join(dir, 'refs')))) {
    try {
      if ((await stat(join(dir, 'HEAD'))).isFile()) return dir;
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/** Finds `<owner>/<repo>` (then `<owner>/<repo>.git`) under reposDir; undefined for anything invalid or absent. */
export async function openRepository(reposDir: string, owner: string, name: string): Promise<LocalRepository | undefined> {
  if (!isValidName(owner) || !isValidName(name)) return undefined;
  let root: string;
  try {
    root = await realpath(reposDir);
  } catch {
    return undefined;
  }
  for (const candidate of [join(reposDir, owner, name), join(reposDir, owner, `${name}.git`)]) {
    let dir: string;
    try {
      dir = await realpath(candidate);
    } catch {
      continue;
    }
    if (!isInside(root, dir, { allowRoot: false }) || !(await isDirectory(dir))) continue;
    const gitDir = await gitDirOf(dir);
    if (gitDir) return { owner, name, dir, gitDir };
  }
  return undefined;
}

/** The environment for git: ours without GIT_*, messages in English (they are logged), no prompts. */
function gitEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !key.toUpperCase().startsWith('GIT_')) env[key] = value;
  }
  env.GIT_TERMINAL_PROMPT = '0';
  env.LC_ALL = 'C';
  return env;
}

function gitArgs(repo: LocalRepository, args: readonly string[]): string[] {
  return [`--git-dir=${repo.gitDir}`, ...args];
}

interface GitResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runGit(repo: LocalRepository, args: readonly string[]): Promise<GitResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('git', gitArgs(repo, args), {
      cwd: repo.dir,
      env: gitEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: COMMAND_TIMEOUT_MS,
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outBytes = 0;
    let errBytes = 0;
    let overflow = false;
    child.stdout.on('data', (chunk: Buffer) => {
      outBytes += chunk.length;
      if (outBytes > MAX_OUTPUT_BYTES) {
        overflow = true;
        child.kill('SIGKILL');
      } else out.push(chunk);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      if (errBytes < 8192) err.push(chunk);
      errBytes += chunk.length;
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const stderr = Buffer.concat(err).toString('utf8').slice(0, 8192).trim();
      if (overflow) reject(new GitCommandError(`git ${args[0] ?? ''} wrote more than ${MAX_OUTPUT_BYTES} bytes`, code, stderr));
      else if (signal) reject(new GitCommandError(`git ${args[0] ?? ''} ended by ${signal}`, code, stderr));
      else resolve({ code, stdout: Buffer.concat(out).toString('utf8'), stderr });
    });
  });
}

function failed(args: readonly string[], result: GitResult): GitCommandError {
  return new GitCommandError(`git ${args[0] ?? ''} exited with ${String(result.code)}`, result.code, result.stderr);
}

function hasControlCharacter(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
}

const REF_MAX = 1024;
/** Characters git forbids anywhere in a refname (besides control characters and space). */
const REF_FORBIDDEN = /[~^:?*[\\]|\.\.|@\{|\/\/|^\/|\/$|\.$|^@$|\.lock(?:\/|$)|(?:^|\/)\./;

/** Whether `ref` is a name GitHub could resolve: a branch or tag name (git's refname rules), HEAD or a sha. */
export function isRefName(ref: string): boolean {
  if (ref === '' || ref.length > REF_MAX || ref.startsWith('-') || ref.includes(' ') || hasControlCharacter(ref)) return false;
  return !REF_FORBIDDEN.test(ref);
}

/** The commit a ref names (branch, tag, sha, HEAD, ...), or undefined when there is none. */
export async function resolveCommit(repo: LocalRepository, ref: string): Promise<string | undefined> {
  if (!isRefName(ref)) return undefined;
  const args = ['rev-parse', '--verify', '--quiet', '--end-of-options', `${ref}^{commit}`];
  const result = await runGit(repo, args);
  if (result.code === 0) {
    const sha = result.stdout.trim();
    if (!isObjectId(sha)) throw new GitCommandError(`git rev-parse printed an unexpected object name`, 0, result.stderr);
    return sha;
  }
  // --verify --quiet exits 1 when the name resolves to no commit: absent, or a tag of a tree or
  // blob (then with a line on stderr). Anything else (128: a broken repository) is a real failure.
  if (result.code === 1) return undefined;
  throw failed(args, result);
}

/** The branch HEAD points at (GitHub's default_branch), or "HEAD" when it is detached. */
export async function defaultBranch(repo: LocalRepository): Promise<string> {
  const result = await runGit(repo, ['symbolic-ref', '--quiet', '--short', 'HEAD']);
  const branch = result.stdout.trim();
  return result.code === 0 && branch !== '' ? branch : 'HEAD';
}

/** GitHub's timestamp form: UTC, seconds, "Z". */
function githubDate(iso: string): string {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Author, committer and message of a commit named by its full sha. */
export async function readCommit(repo: LocalRepository, sha: string): Promise<CommitInfo> {
  if (!isObjectId(sha)) throw new GitCommandError(`not an object name: ${JSON.stringify(sha)}`, null, '');
  const args = [
    'show',
    '-s',
    '--no-show-signature',
    '--no-color',
    '--format=%H%x00%an%x00%ae%x00%aI%x00%cn%x00%ce%x00%cI%x00%B',
    '--end-of-options',
    sha,
  ];
  const result = await runGit(repo, args);
  if (result.code !== 0) throw failed(args, result);
  const [hash = '', an = '', ae = '', ad = '', cn = '', ce = '', cd = '', ...message] = result.stdout.split('\0');
  return {
    sha: hash.trim(),
    message: message.join('\0').replace(/\n+$/, ''),
    author: { name: an, email: ae, date: githubDate(ad) },
    committer: { name: cn, email: ce, date: githubDate(cd) },
  };
}

/** The folder name GitHub puts every entry under: `<owner>-<repo>-<sha7>`. */
export function archiveRoot(repo: LocalRepository, sha: string): string {
  return `${repo.owner}-${repo.name}-${sha.slice(0, 7)}`;
}

/** Starts `git archive` of a commit; the caller reads stdout and decides on the exit status. */
export function spawnArchive(repo: LocalRepository, sha: string, format: ArchiveFormat): ChildProcessByStdio<null, Readable, Readable> {
  if (!isObjectId(sha)) throw new GitCommandError(`not an object name: ${JSON.stringify(sha)}`, null, '');
  const args = ['archive', `--format=${format}`, `--prefix=${archiveRoot(repo, sha)}/`, '--end-of-options', sha];
  return spawn('git', gitArgs(repo, args), { cwd: repo.dir, env: gitEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
}

/** A stable numeric id for the repository JSON (GitHub ids are numbers). */
export function repositoryId(owner: string, name: string): number {
  return createHash('sha256').update(`${owner}/${name}`).digest().readUIntBE(0, 6);
}
