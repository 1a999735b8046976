/**
 * The file phase of the install plan (pure: the revision and the destination are read through the
 * PlanSources and PlanFacts ports). docs/reference.md section 5.3, installer.rb: for each files entry in
 * order, directory sources recurse (directory order, dotfiles included) and a file source is copied
 * INTO its destination; missing ancestors get mkdir; existing targets follow file_exists_behavior; the
 * CommandBuilder collision checks apply.
 *
 * Streaming: ops() yields the operations one at a time, in plan order, walking the revision as it
 * goes (one directory stream per level), so a revision of a million files is planned without a
 * million objects in memory. What the official CommandBuilder keeps in its maps is answered without
 * them:
 * - mkdir targets are kept (a set of directories: bounded by the directories of the bundle);
 * - "is this path already a copy target?" (two sources for one destination, mkdir onto a file) can
 *   only concern an earlier files entry, because one entry's walk never reaches a path twice; it is
 *   answered from that entry's source tree and the destination facts (copyTo()), which decided
 *   whether that entry copied there.
 */
import { basename, dirname, join, sep } from 'node:path';
import type { AppSpec } from '../../appspec/model.js';
import { AgentError, ErrorCodes } from '../errors.js';
import * as msg from './install-messages.js';
import { childPath } from './mappings.js';
import type { CopyOp, FileOp, MkdirOp, PlanFacts, PlanSources, ResolvedMapping, SourceDirent, SourceKind } from './operations.js';

export interface FilePlanInput {
  appspec: AppSpec;
  /** resolveMappings()'s result. */
  mappings: readonly ResolvedMapping[];
  /** What each files entry's source is, by files index; undefined when it does not exist. */
  roots: readonly (SourceKind | undefined)[];
  sources: PlanSources;
  facts: PlanFacts;
  /** The effective file_exists_behavior (effectiveFileExistsBehavior()). */
  behavior: string;
}

/** A copy the plan makes to some destination: where from, and what. */
export interface CopyTarget {
  source: string;
  kind: 'file' | 'symlink';
}

interface WalkFrame {
  source: string;
  dest: string;
  entries: Iterator<SourceDirent>;
}

/**
 * The file phase of the plan. ops() yields the mkdir and copy operations in the official order and
 * may be iterated once; afterwards mkdirTargets, copies and retained describe the result, and
 * copyTo() answers for any path (the permission phase asks it).
 */
export class FilePlanner {
  /** Directories this plan creates, in plan order. */
  readonly mkdirTargets = new Set<string>();
  /** Copy operations yielded. */
  copies = 0;
  /** Existing targets left alone under RETAIN. */
  retained = 0;
  /** Per files entry: destination directories whose source directory its walk enters ('' is the top). */
  private readonly walked = new Map<string, boolean>();

  constructor(readonly input: FilePlanInput) {}

  /**
   * Every entry the walk visits yields one item: its operation, or undefined when it needs none (an
   * existing directory, a retained file), so the caller can yield to the event loop between items.
   */
  *ops(): Generator<FileOp | undefined, void, undefined> {
    const { appspec, mappings, roots } = this.input;
    for (const m of mappings) {
      const kind = roots[m.index];
      const file = appspec.files[m.index];
      if (kind === undefined) fail(msg.sourceMissing(file.where, file.source, m.source));
      if (kind === 'directory') {
        yield* this.fillInMissingAncestors(m.destination, m.index);
        yield* this.directoryCopy(m.source, m.destination, m.index);
      } else {
        const target = join(m.destination, basename(m.source));
        yield* this.fillInMissingAncestors(target, m.index);
        yield this.normalCopy(m.source, kind, target, m.index);
      }
    }
  }

  /**
   * The copy that files entries before `before` (all of them by default) make to `path`, if any. An
   * entry copies there when its walk reaches a file or symlink at the matching place in its source
   * and the destination did not exist at planning time or file_exists_behavior is OVERWRITE
   * (under RETAIN an existing target is left alone; under anything else it failed the plan).
   */
  copyTo(path: string, before = this.input.mappings.length): CopyTarget | undefined {
    const { mappings, roots, sources } = this.input;
    for (let i = 0; i < before; i++) {
      const m = mappings[i] as ResolvedMapping;
      const rootKind = roots[m.index];
      let found: CopyTarget | undefined;
      if (rootKind === 'directory') {
        const prefix = m.destination.endsWith(sep) ? m.destination : m.destination + sep;
        if (path.length <= prefix.length || !path.startsWith(prefix)) continue;
        const rel = path.slice(prefix.length);
        const cut = rel.lastIndexOf(sep);
        if (!this.walks(m, cut < 0 ? '' : rel.slice(0, cut))) continue;
        const source = childPath(m.source, rel);
        const kind = sources.kind(source);
        if (kind === 'file' || kind === 'symlink') found = { source, kind };
      } else if ((rootKind === 'file' || rootKind === 'symlink') && path === join(m.destination, basename(m.source))) {
        found = { source: m.source, kind: rootKind };
      }
      if (found && (this.input.behavior === 'OVERWRITE' || this.input.facts.fact(path) === undefined)) return found;
    }
    return undefined;
  }

