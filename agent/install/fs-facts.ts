/**
 * Gathers what the planner needs from the file system: a listing of each files source (symlinks
 * not followed, directory order kept) and one lstat per destination path, both concurrently.
 */
import { lstat, readdir, realpath, stat } from 'node:fs/promises';
import { dirname, join, sep } from 'node:path';
import type { AppSpec } from '../../appspec/model.js';
import { AgentError, ErrorCodes, errnoCode, toError } from '../errors.js';
import { isInside } from './install-plan.js';
import * as msg from './install-messages.js';
import type { PathFact, ResolvedMapping, SourceEntry, SourceNode } from './operations.js';

export type Limit = <T>(fn: () => Promise<T>) => Promise<T>;

/**
 * The listing of every mapping's source (undefined when missing). Also enforces confinement beyond
 * the lexical check: no symlink on the way to a source may lead outside the archive.
 */
export async function listSources(
  appspec: AppSpec,
  archiveDir: string,
  mappings: readonly ResolvedMapping[],
  limit: Limit,
): Promise<(SourceNode | undefined)[]> {
  const realRoot = await realpath(archiveDir);
  return Promise.all(
    mappings.map(async (m) => {
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
      return listNode(m.source, limit);
    }),
  );
}

async function listNode(path: string, limit: Limit): Promise<SourceNode | undefined> {
  let st;
  try {
    st = await limit(() => lstat(path));
  } catch (err) {
    if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR') return undefined;
    throw readError(path, err);
  }
  if (st.isSymbolicLink()) return { kind: 'symlink' };
  if (st.isFile()) return { kind: 'file' };
  if (st.isDirectory()) return listDirectory(path, limit);
  return { kind: 'other' };
}

async function listDirectory(path: string, limit: Limit): Promise<SourceNode> {
  let dirents;
  try {
    dirents = await limit(() => readdir(path, { withFileTypes: true }));
  } catch (err) {
    throw readError(path, err);
  }
  const entries: SourceEntry[] = await Promise.all(
    dirents.map(async (d): Promise<SourceEntry> => {
      if (d.isSymbolicLink()) return { name: d.name, node: { kind: 'symlink' } };
      if (d.isFile()) return { name: d.name, node: { kind: 'file' } };
      if (d.isDirectory()) return { name: d.name, node: await listDirectory(join(path, d.name), limit) };
      return { name: d.name, node: { kind: 'other' } };
    }),
  );
  return { kind: 'directory', entries };
}

/**
 * lstat every path (stat too for symlinks, to know whether they lead to a directory), parents before
 * children: a path whose probed parent is missing or not a directory cannot exist and is skipped, so
 * a fresh install into a new directory costs a handful of calls instead of one per file.
 */
export async function gatherFacts(paths: Iterable<string>, limit: Limit): Promise<Map<string, PathFact>> {
  const facts = new Map<string, PathFact>();
  const probed = new Set(paths);
  const byDepth = new Map<number, string[]>();
  for (const path of probed) {
    const depth = path === dirname(path) ? 0 : path.split(sep).length - 1;
    const level = byDepth.get(depth);
    if (level) level.push(path);
    else byDepth.set(depth, [path]);
  }
  for (const depth of [...byDepth.keys()].sort((a, b) => a - b)) {
    const level = byDepth.get(depth) as string[];
    await Promise.all(
      level.map((path) => {
        const parent = dirname(path);
        if (parent !== path && probed.has(parent) && facts.get(parent)?.isDirectory !== true) return undefined;
        return limit(async () => {
          const fact = await probe(path);
          if (fact) facts.set(path, fact);
        });
      }),
    );
  }
  return facts;
}

async function probe(path: string): Promise<PathFact | undefined> {
  let st;
  try {
    st = await lstat(path);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR') return undefined;
    throw readError(path, err);
  }
  if (st.isSymbolicLink()) {
    st = await stat(path).catch(() => undefined);
    if (!st) return { isDirectory: false };
  }
  return st.isDirectory() ? { isDirectory: true, setgid: (st.mode & 0o2000) !== 0 } : { isDirectory: false };
}

function readError(path: string, err: unknown): AgentError {
  return new AgentError(ErrorCodes.INSTALL_FAILED, msg.operationFailed('read', path, toError(err).message), {
    cause: err,
  });
}
