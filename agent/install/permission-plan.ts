/**
 * Permission matching and the per-path permission operations (pure). Reference section 5.4,
 * installer.rb lines 75-94 and linux_permission_info.rb:
 * - an object that is exactly a file this deployment copies gets the permission (when `type`
 *   includes file), after the file checks (pattern "**", no except, no default ACE);
 * - an object that is a directory this deployment creates or an existing directory matches the
 *   paths this deployment copies (type file) or creates (type directory) below it: "**" at any
 *   depth, any other pattern one path component with "*" globs, minus the `except` globs;
 * - anything else does nothing; pre-existing files are never touched.
 * Per path: chmod, setfacl, semanage, chown (official order), except that chown goes first when the
 * mode has setuid/setgid bits, because Linux clears those bits on chown (reference 11.2 item 12).
 * Symlinks this deployment created only get chown (as lchown): chmod, setfacl and semanage would
 * follow the link to wherever it points.
 */
import { resolve, sep } from 'node:path';
import type { Permission } from '../../appspec/model.js';
import { AgentError, ErrorCodes } from '../errors.js';
import type { CommandBuilder } from './install-plan.js';
import * as msg from './install-messages.js';
import type { InstallOp, PathFact, PermissionRef } from './operations.js';

export interface PermissionPlanInput {
  permissions: readonly Permission[];
  baseDir: string;
  builder: CommandBuilder;
  facts: ReadonlyMap<string, PathFact>;
}

/** Appends the permission operations to builder.ops; returns how many paths received some. */
export function planPermissions(input: PermissionPlanInput): number {
  const { builder, facts } = input;
  const seen = new Set<string>();
  let targets = 0;

  const setPermissions = (path: string, from: PermissionRef): void => {
    if (seen.has(path)) fail(msg.permissionTwice(path));
    seen.add(path);
    const ops = permissionOps(path, from, builder.copyTargets.get(path)?.kind === 'symlink');
    if (ops.length > 0) targets++;
    builder.ops.push(...ops);
  };

  input.permissions.forEach((permission, index) => {
    const from: PermissionRef = { index, permission };
    const object = resolve(input.baseDir, permission.object);
    if (builder.copyTargets.has(object)) {
      if (!permission.types.includes('file')) return;
      validateFilePermission(permission);
      validateFileAcl(permission);
      setPermissions(object, from);
    } else if (builder.mkdirTargets.has(object) || facts.get(object)?.isDirectory === true) {
      for (const match of findMatches(permission, object, builder)) setPermissions(match, from);
    }
  });
  return targets;
}

/** Copy targets (type file) then mkdir targets (type directory) below `object` that the permission matches. */
export function findMatches(permission: Permission, object: string, builder: CommandBuilder): string[] {
  const matches: string[] = [];
  if (permission.types.includes('file')) {
    for (const path of builder.copyTargets.keys()) {
      if (matchesPattern(permission, object, path) && !matchesExcept(permission, object, path)) {
        validateFileAcl(permission);
        matches.push(path);
      }
    }
  }
  if (permission.types.includes('directory')) {
    for (const path of builder.mkdirTargets) {
      if (matchesPattern(permission, object, path) && !matchesExcept(permission, object, path)) matches.push(path);
    }
  }
  return matches;
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

function permissionOps(file: string, from: PermissionRef, isSymlink: boolean): InstallOp[] {
  const p = from.permission;
  const ops: InstallOp[] = [];
  const chown: InstallOp | undefined =
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
