/**
 * Gathers what the planner needs from the file system: a listing of each files source (symlinks
 * not followed, directory order kept) and one lstat per destination path that can exist. The calls
 * are synchronous, in time slices that yield to the event loop (time-slice.ts): one readdir per
 * directory and a handful of lstats on a fresh install, one lstat per path on an install over files.
 */
import { lstatSync, readdirSync, statSync } from 'node:fs';
import { realpath } from 'node:fs/promises';
import { dirname, sep } from 'node:path';
import type { AppSpec } from '../../appspec/model.js';
import { AgentError, ErrorCodes, errnoCode, toError } from '../errors.js';
import { childPath, isInside } from './install-plan.js';
import * as msg from './install-messages.js';
import type { PathFact, ResolvedMapping, SourceEntry, SourceNode } from './operations.js';
import { TimeSlice } from './time-slice.js';

export type Limit = <T>(fn: () => Promise<T>) => Promise<T>;

/**
 * The listing of every mapping's source (undefined when missing). Also enforces confinement beyond
 * the lexical check: no symlink on the way to a source may lead outside the archive.
 */
export async function listSources(
  appspec: AppSpec,
  archiveDir: string,
  mappings: readonly ResolvedMapping[],
): Promise<(SourceNode | undefined)[]> {
  const realRoot = await realpath(archiveDir);
  const slice = new TimeSlice();
  const out: (SourceNode | undefined)[] = [];
  for (const m of mappings) {
    const file = appspec.files[m.index];
    if (m.source !== archiveDir) {
      let realParent: string | undefined;
      try {
        realParent = await realpath(dirname(m.source));
      } catch (err) {
        if (errnoCode(err) !== 'ENOENT' && errnoCode(err) !== 'ENOTDIR') throw readError(dirname(m.source), err);
      }
      if (realParent !== undefined && !isInside(realRoot, realParent)) {
        throw new AgentError(ErrorCodes.PATH_ESCAPE, msg.sourceEscapes(file.where, file.source), {
          details: { entry: file.where.path, source: file.source },
        });
      }
    }
    out[m.index] = await listNode(m.source, slice);
  }
  return out;
}

async function listNode(path: string, slice: TimeSlice): Promise<SourceNode | undefined> {
  let st;
  try {
    st = lstatSync(path, { throwIfNoEntry: false });
  } catch (err) {
    if (errnoCode(err) !== 'ENOTDIR') throw readError(path, err);
  }
  if (st === undefined) return undefined;
  if (st.isSymbolicLink()) return { kind: 'symlink' };
  if (st.isFile()) return { kind: 'file' };
  if (st.isDirectory()) return listDirectory(path, slice);
  return { kind: 'other' };
}

const FILE: SourceNode = Object.freeze({ kind: 'file' });
const SYMLINK: SourceNode = Object.freeze({ kind: 'symlink' });
const OTHER: SourceNode = Object.freeze({ kind: 'other' });

async function listDirectory(path: string, slice: TimeSlice): Promise<SourceNode> {
  let dirents;
  try {
    dirents = readdirSync(path, { withFileTypes: true });
  } catch (err) {
    throw readError(path, err);
  }
  if (slice.spent()) await slice.next();
  const entries: SourceEntry[] = new Array<SourceEntry>(dirents.length);
  for (let i = 0; i < dirents.length; i++) {
    const d = dirents[i] as (typeof dirents)[number];
    const node = d.isSymbolicLink()
      ? SYMLINK
      : d.isFile()
        ? FILE
        : d.isDirectory()
          ? await listDirectory(childPath(path, d.name), slice)
          : OTHER;
    entries[i] = { name: d.name, node };
  }
  return { kind: 'directory', entries };
}

/**
 * lstat every path (stat too for symlinks, to know whether they lead to a directory), parents before
 * children: a path whose probed parent is missing or not a directory cannot exist and is skipped, so
 * a fresh install into a new directory costs a handful of calls instead of one per file. `probe` is
 * the lstat step (replaceable to count calls).
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
