/**
 * The destination side of an archive unpack: every entry of an untrusted archive goes through here.
 *
 * Safety rules (docs/design.md section 5, "confined paths"):
 * - an entry name that is absolute or has a `..` component fails the unpack (PATH_ESCAPE);
 * - an entry whose parent path goes through a symbolic link fails the unpack, whatever the link points
 *   at. The destination directory is new and only this object writes into it, so what exists there
 *   is what this unpack made: a path is a directory when it is in the in-memory set of directories
 *   created; anything else is checked with lstat, one path component at a time from the top, so a
 *   check never resolves through a link;
 * - symbolic link entries are created as they are (any target): creating a link writes nothing outside;
 * - a hard link may only point at a regular file this unpack has already written;
 * - device and FIFO entries fail the unpack (PATH_ESCAPE);
 * - a file is always created with O_EXCL (never opened through an existing name); when an earlier entry
 *   of the same name is there (EEXIST) it is unlinked and the creation retried, so a later entry never
 *   writes through an earlier symlink.
 *
 * Memory: only directories are remembered (their paths, and their metadata until finish()); files and
 * symlinks are not, so a bundle of a million files costs no more than one of a thousand in the same
 * directories.
 *
 * Speed: the per-entry filesystem calls are synchronous. For the small files that make up most bundles
 * this is several times faster than a round trip through the libuv thread pool per call (measured:
 * 10,000 files, ~0.4 s against ~1 s), and the event loop is still released between input chunks.
 * File contents larger than ASYNC_WRITE_THRESHOLD are written asynchronously (see FileSink).
 */
import {
  closeSync,
  constants,
  fchmodSync,
  fchownSync,
  futimesSync,
  lchownSync,
  linkSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  openSync,
  statSync,
  symlinkSync,
  unlinkSync,
  utimesSync,
  chmodSync,
  chownSync,
  write,
  writeSync,
} from 'node:fs';
import { AgentError, ErrorCodes } from '../errors.js';
import { errnoCode } from '../../common/errors.js';

/** Entries bigger than this are written with asynchronous writes instead of synchronous ones. */
export const ASYNC_WRITE_THRESHOLD = 1024 * 1024;

export interface EntryMeta {
  /** Permission bits (07777); the default when absent. */
  mode?: number;
  mtime?: Date;
  atime?: Date;
  /** Owner from the archive; applied only when the target preserves owners (running as root). */
  uid?: number;
  gid?: number;
}

export interface ExtractTargetOptions {
  /** The new, empty directory everything is written into (already created). */
  destDir: string;
  /** The archive, for error messages. */
  archivePath: string;
  /** Restore the archive's owners (the default when running as root, like GNU tar). */
  preserveOwner: boolean;
}

const WRITE_NEW = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | (constants.O_NOFOLLOW ?? 0);
// Case-insensitive filesystems (macOS, Windows defaults) resolve "A" and "a" to the same node.
const FOLD_CASE = process.platform === 'darwin' || process.platform === 'win32';

export class ExtractTarget {
  readonly destDir: string;
  readonly archivePath: string;
  /** Entries written (files, directories, symlinks, hard links); the root entry "./" is not counted. */
  entries = 0;

  private readonly preserveOwner: boolean;
  private readonly processUid: number | undefined;
  private readonly processGid: number | undefined;
  private readonly umask: number;
  private readonly now = new Date();
  /** Every directory this unpack has created (by key()); '' is destDir itself. */
  private readonly dirs = new Set<string>(['']);
  /** Directory metadata, applied at the end (children change a directory's mtime). */
  private readonly dirMeta = new Map<string, EntryMeta>();
  private readonly openSinks = new Set<FileSink>();

  constructor(options: ExtractTargetOptions) {
    this.destDir = options.destDir;
    this.archivePath = options.archivePath;
    this.preserveOwner = options.preserveOwner;
    this.processUid = process.getuid?.();
    this.processGid = process.getgid?.();
    // destDir was created with mode 0777, so its mode tells the umask without process.umask().
    this.umask = 0o777 & ~statSync(this.destDir).mode;
  }

