import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isInside, joinRootRelative, locateInside, resolveInside } from '../../../common/path-confinement.js';
import { tempDir } from '../../helpers/temp.js';

describe('isInside (lexical)', () => {
  it.each([
    ['/r', '/r/a', true],
    ['/r', '/r/..hidden', true],
    ['/r', '/r/..hidden/x', true],
    ['/r', '/r/...', true],
    ['/r', '/r/a..', true],
    ['/r', '/r/a/../b', true],
    ['/r', '/', false],
    ['/r', '/r/..', false],
    ['/r', '/r/../x', false],
    ['/r', '/r/a/../../x', false],
    ['/r', '/rx', false],
    ['/r', '/r..', false],
    ['/r', '/elsewhere/r/a', false],
    ['/r/', '/r/a', true],
    ['/r', '/r/a/', true],
    ['/r/', '/r/', true],
    ['/r/./s', '/r/s/a', true],
    ['/', '/', true],
    ['/', '/etc/passwd', true],
    ['/', '/..', true],
    ['/r', '/r/données/é', true],
    ['/r/é', '/r/e\u0301/x', false],
    ['/r', '/r/with space/a b.sh', true],
    ['/with space', '/with space/x', true],
    ['/with space', '/with/x', false],
  ])('root %j, path %j: %s', (root, path, inside) => {
    expect(isInside(root, path)).toBe(inside);
  });

  it.each([
    ['/r', '/r'],
    ['/r/', '/r'],
    ['/r', '/r/'],
    ['/r', '/r/a/..'],
    ['/', '/'],
  ])('root %j itself (%j) is inside unless allowRoot is false', (root, path) => {
    expect(isInside(root, path)).toBe(true);
    expect(isInside(root, path, { allowRoot: true })).toBe(true);
    expect(isInside(root, path, { allowRoot: false })).toBe(false);
  });

  it('allowRoot does not change anything below the root', () => {
    expect(isInside('/r', '/r/a', { allowRoot: false })).toBe(true);
    expect(isInside('/r', '/r/..hidden', { allowRoot: false })).toBe(true);
    expect(isInside('/r', '/x', { allowRoot: false })).toBe(false);
  });
});

describe('joinRootRelative and resolveInside (paths written in an appspec)', () => {
  it.each([
    ['scripts/start.sh', '/r/scripts/start.sh'],
    ['/scripts/start.sh', '/r/scripts/start.sh'],
    ['//scripts//start.sh', '/r/scripts/start.sh'],
    ['..hidden/x', '/r/..hidden/x'],
    ['a/../b', '/r/b'],
    ['dir/', '/r/dir'],
    ['with space/é.sh', '/r/with space/é.sh'],
    ['/', '/r'],
    ['', '/r'],
    ['.', '/r'],
  ])('%j inside /r is %j', (written, path) => {
    expect(joinRootRelative('/r', written)).toBe(path);
    expect(resolveInside('/r', written)).toBe(path);
    expect(resolveInside('/r/', written)).toBe(path);
  });

  it.each([
    ['..', '/'],
    ['../x', '/x'],
    ['/../x', '/x'],
    ['a/../../x', '/x'],
    ['../r-sibling/x', '/r-sibling/x'],
  ])('%j escapes: resolveInside is undefined (joinRootRelative says %j)', (written, path) => {
    expect(joinRootRelative('/r', written)).toBe(path);
    expect(resolveInside('/r', written)).toBeUndefined();
  });

  it('only where a path ends counts, not the way: "../r/x" ends inside /r', () => {
    expect(resolveInside('/r', '../r/x')).toBe('/r/x');
  });

  it('the root itself only with allowRoot', () => {
    expect(resolveInside('/r', '/', { allowRoot: false })).toBeUndefined();
    expect(resolveInside('/r', 'a/..', { allowRoot: false })).toBeUndefined();
    expect(resolveInside('/r', 'a', { allowRoot: false })).toBe('/r/a');
  });
});

/** root/{file, dir/, ..hidden/x, in-link -> file, dir-link -> dir, out-link -> ../outside, out-dir -> .., dangling -> nowhere, loop -> loop} */
async function tree(): Promise<{ base: string; root: string }> {
  const base = await tempDir();
  const root = join(base, 'root');
  await mkdir(join(root, 'dir'), { recursive: true });
  await mkdir(join(root, '..hidden'));
  await writeFile(join(root, 'file'), 'x');
  await writeFile(join(root, '..hidden', 'x'), 'x');
  await writeFile(join(base, 'outside'), 'secret');
  await symlink('file', join(root, 'in-link'));
  await symlink(join(root, 'dir'), join(root, 'dir-link'));
  await symlink('../outside', join(root, 'out-link'));
  await symlink('..', join(root, 'out-dir'));
  await symlink('nowhere', join(root, 'dangling'));
  await symlink('loop', join(root, 'loop'));
  await symlink('.', join(root, 'self'));
  return { base, root };
}

