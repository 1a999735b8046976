/**
 * The planner's ports on the real file system: the revision (SourceTree: one lstat per mapping
 * source, one directory stream per directory, read as the walk goes) and the destination
 * (DestinationFacts: one lstat per path that can exist). The calls are synchronous; the installer
 * runs the walk in time slices that yield to the event loop (time-slice.ts).
 *
 * listSources() and gatherFacts() materialise a listing and a facts map for the in-memory planner
 * (planInstall(); small revisions only).
 */
import { lstatSync, opendirSync, statSync, type Dirent } from 'node:fs';
import { dirname, sep } from 'node:path';
import type { AppSpec } from '../../appspec/model.js';
import { AgentError, ErrorCodes } from '../errors.js';
import { errnoCode, toError } from '../../common/errors.js';
import { locateInside } from '../../common/path-confinement.js';
import { childPath } from './mappings.js';
import * as msg from './install-messages.js';
import type { PathFact, PlanFacts, PlanSources, ResolvedMapping, SourceDirent, SourceEntry, SourceKind, SourceNode } from './operations.js';
import { TimeSlice } from '../platform/time-slice.js';

export type Limit = <T>(fn: () => Promise<T>) => Promise<T>;

/** Entries read per directory-stream call (few: entries held across calls end up in V8's old generation). */
const DIR_BUFFER = 64;

/**
 * What every mapping's source is (undefined when missing), checked before anything is planned. Also
 * enforces confinement beyond the lexical check: no symlink on the way to a source may lead outside
 * the archive.
 */
export async function checkSources(
  appspec: AppSpec,
  archiveDir: string,
  mappings: readonly ResolvedMapping[],
): Promise<(SourceKind | undefined)[]> {
  const tree = createSourceTree();
  const out: (SourceKind | undefined)[] = [];
  for (const m of mappings) {
    const file = appspec.files[m.index];
    // The source itself is copied as it is (a symlink as a link): only the way to it is followed.
    let place;
    try {
      place = await locateInside(archiveDir, m.source, { followLast: false });
    } catch (err) {
      throw readError(dirname(m.source), err);
    }
    if (place.kind === 'outside') {
      throw new AgentError(ErrorCodes.PATH_ESCAPE, msg.sourceEscapes(file.where, file.source), {
        details: { entry: file.where.path, source: file.source },
      });
    }
    out[m.index] = tree.kind(m.source);
  }
  return out;
}

/** The revision on disk. Symlinks are never followed. */
export function createSourceTree(): PlanSources {
  return { kind: sourceKind, entries: readDirectory };
}

function sourceKind(path: string): SourceKind | undefined {
  let st;
  try {
    st = lstatSync(path, { throwIfNoEntry: false });
  } catch (err) {
    if (errnoCode(err) === 'ENOTDIR') return undefined;
    throw readError(path, err);
  }
  if (st === undefined) return undefined;
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isFile()) return 'file';
  return st.isDirectory() ? 'directory' : 'other';
}

/** A directory's entries through a directory stream: a directory of a million files is never one array. */
function* readDirectory(path: string): Generator<SourceDirent, void, undefined> {
  let dir;
  try {
    dir = opendirSync(path, { bufferSize: DIR_BUFFER });
  } catch (err) {
    throw readError(path, err);
  }
  try {
    for (;;) {
      let d: Dirent | null;
      try {
        d = dir.readSync();
      } catch (err) {
        throw readError(path, err);
      }
      if (d === null) return;
      yield { name: d.name, kind: direntKind(d) };
    }
  } finally {
    dir.closeSync();
  }
}

function direntKind(d: Dirent): SourceKind {
  if (d.isSymbolicLink()) return 'symlink';
  if (d.isFile()) return 'file';
  return d.isDirectory() ? 'directory' : 'other';
}

/**
 * Facts about destination paths, probed when the planner asks. A path whose parent is missing or not
 * a directory cannot exist and is not probed, so a fresh install into a new directory costs a handful
 * of calls instead of one per file. Parents' facts are remembered (a map of directories, bounded by
 * the directories of the bundle, not its files); they also answer setgidAbove() for the copier.
 */
export class DestinationFacts implements PlanFacts {
  private readonly parents = new Map<string, PathFact | null>();

  constructor(private readonly probe: (path: string) => PathFact | undefined = probePath) {}

