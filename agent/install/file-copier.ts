/**
 * Lands one file or symlink of the revision atomically: copy to a temp name in the destination
 * directory, set timestamps, owner (when root) and mode like Ruby's FileUtils.copy(preserve: true),
 * then move it into place in one step. A target that existed at planning time under OVERWRITE is
 * replaced with rename(2) (a bundle symlink replaces an existing path too, where the official agent
 * failed with EEXIST); every other target is claimed with link(2), which fails if something appeared
 * there in the meantime, with the official "already exists" message. The temp file never survives a
 * failure; after a crash it is listed in the cleanup list (the caller records it first).
 *
 * Two variants with the same steps and errors: copyAtomicallySync for symlinks and small files (the
 * installer runs them in time slices on the main thread, see time-slice.ts), and copyAtomically,
 * async, for files larger than SYNC_COPY_MAX_BYTES, whose data copy would hold the main thread too long.
 */
import {
  chmodSync,
  chownSync,
  constants,
  copyFileSync,
  lchownSync,
  linkSync,
  lstatSync,
  readlinkSync,
  renameSync,
  symlinkSync,
  unlinkSync,
  utimesSync,
  type Stats,
} from 'node:fs';
import { chmod, chown, copyFile, lchown, link, lstat, readlink, rename, symlink, unlink, utimes } from 'node:fs/promises';
import { sep } from 'node:path';
import { AgentError, ErrorCodes } from '../errors.js';
import { errnoCode, toError } from '../../common/errors.js';
import * as msg from './install-messages.js';
import type { CopyOp } from './operations.js';

/** Regular files up to this size are copied synchronously; larger ones off the main thread. */
export const SYNC_COPY_MAX_BYTES = 1024 * 1024;

/** The end of the message when a source stopped being a regular file after planning. */
export const NOT_REGULAR = ' is no longer a regular file';

const TEMP_PREFIX = '.cda-';
const TEMP_SUFFIX = '.tmp';

/**
 * The temp name a copy lands under first: `<destination's directory>/.cda-<runId>-<index>.tmp`
 * (destination absolute and normalised).
 */
export function tempPathFor(destination: string, index: number, runId: string): string {
  return `${destination.slice(0, destination.lastIndexOf(sep) + 1)}${TEMP_PREFIX}${runId}-${index}${TEMP_SUFFIX}`;
}

/** Whether a path has the shape of tempPathFor()'s names. */
export function isTempPath(path: string): boolean {
  return path.endsWith(TEMP_SUFFIX) && path.startsWith(TEMP_PREFIX, path.lastIndexOf(sep) + 1);
}

export interface CopyOptions {
  /** Keep the source's uid/gid (FileUtils preserve does when running as root). */
  preserveOwner: boolean;
  /** The ids a new file gets (the process's effective ids), to skip a chown that would change nothing. */
  uid: number;
  gid: number;
  /** The destination directory has the setgid bit: new files take its group, so always chown. */
  parentSetgid: boolean;
}

/**
 * Lands a symlink or a regular file of at most SYNC_COPY_MAX_BYTES synchronously and returns
 * undefined. For a larger regular file it changes nothing and returns the source's lstat, for the
 * caller to pass to copyAtomically.
 */
export function copyAtomicallySync(op: CopyOp, tempPath: string, options: CopyOptions): Stats | undefined {
  let claiming = false;
  try {
    if (op.kind === 'symlink') {
      symlinkSync(readlinkSync(op.source), tempPath);
      if (options.preserveOwner) {
        const st = lstatSync(op.source);
        lchownSync(tempPath, st.uid, st.gid);
      }
    } else {
      const st = lstatSync(op.source);
      if (!st.isFile()) throw notRegular(op);
      if (st.size > SYNC_COPY_MAX_BYTES) return st;
      // copyFile gives the copy the source's exact mode (setuid bits included, umask ignored).
      copyFileSync(op.source, tempPath, constants.COPYFILE_EXCL);
      utimesSync(tempPath, st.atime, st.mtime);
      if (needsChown(st, options)) {
        chownSync(tempPath, st.uid, st.gid);
        // chown cleared the setuid/setgid bits: put them back.
        if ((st.mode & 0o6000) !== 0) chmodSync(tempPath, st.mode & 0o7777);
      }
    }
    if (op.overwrite) {
      renameSync(tempPath, op.destination);
    } else {
      claiming = true;
      linkSync(tempPath, op.destination);
      claiming = false;
      unlinkSync(tempPath);
    }
    return undefined;
  } catch (err) {
    try {
      unlinkSync(tempPath);
    } catch {
      // Not created (or already gone): nothing to remove.
    }
    throw landingError(op.destination, err, claiming);
  }
}

/** The async variant; `sourceStats` is the source's lstat when the caller already has it. */
export async function copyAtomically(op: CopyOp, tempPath: string, options: CopyOptions, sourceStats?: Stats): Promise<void> {
  let claiming = false;
  try {
    if (op.kind === 'symlink') {
      await symlink(await readlink(op.source), tempPath);
      if (options.preserveOwner) {
        const st = await lstat(op.source);
        await lchown(tempPath, st.uid, st.gid);
      }
    } else {
      const st = sourceStats ?? (await lstat(op.source));
      if (!st.isFile()) throw notRegular(op);
      // copyFile gives the copy the source's exact mode (setuid bits included, umask ignored).
      await copyFile(op.source, tempPath, constants.COPYFILE_EXCL);
      await utimes(tempPath, st.atime, st.mtime);
      if (needsChown(st, options)) {
        await chown(tempPath, st.uid, st.gid);
        // chown cleared the setuid/setgid bits: put them back.
        if ((st.mode & 0o6000) !== 0) await chmod(tempPath, st.mode & 0o7777);
      }
    }
    if (op.overwrite) {
      await rename(tempPath, op.destination);
    } else {
      claiming = true;
      await link(tempPath, op.destination);
      claiming = false;
      await unlink(tempPath);
    }
  } catch (err) {
    await unlink(tempPath).catch(() => undefined);
    throw landingError(op.destination, err, claiming);
  }
}

function needsChown(st: Stats, options: CopyOptions): boolean {
  return options.preserveOwner && (options.parentSetgid || st.uid !== options.uid || st.gid !== options.gid);
}

function notRegular(op: CopyOp): Error {
  return new Error(`${op.source}${NOT_REGULAR}`);
}

/** The Install error for a copy to `destination` that failed with `err` (`claiming`: in link(2)). */
export function landingError(destination: string, err: unknown, claiming: boolean): AgentError {
  if (claiming && errnoCode(err) === 'EEXIST') {
    return new AgentError(ErrorCodes.INSTALL_FAILED, `${msg.fileAlreadyExists(destination)}.`, { cause: err });
  }
  return new AgentError(ErrorCodes.INSTALL_FAILED, msg.operationFailed('install', destination, toError(err).message), {
    cause: err,
  });
}
