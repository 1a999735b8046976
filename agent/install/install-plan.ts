/**
 * The install planner (pure: no fs, no process; the revision and the destination are read through
 * the PlanSources and PlanFacts ports). docs/reference.md section 5.3, installer.rb: for each files entry in
 * order, directory sources recurse (directory order, dotfiles included) and a file source is copied
 * INTO its destination; missing ancestors get mkdir; existing targets follow file_exists_behavior; the
 * CommandBuilder collision checks apply. Then the permissions (docs/reference.md section 5.4, permission-plan.ts).
 *
 * The planner streams (file-planner.ts, then permission-plan.ts): the installer feeds it the real
 * file system and writes each operation out as it comes. planInstall() runs the same planner on an
 * in-memory listing and facts map (small revisions, tests).
 *
 * Deliberate differences from the official agent: sources are confined to the revision (PATH_ESCAPE);
 * symlinks in the revision are copied as symlinks and never recursed into; a missing source, a
 * FIFO/device, or an existing non-directory where a directory is needed fail here, before anything is
 * written, instead of as raw errno errors half-way through.
 */
import { basename, dirname, join, resolve } from 'node:path';
import type { AppSpec } from '../../appspec/model.js';
import { FilePlanner } from './file-planner.js';
import { childPath, effectiveFileExistsBehavior, resolveMappings } from './mappings.js';
import type { CopyOp, InstallOp, InstallPlan, PathFact, PlanFacts, PlanSources, ResolvedMapping, SourceNode } from './operations.js';
import { permissionOps, planPermissionTargets } from './permission-plan.js';

// Where callers of the whole-plan API have always found it.
export { resolveMappings } from './mappings.js';

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

/** Every destination path the planner may ask about for an in-memory listing (gatherFacts() input). */
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

/**
 * The whole plan from an in-memory listing and facts map (small revisions and tests): the same
 * planner as the installer's, with the ports answered from the listing and the map.
 */
export function planInstall(input: PlanInput): InstallPlan {
  const { appspec } = input;
  const mappings = resolveMappings(appspec, input.archiveDir, input.baseDir);
  const nodes = new Map<string, SourceNode>();
  const index = (path: string, node: SourceNode): void => {
    nodes.set(path, node);
    if (node.kind === 'directory') for (const e of node.entries) index(childPath(path, e.name), e.node);
  };
  for (const m of mappings) {
    const node = input.sources[m.index];
    if (node) index(m.source, node);
  }
  const sources: PlanSources = {
    kind: (path) => nodes.get(path)?.kind,
    entries: (dir) => {
      const node = nodes.get(dir);
      return node?.kind === 'directory' ? node.entries.map((e) => ({ name: e.name, kind: e.node.kind })) : [];
    },
  };
  const facts: PlanFacts = { fact: (path) => input.facts.get(path) };
  const files = new FilePlanner({
    appspec,
    mappings,
    roots: appspec.files.map((_, i) => input.sources[i]?.kind),
    sources,
    facts,
    behavior: effectiveFileExistsBehavior(appspec, input.specFileExistsBehavior),
  });
  const ops: InstallOp[] = [];
  for (const op of files.ops()) if (op) ops.push(op);
  const copies = ops.filter((op): op is CopyOp => op.type === 'copy');
  let permissionTargets = 0;
  for (const target of planPermissionTargets({
    permissions: appspec.permissions,
    baseDir: input.baseDir,
    files,
    facts,
    copies: () => copies,
  })) {
    if (!target) continue;
    const targetOps = permissionOps(target, appspec.permissions);
    if (targetOps.length > 0) permissionTargets++;
    ops.push(...targetOps);
  }
  return { ops, retained: files.retained, permissionTargets };
}
