/** removeTree: rm -rf with bounded memory that never follows a link and keeps the event loop turning. */
import { existsSync } from 'node:fs';
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { removeTree } from '../../../agent/platform/remove-tree.js';
import { tempDir } from '../../helpers/temp.js';

describe('removeTree', () => {
  it('removes a nested tree; symlinks are removed, never followed', async () => {
    const root = await tempDir();
    const outside = join(root, 'outside');
    await mkdir(outside);
    await writeFile(join(outside, 'keep.txt'), 'kept');
    const tree = join(root, 'tree');
    await mkdir(join(tree, 'a', 'b', 'c'), { recursive: true });
    await writeFile(join(tree, 'a', 'b', 'c', 'deep.txt'), 'x');
    await writeFile(join(tree, 'top.txt'), 'x');
    await symlink(outside, join(tree, 'a', 'to-outside'));
    await symlink(join(outside, 'keep.txt'), join(tree, 'file-link'));
    await symlink(join(root, 'nowhere'), join(tree, 'dangling'));

    await removeTree(tree);

    expect(existsSync(tree)).toBe(false);
    expect(await readFile(join(outside, 'keep.txt'), 'utf8')).toBe('kept');
  });

  it('a missing path is not an error; a file or a symlink is removed alone', async () => {
    const root = await tempDir();
    await removeTree(join(root, 'missing'));
    await writeFile(join(root, 'f'), 'x');
    await mkdir(join(root, 'd'));
    await symlink(join(root, 'd'), join(root, 'link-to-d'));
    await removeTree(join(root, 'f'));
    await removeTree(join(root, 'link-to-d'));
    expect(existsSync(join(root, 'f'))).toBe(false);
    expect(existsSync(join(root, 'link-to-d'))).toBe(false);
    expect(existsSync(join(root, 'd'))).toBe(true);
  });

  it('removes a flat directory of 20,000 files while timers keep firing', async () => {
    const root = await tempDir();
    const flat = join(root, 'flat');
    await mkdir(flat);
    for (let i = 0; i < 20_000; i += 1000) {
      await Promise.all(Array.from({ length: 1000 }, (_, k) => writeFile(join(flat, `f${i + k}`), '')));
    }
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    try {
      await removeTree(flat);
    } finally {
      clearInterval(timer);
    }
    expect(existsSync(flat)).toBe(false);
    // 20,000 unlinks take far longer than one 10 ms slice: the removal yields to the event loop.
    expect(ticks).toBeGreaterThan(0);
  });
});