  fact(path: string): PathFact | undefined {
    const known = this.parents.get(path);
    if (known !== undefined) return known ?? undefined;
    const parent = parentOf(path);
    if (parent !== path && this.parentFact(parent)?.isDirectory !== true) return undefined;
    const fact = this.probe(path);
    // Directories are what children ask about: keep them (files are asked about once).
    if (fact?.isDirectory === true) this.parents.set(path, fact);
    return fact;
  }

  /** Whether the nearest existing ancestor directory of `path` has the setgid bit. */
  setgidAbove(path: string): boolean {
    for (let dir = parentOf(path); ; dir = parentOf(dir)) {
      const fact = this.parentFact(dir);
      if (fact) return fact.setgid === true;
      if (dir === parentOf(dir)) return false;
    }
  }

  private parentFact(dir: string): PathFact | undefined {
    let known = this.parents.get(dir);
    if (known === undefined) {
      known = this.fact(dir) ?? null;
      this.parents.set(dir, known);
    }
    return known ?? undefined;
  }
}

/** The listing of every mapping's source as a tree (undefined when missing), for planInstall(). */
export async function listSources(
  appspec: AppSpec,
  archiveDir: string,
  mappings: readonly ResolvedMapping[],
): Promise<(SourceNode | undefined)[]> {
  const kinds = await checkSources(appspec, archiveDir, mappings);
  const slice = new TimeSlice();
  const out: (SourceNode | undefined)[] = [];
  for (const m of mappings) {
    const kind = kinds[m.index];
    out[m.index] = kind === 'directory' ? await listDirectory(m.source, slice) : kind === undefined ? undefined : { kind };
  }
  return out;
}

async function listDirectory(path: string, slice: TimeSlice): Promise<SourceNode> {
  const entries: SourceEntry[] = [];
  for (const d of readDirectory(path)) {
    const node: SourceNode = d.kind === 'directory' ? await listDirectory(childPath(path, d.name), slice) : { kind: d.kind };
    entries.push({ name: d.name, node });
    if (slice.spent()) await slice.next();
  }
  return { kind: 'directory', entries };
}

/**
 * lstat every path (stat too for symlinks, to know whether they lead to a directory), parents before
 * children: a path whose probed parent is missing or not a directory cannot exist and is skipped.
 * `probe` is the lstat step (replaceable to count calls). For planInstall().
 */
export async function gatherFacts(
  paths: Iterable<string>,
  probe: (path: string) => PathFact | undefined = probePath,
): Promise<Map<string, PathFact>> {
  const facts = new Map<string, PathFact>();
  const probed = paths instanceof Set ? (paths as ReadonlySet<string>) : new Set(paths);
  const visited = new Set<string>();
  // Parents first, whatever the order of `paths`: a path's probed parent is visited before it.
  const visit = (path: string): void => {
    if (visited.has(path)) return;
    visited.add(path);
    const parent = parentOf(path);
    if (parent !== path && probed.has(parent)) {
      visit(parent);
      if (facts.get(parent)?.isDirectory !== true) return;
    }
    const fact = probe(path);
    if (fact) facts.set(path, fact);
  };
  const slice = new TimeSlice();
  for (const path of probed) {
    visit(path);
    if (slice.spent()) await slice.next();
  }
  return facts;
}

/** One destination path's fact, or undefined when nothing is there. */
export function probePath(path: string): PathFact | undefined {
  let st;
  try {
    st = lstatSync(path, { throwIfNoEntry: false });
  } catch (err) {
    if (errnoCode(err) === 'ENOTDIR') return undefined;
    throw readError(path, err);
  }
  if (st === undefined) return undefined;
  if (st.isSymbolicLink()) {
    try {
      st = statSync(path, { throwIfNoEntry: false });
    } catch {
      st = undefined;
    }
    if (!st) return { isDirectory: false };
  }
  return st.isDirectory() ? { isDirectory: true, setgid: (st.mode & 0o2000) !== 0 } : { isDirectory: false };
}

/** dirname() for the absolute, normalised paths used here (cheaper: no normalisation). */
function parentOf(path: string): string {
  const cut = path.lastIndexOf(sep);
  return cut > 0 ? path.slice(0, cut) : cut === 0 && path.length > 1 ? sep : path;
}

function readError(path: string, err: unknown): AgentError {
  return new AgentError(ErrorCodes.INSTALL_FAILED, msg.operationFailed('read', path, toError(err).message), {
    cause: err,
  });
}
