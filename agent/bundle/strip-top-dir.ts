/**
 * The top-level directory strip of reference 6.5: when the unpacked archive holds exactly one entry,
 * that entry is a directory (not a symlink to one) and it holds an entry whose name matches /appspec/i,
 * the directory's contents become the archive directory.
 */
import { readdir, rename, rm, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';

const APPSPEC_NAME = /appspec/i;

/** Returns whether the leading directory was stripped. */
export async function stripTopLevelDirectory(archiveDir: string, tempDir: string, logger: Logger): Promise<boolean> {
  const entries = await readdir(archiveDir, { withFileTypes: true });
  const only = entries.length === 1 ? entries[0] : undefined;
  // Dirent types come from lstat semantics: a symlink to a directory is not a directory here.
  if (!only?.isDirectory()) return false;
  const inner = await readdir(join(archiveDir, only.name));
  if (!inner.some((name) => APPSPEC_NAME.test(name))) return false;

  logger.info('Stripping leading directory from archive bundle contents.');
  await rm(tempDir, { recursive: true, force: true });
  await rename(archiveDir, tempDir);
  await rename(join(tempDir, only.name), archiveDir);
  await rmdir(tempDir);
  return true;
}