  /**
   * Validate an entry name and return its normalized relative path ('' for the root, "./").
   * Throws PATH_ESCAPE for absolute names and `..` components.
   */
  entryPath(name: string): string {
    if (name.includes('\0')) {
      throw this.unpackError(name, 'the name contains a NUL character');
    }
    if (name.startsWith('/')) throw this.escapeError(name);
    const parts = name.split('/');
    let clean = true;
    for (const part of parts) {
      if (part === '..') throw this.escapeError(name);
      if (part === '' || part === '.') clean = false;
    }
    return clean ? name : parts.filter((p) => p !== '' && p !== '.').join('/');
  }

  directory(name: string, rel: string, meta: EntryMeta): void {
    if (rel !== '') {
      if (!this.dirs.has(key(rel))) {
        this.ensureParent(name, rel);
        // Writable for us until finish() applies the archive's mode.
        if (!this.mkdir(name, rel, (meta.mode ?? 0o777) | 0o700)) {
          throw this.unpackError(name, 'a directory entry conflicts with an earlier entry of the same name');
        }
      }
      this.entries++;
    }
    this.dirMeta.set(rel, meta);
  }

  symlink(name: string, rel: string, target: string, meta: EntryMeta): void {
    if (target.includes('\0')) throw this.unpackError(name, 'the link target contains a NUL character');
    const abs = this.prepareLeaf(name, rel);
    replacing(abs, () => symlinkSync(target, abs));
    if (this.shouldChown(meta)) lchownSync(abs, meta.uid as number, meta.gid as number);
    if (meta.mtime) lutimesSync(abs, meta.atime ?? this.now, meta.mtime);
    this.entries++;
  }

  /** A hard link to `linkName`, which must be a regular file already written by this unpack. */
  hardLink(name: string, rel: string, linkName: string): void {
    if (linkName.startsWith('/') || linkName.split('/').includes('..')) {
      throw new AgentError(
        ErrorCodes.PATH_ESCAPE,
        `Archive entry "${name}" in ${this.archivePath} is a hard link to "${linkName}", outside the deployment archive directory`,
        { details: { entry: name, linkpath: linkName, archive: this.archivePath } },
      );
    }
    const targetRel = this.entryPath(linkName);
    this.assertNoSymlinkInPath(name, targetRel, true);
    const kind = this.dirs.has(key(targetRel)) ? 'dir' : this.leafKind(targetRel);
    if (kind === 'symlink') {
      throw new AgentError(
        ErrorCodes.PATH_ESCAPE,
        `Archive entry "${name}" in ${this.archivePath} is a hard link to the symbolic link "${linkName}"; hard links to symbolic links are not allowed`,
        { details: { entry: name, linkpath: linkName, archive: this.archivePath } },
      );
    }
    if (kind !== 'file') {
      throw this.unpackError(name, `the hard link target "${linkName}" is not a file extracted earlier from the archive`);
    }
    const abs = this.prepareLeaf(name, rel);
    const from = this.abs(targetRel);
    replacing(abs, () => linkSync(from, abs));
    this.entries++;
  }

  /** Create a regular file and return the sink its contents are written to. */
  file(name: string, rel: string, meta: EntryMeta): FileSink {
    const abs = this.prepareLeaf(name, rel);
    const mode = meta.mode ?? 0o666 & ~this.umask;
    const fd = replacing(abs, () => openSync(abs, WRITE_NEW, mode & 0o777));
    this.entries++;
    const chown = this.shouldChown(meta);
    // open() applies the umask: set the exact mode when the umask removed bits or the mode has
    // setuid/setgid/sticky bits (also cleared by a chown, which is why the chmod comes after it).
    const chmod = meta.mode !== undefined && ((meta.mode & this.umask) !== 0 || meta.mode > 0o777);
    const sink = new FileSink(
      fd,
      abs,
      {
        chown: chown ? [meta.uid as number, meta.gid as number] : undefined,
        mode: chmod ? meta.mode : undefined,
        atime: meta.atime ?? this.now,
        mtime: meta.mtime,
      },
      () => this.openSinks.delete(sink),
    );
    this.openSinks.add(sink);
    return sink;
  }

