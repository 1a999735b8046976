/**
 * Permission matching and the per-path permission operations (pure). docs/reference.md section 5.4,
 * installer.rb lines 75-94 and linux_permission_info.rb:
 * - an object that is exactly a file this deployment copies gets the permission (when `type`
 *   includes file), after the file checks (pattern "**", no except, no default ACE);
 * - an object that is a directory this deployment creates or an existing directory matches the
 *   paths this deployment copies (type file) or creates (type directory) below it: "**" at any
 *   depth, any other pattern one path component with "*" globs, minus the `except` globs;
 * - anything else does nothing; pre-existing files are never touched.
 * Per path: chmod, setfacl, semanage, chown (official order), except that chown goes first when the
 * mode has setuid/setgid bits, because Linux clears those bits on chown (docs/reference.md section 11.2 item 12).
 * Symlinks this deployment created only get chown (as lchown): chmod, setfacl and semanage would
 * follow the link to wherever it points.
 */
import { resolve, sep } from 'node:path';
import type { Permission } from '../../appspec/model.js';
import { AgentError, ErrorCodes } from '../errors.js';
import type { FilePlanner } from './file-planner.js';
import * as msg from './install-messages.js';
import type { ChownOp, PermissionOp, PermissionRef, PermissionTarget, PlanFacts } from './operations.js';

/** A copy operation of the file phase, as the permission phase reads them back. */
export interface PlannedCopy {
  destination: string;
  kind: 'file' | 'symlink';
}

export interface PermissionPlanInput {
  permissions: readonly Permission[];
  baseDir: string;
  /** The file phase, finished: its mkdir targets and copyTo(). */
  files: Pick<FilePlanner, 'mkdirTargets' | 'copyTo'>;
  facts: PlanFacts;
  /** The file phase's copy operations in plan order; called once per permission that needs them. */
  copies: () => Iterable<PlannedCopy>;
}

/** How an earlier permission matched, to find a path given permissions twice without a set of paths. */
type Reach = { kind: 'none' } | { kind: 'file'; path: string } | { kind: 'below'; object: string; permission: Permission };

/**
 * The paths that receive each permission, in the official order (permissions in appspec order; for
 * each, the matching copy targets in plan order, then the matching mkdir targets). The operations of
 * a target are permissionOps(target). A path matched by two permissions fails the plan: whether an
 * earlier permission matched it is recomputed from that permission (its object, pattern, except and
 * types), so memory does not grow with the number of paths that receive permissions. A copy looked
 * at without a match yields undefined, so the caller can yield to the event loop during long scans.
 */
export function* planPermissionTargets(input: PermissionPlanInput): Generator<PermissionTarget | undefined, void, undefined> {
  const { files, facts } = input;
  const reached: Reach[] = [];

  const target = (path: string, index: number, isFile: boolean, isSymlink: boolean): PermissionTarget => {
    for (const earlier of reached) {
      if (reachedBy(earlier, path, isFile)) fail(msg.permissionTwice(path));
    }
    return { path, index, isSymlink };
  };

  for (const [index, permission] of input.permissions.entries()) {
    const object = resolve(input.baseDir, permission.object);
    const copy = files.copyTo(object);
    if (copy) {
      if (!permission.types.includes('file')) {
        reached.push({ kind: 'none' });
        continue;
      }
      validateFilePermission(permission);
      validateFileAcl(permission);
      yield target(object, index, true, copy.kind === 'symlink');
      reached.push({ kind: 'file', path: object });
    } else if (files.mkdirTargets.has(object) || facts.fact(object)?.isDirectory === true) {
      const matches = (path: string): boolean => matchesPattern(permission, object, path) && !matchesExcept(permission, object, path);
      if (permission.types.includes('file')) {
        // The official agent checks every matching file before it sets anything.
        if (permission.acls?.some((ace) => ace.isDefault)) {
          for (const c of input.copies()) if (matches(c.destination)) validateFileAcl(permission);
        }
        for (const c of input.copies()) {
          yield matches(c.destination) ? target(c.destination, index, true, c.kind === 'symlink') : undefined;
        }
      }
      if (permission.types.includes('directory')) {
        for (const dir of files.mkdirTargets) if (matches(dir)) yield target(dir, index, false, false);
      }
      reached.push({ kind: 'below', object, permission });
    } else {
      reached.push({ kind: 'none' });
    }
  }
}

