/**
 * The install planner (pure: no fs, no process). Reference section 5.3, installer.rb: for each files
 * entry in order, directory sources recurse (directory order, dotfiles included) and a file source
 * is copied INTO its destination; missing ancestors get mkdir; existing targets follow
 * file_exists_behavior; the CommandBuilder collision checks apply. Then the permissions (section 5.4,
 * permission-plan.ts). The caller gathers the facts first: resolveMappings() -> walk each source ->
 * probePaths() -> one lstat per path -> planInstall().
 *
 * Deliberate differences from the official agent: sources are confined to the revision (PATH_ESCAPE);
 * symlinks in the revision are copied as symlinks and never recursed into; a missing source, a
 * FIFO/device, or an existing non-directory where a directory is needed fail here, before anything is
 * written, instead of as raw errno errors half-way through.
 */
import { basename, dirname, join, resolve, sep } from 'node:path';
import type { AppSpec } from '../../appspec/model.js';
import { AgentError, ErrorCodes } from '../errors.js';
import * as msg from './install-messages.js';
import type { CopyOp, InstallOp, InstallPlan, PathFact, ResolvedMapping, SourceNode } from './operations.js';
import { planPermissions } from './permission-plan.js';

export interface PlanInput {
  appspec: AppSpec;
  /** Absolute path of the unpacked revision. */
  archiveDir: string;
  /** Relative destinations and permission objects resolve against this directory. */
  baseDir: string;
  /** The deployment spec's FileExistsBehavior (already upper-cased), used when the appspec has none. */
  specFileExistsBehavior?: string;
  /** The listing of each files entry's source, by files index; undefined when the source is missing. */
  sources: readonly (SourceNode | undefined)[];
  /** Facts about every path probePaths() returned that exists. */
  facts: ReadonlyMap<string, PathFact>;
}

/** Official precedence (reference 5.6): the appspec's value, then the spec's, then DISALLOW. */
export function effectiveFileExistsBehavior(appspec: AppSpec, specValue: string | undefined): string {
  return appspec.fileExistsBehavior ?? specValue ?? 'DISALLOW';
}

/** True when `path` is `root` or inside it (both absolute and normalised). */
export function isInside(root: string, path: string): boolean {
  if (path === root) return true;
  const prefix = root.endsWith(sep) ? root : root + sep;
  return path.startsWith(prefix);
}

/**
 * join(dir, name) for an absolute, normalised dir and a directory entry's name (no separator, never
 * "." or ".."): the same result without join's normalisation pass, which the per-file walks skip.
 */
export function childPath(dir: string, name: string): string {
  return dir.endsWith(sep) ? dir + name : dir + sep + name;
}

/**
 * Resolve every files entry: the source inside the archive (lexically; the executor also checks that
 * no symlink on the way leads outside), the destination against baseDir. Throws PATH_ESCAPE.
 */
export function resolveMappings(appspec: AppSpec, archiveDir: string, baseDir: string): ResolvedMapping[] {
  const root = resolve(archiveDir);
  return appspec.files.map((file, index) => {
    const source = resolve(join(root, file.source));
    if (!isInside(root, source)) {
      throw new AgentError(ErrorCodes.PATH_ESCAPE, msg.sourceEscapes(file.where, file.source), {
        details: { entry: file.where.path, source: file.source },
      });
    }
    return { index, source, destination: resolve(baseDir, file.destination) };
  });
}

/** Every destination path the planner will ask about: gather one PathFact for each that exists. */
export function probePaths(
  appspec: AppSpec,
  mappings: readonly ResolvedMapping[],
  sources: readonly (SourceNode | undefined)[],
  baseDir: string,
): Set<string> {
  const out = new Set<string>();
  const ancestors = (path: string): void => {
    for (let p = dirname(path); !out.has(p); p = dirname(p)) {
      out.add(p);
      if (p === dirname(p)) break;
    }
  };
  const walk = (node: SourceNode, dest: string): void => {
    out.add(dest);
    if (node.kind !== 'directory') return;
    for (const entry of node.entries) walk(entry.node, childPath(dest, entry.name));
  };
  for (const m of mappings) {
    const node = sources[m.index];
    if (node?.kind === 'directory') {
      ancestors(m.destination);
      walk(node, m.destination);
    } else {
      const target = join(m.destination, basename(m.source));
      ancestors(target);
      out.add(target);
    }
  }
  for (const p of appspec.permissions) out.add(resolve(baseDir, p.object));
  return out;
}

/** The official CommandBuilder: ordered ops plus the copy and mkdir target indexes and their checks. */
export class CommandBuilder {
  readonly ops: InstallOp[] = [];
  /** Copy destination -> its op, in insertion order. */
  readonly copyTargets = new Map<string, CopyOp>();
  /** mkdir targets in insertion order. */
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

export function planInstall(input: PlanInput): InstallPlan {
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

  const mappings = resolveMappings(appspec, input.archiveDir, input.baseDir);
  for (const m of mappings) {
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

  const permissionTargets = planPermissions({
    permissions: appspec.permissions,
    baseDir: input.baseDir,
    builder,
    facts,
  });
  return { ops: builder.ops, retained, permissionTargets };
}

function checkPath(path: string): void {
  if (path.includes('\n')) fail(msg.newlineInPath(path));
}

function fail(message: string): never {
  throw new AgentError(ErrorCodes.INSTALL_FAILED, message);
}