  /** A device, FIFO or other special entry: never allowed. */
  special(name: string, what: string): never {
    throw new AgentError(
      ErrorCodes.PATH_ESCAPE,
      `Archive entry "${name}" in ${this.archivePath} is a ${what}; device, FIFO and socket entries are not allowed`,
      { details: { entry: name, archive: this.archivePath } },
    );
  }

  /** Apply directory modes, owners and mtimes, deepest first. */
  finish(): void {
    const dirs = [...this.dirMeta.entries()].sort((a, b) => depth(b[0]) - depth(a[0]));
    for (const [rel, meta] of dirs) {
      const abs = this.abs(rel);
      if (this.shouldChown(meta)) chownSync(abs, meta.uid as number, meta.gid as number);
      if (meta.mode !== undefined) chmodSync(abs, meta.mode);
      if (meta.mtime) utimesSync(abs, meta.atime ?? this.now, meta.mtime);
    }
  }

  /** Close any file left open by a failed unpack. */
  abort(): void {
    for (const sink of this.openSinks) sink.destroy();
  }

  unpackError(name: string, reason: string): AgentError {
    return new AgentError(ErrorCodes.BUNDLE_UNPACK, `Archive entry "${name}" in ${this.archivePath}: ${reason}`, {
      details: { entry: name, archive: this.archivePath },
    });
  }

  private escapeError(name: string): AgentError {
    return new AgentError(
      ErrorCodes.PATH_ESCAPE,
      `Archive entry "${name}" in ${this.archivePath} would be written outside the deployment archive directory`,
      { details: { entry: name, archive: this.archivePath } },
    );
  }

  private abs(rel: string): string {
    return rel === '' ? this.destDir : `${this.destDir}/${rel}`;
  }

  /** Make the parent of a leaf entry and refuse a directory of the same name; returns its path. */
  private prepareLeaf(name: string, rel: string): string {
    if (rel === '') throw this.unpackError(name, 'only a directory entry may name the archive root');
    this.ensureParent(name, rel);
    if (this.dirs.has(key(rel))) {
      throw this.unpackError(name, 'the entry conflicts with a directory of the same name');
    }
    return this.abs(rel);
  }

  /** Create the missing parent directories of `rel`, refusing to go through a symlink. */
  private ensureParent(name: string, rel: string): void {
    const slash = rel.lastIndexOf('/');
    if (slash < 0) return;
    if (this.dirs.has(key(rel.slice(0, slash)))) return; // the common case: one Set lookup
    // Top-down: every component above the one looked at is a directory, so nothing resolves
    // through a link; the first component that is not a directory ends the walk.
    for (let at = rel.indexOf('/'); at >= 0 && at <= slash; at = rel.indexOf('/', at + 1)) {
      const dir = rel.slice(0, at);
      if (this.dirs.has(key(dir)) || this.mkdir(name, dir, 0o777)) continue;
      const kind = this.leafKind(dir);
      if (kind === 'symlink') throw this.symlinkEscape(name, dir);
      if (kind !== 'dir') throw this.unpackError(name, `"${dir}" is not a directory`);
      this.dirs.add(key(dir));
    }
  }

  /** Throw PATH_ESCAPE if a component of `rel` (the last one too when `includeSelf`) is a symlink. */
  private assertNoSymlinkInPath(name: string, rel: string, includeSelf: boolean): void {
    const end = includeSelf ? rel.length : rel.lastIndexOf('/');
    if (end <= 0) return;
    let at = rel.indexOf('/');
    for (;;) {
      const stop = at < 0 || at >= end ? end : at;
      const prefix = rel.slice(0, stop);
      if (!this.dirs.has(key(prefix))) {
        // Not a directory of ours: a file, a symlink or nothing, and nothing can be below it.
        if (this.leafKind(prefix) === 'symlink') throw this.symlinkEscape(name, prefix);
        return;
      }
      if (stop === end) return;
      at = rel.indexOf('/', at + 1);
    }
  }