/** Whether an earlier permission gave `path` (a copy target when isFile, else an mkdir target) its operations. */
function reachedBy(reach: Reach, path: string, isFile: boolean): boolean {
  switch (reach.kind) {
    case 'none':
      return false;
    case 'file':
      return reach.path === path;
    case 'below': {
      const { permission, object } = reach;
      if (!permission.types.includes(isFile ? 'file' : 'directory')) return false;
      return matchesPattern(permission, object, path) && !matchesExcept(permission, object, path);
    }
  }
}

function relativeBelow(object: string, path: string): string | undefined {
  const prefix = object.endsWith(sep) ? object : object + sep;
  return path.startsWith(prefix) ? path.slice(prefix.length) : undefined;
}

export function matchesPattern(permission: Permission, object: string, path: string): boolean {
  const rel = relativeBelow(object, path);
  if (rel === undefined) return false;
  return permission.pattern === '**' || matchesSimpleGlob(rel, permission.pattern);
}

export function matchesExcept(permission: Permission, object: string, path: string): boolean {
  const rel = relativeBelow(object, path);
  if (rel === undefined) return false;
  return permission.except.some((glob) => matchesSimpleGlob(rel, glob));
}

/** One path component against a glob where only "*" is special (any run of characters). */
export function matchesSimpleGlob(name: string, pattern: string): boolean {
  if (name.includes(sep)) return false;
  const parts = pattern.split('*');
  if (parts.length === 1) return name === pattern;
  const first = parts[0] as string;
  const last = parts[parts.length - 1] as string;
  if (name.length < first.length + last.length || !name.startsWith(first) || !name.endsWith(last)) return false;
  let at = first.length;
  const end = name.length - last.length;
  for (let i = 1; i < parts.length - 1; i++) {
    const part = parts[i] as string;
    const found = name.indexOf(part, at);
    if (found < 0 || found + part.length > end) return false;
    at = found + part.length;
  }
  return true;
}

function validateFilePermission(permission: Permission): void {
  if (permission.pattern !== '**') fail(msg.invalidFilePattern(permission.object, permission.pattern));
  if (permission.except.length > 0) fail(msg.invalidFileExcept(permission.except, permission.object));
}

function validateFileAcl(permission: Permission): void {
  if (permission.acls?.some((ace) => ace.isDefault)) fail(msg.defaultAclOnFile());
}

/** The operations one permission target receives, in the official per-path order. */
export function permissionOps(target: PermissionTarget, permissions: readonly Permission[]): PermissionOp[] {
  const { path: file, isSymlink } = target;
  const from: PermissionRef = { index: target.index, permission: permissions[target.index] as Permission };
  const p = from.permission;
  const ops: PermissionOp[] = [];
  const chown: ChownOp | undefined =
    p.owner !== undefined || p.group !== undefined
      ? {
          type: 'chown',
          file,
          ...(p.owner !== undefined ? { owner: p.owner } : {}),
          ...(p.group !== undefined ? { group: p.group } : {}),
          noFollow: isSymlink,
          from,
        }
      : undefined;
  if (isSymlink) return chown ? [chown] : [];
  const chownFirst = chown !== undefined && p.mode !== undefined && (p.mode.value & 0o6000) !== 0;
  if (chown && chownFirst) ops.push(chown);
  if (p.mode) ops.push({ type: 'chmod', file, mode: p.mode, from });
  if (p.acls) ops.push({ type: 'setfacl', file, acl: p.acls, from });
  if (p.context) ops.push({ type: 'semanage', file, context: p.context, from });
  if (chown && !chownFirst) ops.push(chown);
  return ops;
}

function fail(message: string): never {
  throw new AgentError(ErrorCodes.INSTALL_FAILED, message);
}
