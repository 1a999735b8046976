/**
 * "Is this path inside that root": the one rule for every path that comes from an appspec, a spec
 * or a URL (hook locations, files sources, the AppSpec file name, repository folders), shared by the
 * deployment, `codedeploy-agent validate` and the control plane (docs/design.md section 5: one
 * confinement function, used by validate and by the deployment alike).
 *
 * The rule (isInside) is lexical:
 * - Both paths are absolute; they are normalised first (path.relative resolves them), so trailing
 *   slashes, "." and "a/../b" do not matter, and "/" as root contains every absolute path.
 * - `path` is inside when the way from root to it does not start with a ".." component. A name that
 *   merely starts with two dots ("..hidden", "...") is an ordinary child: it is inside.
 * - The root itself is inside unless `allowRoot: false` (a repository folder or an AppSpec file
 *   cannot be the root itself; a files source "/" can).
 * - Names are compared as they are: no Unicode normalisation and no case folding, as on Linux
 *   file systems.
 *
 * Written paths (joinRootRelative, resolveInside) are always root-relative: a leading "/" names the
 * root, not the host's "/" (docs/reference.md section 7.1 for hook locations, section 5.3 for files sources).
 *
 * locateInside adds the file system: the real path (symbolic links followed) must be inside the
 * root's real path too. It can leave the last component unfollowed, for paths that are used as
 * they are (a files source that is a symlink is copied as a link, never read through).
 */
import { realpath } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { errnoCode } from './errors.js';

export interface ConfinementOptions {
  /** Whether the root itself counts as inside (default true). */
  allowRoot?: boolean;
}

/** True when `path` is `root` (unless allowRoot is false) or below it, lexically. */
export function isInside(root: string, path: string, options: ConfinementOptions = {}): boolean {
  const rel = relative(root, path);
  if (rel === '') return options.allowRoot ?? true;
  return !isAbsolute(rel) && rel !== '..' && !rel.startsWith(`..${sep}`);
}

/** The absolute path a root-relative path written in an appspec or spec names (a leading "/" is the root). Not checked. */
export function joinRootRelative(root: string, written: string): string {
  return resolve(root, written.replace(/^\/+/, ''));
}

/** joinRootRelative, or undefined when the result is not inside root. */
export function resolveInside(root: string, written: string, options: ConfinementOptions = {}): string | undefined {
  const path = joinRootRelative(root, written);
  return isInside(resolve(root), path, options) ? path : undefined;
}

export interface LocateOptions extends ConfinementOptions {
  /** Resolve the last component too (default true); false checks only the directory it is in. */
  followLast?: boolean;
}

export type Location =
  /** `path` is the lexical path, `real` the one with symbolic links resolved. */
  | { kind: 'inside'; path: string; real: string }
  /** `path` is the lexical path when that escapes, else the real path that does. */
  | { kind: 'outside'; path: string }
  /** The path (or, with followLast false, its directory), or the root, does not exist or loops. */
  | { kind: 'missing'; path: string };

/**
 * Where an absolute path leads: outside when it escapes root lexically or through a symbolic link,
 * missing when it does not resolve (ENOENT, ENOTDIR, ELOOP). Other errors (EACCES...) are thrown.
 */
export async function locateInside(root: string, path: string, options: LocateOptions = {}): Promise<Location> {
  const lexicalRoot = resolve(root);
  const lexical = resolve(path);
  if (!isInside(lexicalRoot, lexical, options)) return { kind: 'outside', path: lexical };
  let real: string;
  let realRoot: string;
  try {
    realRoot = await realpath(lexicalRoot);
    const followLast = (options.followLast ?? true) || lexical === lexicalRoot;
    real = followLast ? await realpath(lexical) : join(await realpath(dirname(lexical)), basename(lexical));
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP') return { kind: 'missing', path: lexical };
    throw err;
  }
  if (!isInside(realRoot, real, options)) return { kind: 'outside', path: real };
  return { kind: 'inside', path: lexical, real };
}
