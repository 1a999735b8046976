/**
 * The install planner as it was before it streamed (whole plan in memory, the official CommandBuilder
 * maps of every copy and mkdir target, a set of every path given permissions): the reference that
 * the streaming planner must match operation for operation and message for message.
 */
import { basename, dirname, join, resolve } from 'node:path';
import { AgentError, ErrorCodes } from '../../../agent/errors.js';
import type { PlanInput } from '../../../agent/install/install-plan.js';
import { childPath, effectiveFileExistsBehavior, resolveMappings } from '../../../agent/install/mappings.js';
import * as msg from '../../../agent/install/install-messages.js';
import type { CopyOp, InstallOp, InstallPlan, SourceNode } from '../../../agent/install/operations.js';
import { matchesExcept, matchesPattern, permissionOps } from '../../../agent/install/permission-plan.js';

function fail(message: string): never {
  throw new AgentError(ErrorCodes.INSTALL_FAILED, message);
}

function checkPath(path: string): void {
  if (path.includes('\n')) fail(msg.newlineInPath(path));
}

class CommandBuilder {
  readonly ops: InstallOp[] = [];
  readonly copyTargets = new Map<string, CopyOp>();
  readonly mkdirTargets = new Set<string>();

  copy(op: Omit<CopyOp, 'type'>): void {
    const dest = op.destination;
    checkPath(dest);
    const other = this.copyTargets.get(dest);
    if (other) fail(msg.twoSourcesSameDestination(op.source, other.source, dest));
    if (this.mkdirTargets.has(dest)) fail(msg.copyOntoDirectory(op.source, dest));
    const copy: CopyOp = { type: 'copy', ...op };
    this.ops.push(copy);
    this.copyTargets.set(dest, copy);
  }

  mkdir(directory: string): void {
    checkPath(directory);
    const copy = this.copyTargets.get(directory);
    if (copy) fail(msg.mkdirOntoFile(directory, copy.source));
    if (this.mkdirTargets.has(directory)) return;
    this.ops.push({ type: 'mkdir', directory });
    this.mkdirTargets.add(directory);
  }
}

export function referencePlan(input: PlanInput): InstallPlan {
  const { appspec, facts } = input;
  const behavior = effectiveFileExistsBehavior(appspec, input.specFileExistsBehavior);
  const builder = new CommandBuilder();
  let retained = 0;

  const fillInMissingAncestors = (path: string): void => {
    const missing: string[] = [];
    for (let p = dirname(path); !facts.has(p) && p !== dirname(p); p = dirname(p)) missing.unshift(p);
    for (const dir of missing) builder.mkdir(dir);
  };
  const normalCopy = (source: string, node: SourceNode, dest: string): void => {
    if (node.kind === 'other' || node.kind === 'directory') fail(msg.unsupportedFileType(source));
    const kind = node.kind;
    if (!facts.has(dest)) {
      builder.copy({ source, destination: dest, kind, overwrite: false });
      return;
    }
    if (behavior === 'DISALLOW') fail(msg.fileAlreadyExists(dest));
    else if (behavior === 'OVERWRITE') builder.copy({ source, destination: dest, kind, overwrite: true });
    else if (behavior === 'RETAIN') retained++;
    else fail(msg.invalidFileExistsOption(behavior));
  };
  const directoryCopy = (source: string, node: Extract<SourceNode, { kind: 'directory' }>, dest: string): void => {
    const fact = facts.get(dest);
    if (fact && !fact.isDirectory) fail(msg.fileAlreadyExists(dest));
    if (!fact) builder.mkdir(dest);
    for (const entry of node.entries) {
      const entrySource = childPath(source, entry.name);
      const entryDest = childPath(dest, entry.name);
      if (entry.node.kind === 'directory') directoryCopy(entrySource, entry.node, entryDest);
      else normalCopy(entrySource, entry.node, entryDest);
    }
  };
  for (const m of resolveMappings(appspec, input.archiveDir, input.baseDir)) {
    const node = input.sources[m.index];
    const file = appspec.files[m.index];
    if (!node) fail(msg.sourceMissing(file.where, file.source, m.source));
    if (node.kind === 'directory') {
      fillInMissingAncestors(m.destination);
      directoryCopy(m.source, node, m.destination);
    } else {
      const target = join(m.destination, basename(m.source));
      fillInMissingAncestors(target);
      normalCopy(m.source, node, target);
    }
  }

  // Permissions (permission-plan.ts before streaming).
  const seen = new Set<string>();
  let permissionTargets = 0;
  const setPermissions = (path: string, index: number): void => {
    if (seen.has(path)) fail(msg.permissionTwice(path));
    seen.add(path);
    const ops = permissionOps({ path, index, isSymlink: builder.copyTargets.get(path)?.kind === 'symlink' }, appspec.permissions);
    if (ops.length > 0) permissionTargets++;
    builder.ops.push(...ops);
  };
  appspec.permissions.forEach((permission, index) => {
    const object = resolve(input.baseDir, permission.object);
    if (builder.copyTargets.has(object)) {
      if (!permission.types.includes('file')) return;
      if (permission.pattern !== '**') fail(msg.invalidFilePattern(permission.object, permission.pattern));
      if (permission.except.length > 0) fail(msg.invalidFileExcept(permission.except, permission.object));
      if (permission.acls?.some((ace) => ace.isDefault)) fail(msg.defaultAclOnFile());
      setPermissions(object, index);
    } else if (builder.mkdirTargets.has(object) || facts.get(object)?.isDirectory === true) {
      const matches: string[] = [];
      const matching = (path: string): boolean => matchesPattern(permission, object, path) && !matchesExcept(permission, object, path);
      if (permission.types.includes('file')) {
        for (const path of builder.copyTargets.keys()) {
          if (!matching(path)) continue;
          if (permission.acls?.some((ace) => ace.isDefault)) fail(msg.defaultAclOnFile());
          matches.push(path);
        }
      }
      if (permission.types.includes('directory')) for (const path of builder.mkdirTargets) if (matching(path)) matches.push(path);
      for (const match of matches) setPermissions(match, index);
    }
  });
  return { ops: builder.ops, retained, permissionTargets };
}
