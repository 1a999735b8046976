/**
 * Unpack a bundle archive into a new directory (docs/reference.md section 6.4, without the shell: no `tar`/`unzip`
 * processes, no quoting problems, no process-wide cwd change).
 *
 * - tar and tgz restore modes, mtimes and, when running as root, owners (GNU `tar -xp` as root);
 *   zip restores Unix modes and symlinks from the external attributes, and mtimes.
 * - Entries are untrusted: a name that is absolute or has `..`, a path through a symbolic link, a hard
 *   link to anything but an earlier file of the archive, a device or FIFO fails the whole unpack with
 *   PATH_ESCAPE naming the entry (extract-target.ts). Nothing is ever written outside destDir.
 * - Any failure removes the partial destDir.
 */
import { mkdir } from 'node:fs/promises';
import { AgentError, ErrorCodes } from '../errors.js';
import { errnoCode, toError } from '../../common/errors.js';
import { ExtractTarget } from './extract-target.js';
import { removeTree } from '../platform/remove-tree.js';
import { unpackTar } from './tar-unpacker.js';
import type { UnpackRequest, UnpackResult } from './types.js';
import { unpackZip } from './zip-unpacker.js';

export async function unpackArchive(req: UnpackRequest): Promise<UnpackResult> {
  const { archivePath, type, destDir, logger } = req;
  const format = type === 'zip' ? 'zip' : 'tar';
  try {
    // Mode 0777 so that ExtractTarget can read the umask from it.
    await mkdir(destDir, { mode: 0o777 });
  } catch (err) {
    const reason = errnoCode(err) === 'EEXIST' ? `${destDir} already exists` : toError(err).message;
    throw new AgentError(ErrorCodes.BUNDLE_UNPACK, `Error extracting ${format} archive ${archivePath}: ${reason}`, {
      cause: err,
    });
  }

  const started = performance.now();
  let target: ExtractTarget | undefined;
  try {
    target = new ExtractTarget({ destDir, archivePath, preserveOwner: process.getuid?.() === 0 });
    if (type === 'zip') await unpackZip(archivePath, target);
    else await unpackTar(archivePath, target);
    target.finish();
  } catch (err) {
    target?.abort();
    await removeTree(destDir);
    if (err instanceof AgentError) throw err;
    throw new AgentError(ErrorCodes.BUNDLE_UNPACK, `Error extracting ${format} archive ${archivePath}: ${toError(err).message}`, {
      cause: err,
      details: { archive: archivePath },
    });
  }
  const result: UnpackResult = { entries: target.entries };
  logger.debug(
    { archive: archivePath, type, destDir, entries: result.entries, ms: Math.round(performance.now() - started) },
    'Unpacked archive',
  );
  return result;
}