  private symlinkEscape(name: string, prefix: string): AgentError {
    return new AgentError(
      ErrorCodes.PATH_ESCAPE,
      `Archive entry "${name}" in ${this.archivePath} would be written through the symbolic link "${prefix}", outside the deployment archive directory`,
      { details: { entry: name, symlink: prefix, archive: this.archivePath } },
    );
  }

  /**
   * What a path that is not one of our directories is: lstat (never follows the last component; the
   * callers only ask when every component above is one of our directories).
   */
  private leafKind(rel: string): 'file' | 'symlink' | 'dir' | 'other' | undefined {
    let st;
    try {
      st = lstatSync(this.abs(rel), { throwIfNoEntry: false });
    } catch (err) {
      if (errnoCode(err) === 'ENOTDIR') return undefined;
      throw err;
    }
    if (st === undefined) return undefined;
    if (st.isSymbolicLink()) return 'symlink';
    if (st.isFile()) return 'file';
    return st.isDirectory() ? 'dir' : 'other';
  }

  /** mkdir; false when something is already there (EEXIST), which the caller reports. */
  private mkdir(name: string, rel: string, mode: number): boolean {
    try {
      mkdirSync(this.abs(rel), mode);
    } catch (err) {
      if (errnoCode(err) === 'EEXIST') return false;
      throw this.unpackError(name, `cannot create directory "${rel}": ${(err as Error).message}`);
    }
    this.dirs.add(key(rel));
    return true;
  }

  private shouldChown(meta: EntryMeta): boolean {
    if (!this.preserveOwner) return false;
    const { uid, gid } = meta;
    if (uid === undefined || gid === undefined || !isId(uid) || !isId(gid)) return false;
    return uid !== this.processUid || gid !== this.processGid;
  }
}

interface FinishPlan {
  chown: [number, number] | undefined;
  mode: number | undefined;
  atime: Date;
  mtime: Date | undefined;
}

/** One open output file. Small contents use writeSync; large ones the asynchronous write. */
export class FileSink {
  private closed = false;

  constructor(
    private readonly fd: number,
    readonly path: string,
    private readonly plan: FinishPlan,
    private readonly onClose: () => void,
  ) {}

  writeSync(chunk: Buffer): void {
    let offset = 0;
    while (offset < chunk.length) offset += writeSync(this.fd, chunk, offset, chunk.length - offset);
  }

  async write(chunk: Buffer): Promise<void> {
    let offset = 0;
    while (offset < chunk.length) {
      offset += await new Promise<number>((resolve, reject) => {
        write(this.fd, chunk, offset, chunk.length - offset, null, (err, written) => (err ? reject(err) : resolve(written)));
      });
    }
  }

  /** Owner, then mode (a chown clears setuid), then times; then close. */
  close(): void {
    const { chown, mode, atime, mtime } = this.plan;
    try {
      if (chown) fchownSync(this.fd, chown[0], chown[1]);
      if (mode !== undefined) fchmodSync(this.fd, mode);
      if (mtime) futimesSync(this.fd, atime, mtime);
    } finally {
      this.destroy();
    }
  }

  destroy(): void {
    if (this.closed) return;
    this.closed = true;
    this.onClose();
    try {
      closeSync(this.fd);
    } catch {
      // already failing; the directory is about to be removed
    }
  }
}

/**
 * Create a leaf with `create`; when an earlier entry of the same name is in the way (EEXIST), unlink
 * it and create again. unlink never follows a symlink: it removes the link (or breaks the hard link).
 */
function replacing<T>(abs: string, create: () => T): T {
  try {
    return create();
  } catch (err) {
    if (errnoCode(err) !== 'EEXIST') throw err;
  }
  unlinkSync(abs);
  return create();
}

function key(rel: string): string {
  return FOLD_CASE ? rel.normalize('NFD').toLowerCase() : rel;
}

function depth(rel: string): number {
  let n = 0;
  for (let i = rel.indexOf('/'); i >= 0; i = rel.indexOf('/', i + 1)) n++;
  return rel === '' ? -1 : n;
}

function isId(n: number): boolean {
  return Number.isInteger(n) && n >= 0 && n <= 0xffffffff;
}
