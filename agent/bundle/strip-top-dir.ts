/**
 * The top-level directory strip of docs/reference.md section 6.5: when the unpacked archive holds exactly one entry,
 * that entry is a directory (not a symlink to one) and it holds an entry whose name matches /appspec/i,
 * the directory's contents become the archive directory.
 */
import { opendir, rename, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { removeTree } from '../platform/remove-tree.js';

const APPSPEC_NAME = /appspec/i;

/** Returns whether the leading directory was stripped. */
export async function stripTopLevelDirectory(archiveDir: string, tempDir: string, logger: Logger): Promise<boolean> {
  // Directory streams, read only as far as needed: the archive may hold a million entries at its top.
  let only;
  let count = 0;
  for await (const entry of await opendir(archiveDir)) {
    only = entry;
    if (++count > 1) break;
  }
  // Dirent types come from lstat semantics: a symlink to a directory is not a directory here.
  if (count !== 1 || !only?.isDirectory()) return false;
  let hasAppSpec = false;
  for await (const entry of await opendir(join(archiveDir, only.name))) {
    if (APPSPEC_NAME.test(entry.name)) {
      hasAppSpec = true;
      break;
    }
  }
  if (!hasAppSpec) return false;

  logger.info('Stripping leading directory from archive bundle contents.');
  await removeTree(tempDir);
  await rename(archiveDir, tempDir);
  await rename(join(tempDir, only.name), archiveDir);
  await rmdir(tempDir);
  return true;
}