  /** Whether the walk of directory entry `m` enters `rel` (every component a real directory). */
  private walks(m: ResolvedMapping, rel: string): boolean {
    if (rel === '') return true;
    const key = `${m.index}\0${rel}`;
    let result = this.walked.get(key);
    if (result === undefined) {
      const cut = rel.lastIndexOf(sep);
      result = this.walks(m, cut < 0 ? '' : rel.slice(0, cut)) && this.input.sources.kind(childPath(m.source, rel)) === 'directory';
      this.walked.set(key, result);
    }
    return result;
  }

  private *fillInMissingAncestors(path: string, index: number): Generator<MkdirOp, void, undefined> {
    const { facts } = this.input;
    const missing: string[] = [];
    for (let p = dirname(path); facts.fact(p) === undefined && p !== dirname(p); p = dirname(p)) missing.unshift(p);
    for (const dir of missing) {
      const op = this.mkdir(dir, index);
      if (op) yield op;
    }
  }

  /** The walk of one directory source, depth first in listing order, one directory stream per level. */
  private *directoryCopy(source: string, dest: string, index: number): Generator<FileOp | undefined, void, undefined> {
    const { sources } = this.input;
    const stack: WalkFrame[] = [];
    try {
      yield this.enterDirectory(dest, index);
      stack.push({ source, dest, entries: sources.entries(source)[Symbol.iterator]() });
      while (stack.length > 0) {
        const frame = stack[stack.length - 1] as WalkFrame;
        const next = frame.entries.next();
        if (next.done === true) {
          stack.pop();
          continue;
        }
        const entry = next.value;
        const entrySource = childPath(frame.source, entry.name);
        const entryDest = childPath(frame.dest, entry.name);
        if (entry.kind === 'directory') {
          yield this.enterDirectory(entryDest, index);
          stack.push({ source: entrySource, dest: entryDest, entries: sources.entries(entrySource)[Symbol.iterator]() });
        } else {
          yield this.normalCopy(entrySource, entry.kind, entryDest, index);
        }
      }
    } finally {
      // A failed plan stops mid-walk: close the directory streams still open.
      for (const frame of stack) frame.entries.return?.();
    }
  }

  private enterDirectory(dest: string, index: number): MkdirOp | undefined {
    const fact = this.input.facts.fact(dest);
    if (fact && !fact.isDirectory) fail(msg.fileAlreadyExists(dest));
    return fact ? undefined : this.mkdir(dest, index);
  }

  private normalCopy(source: string, kind: SourceKind, dest: string, index: number): CopyOp | undefined {
    if (kind === 'other' || kind === 'directory') fail(msg.unsupportedFileType(source));
    if (this.input.facts.fact(dest) === undefined) return this.copy(source, dest, kind, false, index);
    const behavior = this.input.behavior;
    if (behavior === 'DISALLOW') fail(msg.fileAlreadyExists(dest));
    else if (behavior === 'OVERWRITE') return this.copy(source, dest, kind, true, index);
    else if (behavior === 'RETAIN') this.retained++;
    else fail(msg.invalidFileExistsOption(behavior));
    return undefined;
  }

  /** The official CommandBuilder's copy checks, then the operation. */
  private copy(source: string, destination: string, kind: 'file' | 'symlink', overwrite: boolean, index: number): CopyOp {
    checkPath(destination);
    const other = this.copyTo(destination, index);
    if (other) fail(msg.twoSourcesSameDestination(source, other.source, destination));
    if (this.mkdirTargets.has(destination)) fail(msg.copyOntoDirectory(source, destination));
    this.copies++;
    return { type: 'copy', source, destination, kind, overwrite };
  }

  /** The official CommandBuilder's mkdir checks; undefined for a directory already planned. */
  private mkdir(directory: string, index: number): MkdirOp | undefined {
    checkPath(directory);
    const copy = this.copyTo(directory, index);
    if (copy) fail(msg.mkdirOntoFile(directory, copy.source));
    if (this.mkdirTargets.has(directory)) return undefined;
    this.mkdirTargets.add(directory);
    return { type: 'mkdir', directory };
  }
}

function checkPath(path: string): void {
  if (path.includes('\n')) fail(msg.newlineInPath(path));
}

function fail(message: string): never {
  throw new AgentError(ErrorCodes.INSTALL_FAILED, message);
}
