/**
 * Lands one file or symlink of the revision atomically: copy to a temp name in the destination
 * directory, set timestamps, owner (when root) and mode like Ruby's FileUtils.copy(preserve: true),
 * then move it into place in one step. A target that existed at planning time under OVERWRITE is
 * replaced with rename(2) (a bundle symlink replaces an existing path too, where the official agent
 * failed with EEXIST); every other target is claimed with link(2), which fails if something appeared
 * there in the meantime, with the official "already exists" message. The temp file never survives a
 * failure; after a crash it is listed in the cleanup list (the caller records it first).
 */
import { constants } from 'node:fs';
import { chmod, chown, copyFile, lchown, link, lstat, readlink, rename, symlink, unlink, utimes } from 'node:fs/promises';
import { AgentError, ErrorCodes, errnoCode, toError } from '../errors.js';
import * as msg from './install-messages.js';
import type { CopyOp } from './operations.js';

export interface CopyOptions {
  /** Keep the source's uid/gid (FileUtils preserve does when running as root). */
  preserveOwner: boolean;
  /** The ids a new file gets (the process's effective ids), to skip a chown that would change nothing. */
  uid: number;
  gid: number;
  /** The destination directory has the setgid bit: new files take its group, so always chown. */
  parentSetgid: boolean;
}

export async function copyAtomically(op: CopyOp, tempPath: string, options: CopyOptions): Promise<void> {
  let claiming = false;
  try {
    if (op.kind === 'symlink') {
      await symlink(await readlink(op.source), tempPath);
      if (options.preserveOwner) {
        const st = await lstat(op.source);
        await lchown(tempPath, st.uid, st.gid);
      }
    } else {
      const st = await lstat(op.source);
      if (!st.isFile()) throw new Error(`${op.source} is no longer a regular file`);
      // copyFile gives the copy the source's exact mode (setuid bits included, umask ignored).
      await copyFile(op.source, tempPath, constants.COPYFILE_EXCL);
      await utimes(tempPath, st.atime, st.mtime);
      if (options.preserveOwner && (options.parentSetgid || st.uid !== options.uid || st.gid !== options.gid)) {
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
    if (claiming && errnoCode(err) === 'EEXIST') {
      throw new AgentError(ErrorCodes.INSTALL_FAILED, `${msg.fileAlreadyExists(op.destination)}.`, { cause: err });
    }
    throw new AgentError(ErrorCodes.INSTALL_FAILED, msg.operationFailed('install', op.destination, toError(err).message), {
      cause: err,
    });
  }
}