describe('locateInside (real paths)', () => {
  it.each([
    ['file', 'file'],
    ['..hidden/x', '..hidden/x'],
    ['in-link', 'file'],
    ['dir-link/', 'dir'],
    ['dir-link/../file', 'file'],
  ])('%s is inside, really at %s', async (rel, real) => {
    const { root } = await tree();
    expect(await locateInside(root, join(root, rel))).toEqual({ kind: 'inside', path: resolve(root, rel), real: join(root, real) });
  });

  it.each([
    ['out-link', 'outside'],
    ['out-dir/outside', 'outside'],
    ['out-dir', ''],
  ])('%s leads outside, to %s', async (rel, real) => {
    const { base, root } = await tree();
    expect(await locateInside(root, join(root, rel))).toEqual({ kind: 'outside', path: join(base, real) });
  });

  it('a path that escapes lexically is outside before anything is read, with its lexical path', async () => {
    const { base, root } = await tree();
    expect(await locateInside(root, join(root, '..', 'outside'))).toEqual({ kind: 'outside', path: join(base, 'outside') });
    expect(await locateInside(root, `${root}/../root/file`)).toEqual({
      kind: 'inside',
      path: join(root, 'file'),
      real: join(root, 'file'),
    });
  });

  it.each(['dangling', 'missing', 'file/below', 'loop', 'dangling/x'])('%s is missing', async (rel) => {
    const { root } = await tree();
    expect(await locateInside(root, join(root, rel))).toEqual({ kind: 'missing', path: join(root, rel) });
  });

  it('a missing root makes everything missing', async () => {
    const { base } = await tree();
    expect(await locateInside(join(base, 'none'), join(base, 'none', 'x'))).toEqual({ kind: 'missing', path: join(base, 'none', 'x') });
  });

  it('the root itself, and a link back to it, follow allowRoot', async () => {
    const { root } = await tree();
    expect(await locateInside(root, root)).toEqual({ kind: 'inside', path: root, real: root });
    expect(await locateInside(root, join(root, 'self'))).toEqual({ kind: 'inside', path: join(root, 'self'), real: root });
    expect(await locateInside(root, root, { allowRoot: false })).toEqual({ kind: 'outside', path: root });
    expect(await locateInside(root, join(root, 'self'), { allowRoot: false })).toEqual({ kind: 'outside', path: root });
  });

  it('compares real paths when the root itself is reached through a symlink', async () => {
    const { base, root } = await tree();
    await symlink(root, join(base, 'root-link'));
    expect(await locateInside(join(base, 'root-link'), join(base, 'root-link', 'in-link'))).toMatchObject({
      kind: 'inside',
      real: join(root, 'file'),
    });
    expect(await locateInside(join(base, 'root-link'), join(base, 'root-link', 'out-link'))).toEqual({
      kind: 'outside',
      path: join(base, 'outside'),
    });
  });

  describe('followLast: false (the last component is used as it is)', () => {
    it.each([
      ['out-link', 'out-link'],
      ['dangling', 'dangling'],
      ['missing', 'missing'],
      ['dir-link/x', 'dir/x'],
      ['..hidden/x', '..hidden/x'],
    ])('%s is inside, at %s', async (rel, real) => {
      const { root } = await tree();
      expect(await locateInside(root, join(root, rel), { followLast: false })).toEqual({
        kind: 'inside',
        path: join(root, rel),
        real: join(root, real),
      });
    });

    it('a directory on the way that leads outside is still outside; a missing one is missing', async () => {
      const { base, root } = await tree();
      expect(await locateInside(root, join(root, 'out-dir', 'outside'), { followLast: false })).toEqual({
        kind: 'outside',
        path: join(base, 'outside'),
      });
      expect(await locateInside(root, join(root, 'nope', 'x'), { followLast: false })).toEqual({
        kind: 'missing',
        path: join(root, 'nope', 'x'),
      });
    });

    it('the root itself is the root', async () => {
      const { root } = await tree();
      expect(await locateInside(root, root, { followLast: false })).toEqual({ kind: 'inside', path: root, real: root });
    });
  });
});
