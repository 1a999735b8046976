/**
 * The data the install planner consumes and produces. The planner is pure: it reads the revision and
 * the destination through the two ports below (PlanSources, PlanFacts), lazily, and yields operations
 * one at a time, so the installer can stream them to disk instead of holding a plan per entry.
 */
import type { Ace, Mode, Permission, SeContext } from '../../appspec/model.js';

/** What one path in the revision is. Symlinks are never followed: they are copied as symlinks. */
export type SourceNode =
  | { kind: 'file' }
  | { kind: 'symlink' }
  /** A FIFO, socket or device: rejected by the planner. */
  | { kind: 'other' }
  | { kind: 'directory'; entries: readonly SourceEntry[] };

/** One directory entry, in the order the directory listing returned it (dotfiles included). */
export interface SourceEntry {
  name: string;
  node: SourceNode;
}

export type SourceKind = SourceNode['kind'];

/** One entry of a revision directory, as the listing reports it (lstat semantics). */
export interface SourceDirent {
  name: string;
  kind: SourceKind;
}

/** The revision, read lazily. Paths are absolute and normalised. */
export interface PlanSources {
  /** What a path is without following its last component; undefined when it does not exist. */
  kind(path: string): SourceKind | undefined;
  /** A directory's entries in listing order (dotfiles included), read as the caller iterates. */
  entries(dir: string): Iterable<SourceDirent>;
}

/** The destination side: what exists at a path (absent: lstat said ENOENT or ENOTDIR). */
export interface PlanFacts {
  fact(path: string): PathFact | undefined;
}

/**
 * What exists at a destination path. A path absent from the facts map does not exist (lstat said
 * ENOENT). `isDirectory` follows symlinks (Ruby's File.directory?), so a symlink to a directory
 * counts as a directory, as in the official agent.
 */
export interface PathFact {
  isDirectory: boolean;
  /** A directory with the setgid bit: new files in it take its group (the copier then always chowns). */
  setgid?: boolean;
}

/** One files entry after path resolution: absolute source inside the archive, absolute destination. */
export interface ResolvedMapping {
  index: number;
  source: string;
  destination: string;
}

export interface MkdirOp {
  type: 'mkdir';
  directory: string;
}

export interface CopyOp {
  type: 'copy';
  source: string;
  destination: string;
  /** A symlink in the revision is recreated as a symlink with the same link text. */
  kind: 'file' | 'symlink';
  /** The target existed at planning time and file_exists_behavior is OVERWRITE: replace it. */
  overwrite: boolean;
}

/** Reference to the appspec permission an operation came from (for error messages). */
export interface PermissionRef {
  index: number;
  permission: Permission;
}

export interface ChmodOp {
  type: 'chmod';
  file: string;
  mode: Mode;
  from: PermissionRef;
}

export interface SetfaclOp {
  type: 'setfacl';
  file: string;
  /** The appspec's entries only; the base entries are added from the file's mode when applied. */
  acl: readonly Ace[];
  from: PermissionRef;
}

export interface SemanageOp {
  type: 'semanage';
  file: string;
  context: SeContext;
  from: PermissionRef;
}

export interface ChownOp {
  type: 'chown';
  file: string;
  owner?: string;
  group?: string;
  /** The path is a symlink this deployment created: change the link itself (lchown). */
  noFollow: boolean;
  from: PermissionRef;
}

/** A path that receives the permission at `index` of the appspec (its operations: permissionOps()). */
export interface PermissionTarget {
  path: string;
  index: number;
  /** The path is a symlink this deployment copies: only chown applies, as lchown. */
  isSymlink: boolean;
}

export type FileOp = MkdirOp | CopyOp;
export type PermissionOp = ChmodOp | SetfaclOp | SemanageOp | ChownOp;
export type InstallOp = FileOp | PermissionOp;

export interface InstallPlan {
  /** Every operation in the official order: copies and mkdirs first (appspec order), then permissions. */
  ops: readonly InstallOp[];
  /** Existing targets left alone under RETAIN. */
  retained: number;
  /** Paths that received permission operations. */
  permissionTargets: number;
}
