/**
 * Every entry under a directory, without following symbolic links: `readdir(dir, { recursive:
 * true, withFileTypes: true })` descends into symlinked directories on Node 26 but not on Node 20,
 * so tests that compare trees holding symlinks would depend on the runtime. A symlink is listed
 * as itself (isSymbolicLink()), never as what it points to.
 */
import type { Dirent } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join, relative } from 'node:path';

export interface TreeEntry {
  /** Path relative to the root, with / separators. */
  path: string;
  /** Absolute path. */
  full: string;
  dirent: Dirent;
}

export async function walkTree(root: string): Promise<TreeEntry[]> {
  const out: TreeEntry[] = [];
  const pending = [root];
  for (let dir = pending.pop(); dir !== undefined; dir = pending.pop()) {
    for (const dirent of await readdir(dir, { withFileTypes: true })) {
      const full = join(dir, dirent.name);
      out.push({ path: relative(root, full), full, dirent });
      if (dirent.isDirectory()) pending.push(full);
    }
  }
  return out;
}
