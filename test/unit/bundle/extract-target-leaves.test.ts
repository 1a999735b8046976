/**
 * ExtractTarget remembers only the directories it creates; files and symlinks are found on disk
 * (EEXIST, then lstat). Later entries of the same name replace earlier ones without writing through
 * them, and every path check still refuses links and non-directories on the way.
 */
import { existsSync } from 'node:fs';
import { lstat, mkdir, readFile, readlink, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ExtractTarget } from '../../../agent/bundle/extract-target.js';
import { AgentError, ErrorCodes } from '../../../agent/errors.js';
import { tempDir } from '../../helpers/temp.js';

async function target(): Promise<{ t: ExtractTarget; dest: string; root: string }> {
  const root = await tempDir();
  const dest = join(root, 'dest');
  await mkdir(dest, { mode: 0o777 });
  return { t: new ExtractTarget({ destDir: dest, archivePath: '/b/bundle.tar', preserveOwner: false }), dest, root };
}

function file(t: ExtractTarget, name: string, data: string): void {
  const sink = t.file(name, t.entryPath(name), {});
  sink.writeSync(Buffer.from(data));
  sink.close();
}

function failure(fn: () => unknown): AgentError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(AgentError);
    return err as AgentError;
  }
  throw new Error('expected a failure');
}

describe('ExtractTarget: entries of the same name', () => {
  it('a later file replaces an earlier file, symlink or hard link, never writing through it', async () => {
    const { t, dest, root } = await target();
    const outside = join(root, 'outside.txt');
    await writeFile(outside, 'outside');
    file(t, 'a/f', 'first');
    file(t, 'a/f', 'second');
    t.symlink('a/l', 'a/l', outside, {});
    file(t, 'a/l', 'not through the link');
    file(t, 'a/orig', 'original');
    t.hardLink('a/h', 'a/h', 'a/orig');
    file(t, 'a/h', 'replaced');
    t.finish();
    expect(await readFile(join(dest, 'a/f'), 'utf8')).toBe('second');
    expect((await lstat(join(dest, 'a/l'))).isFile()).toBe(true);
    expect(await readFile(join(dest, 'a/l'), 'utf8')).toBe('not through the link');
    expect(await readFile(outside, 'utf8')).toBe('outside');
    expect(await readFile(join(dest, 'a/orig'), 'utf8')).toBe('original');
    expect(await readFile(join(dest, 'a/h'), 'utf8')).toBe('replaced');
    expect(t.entries).toBe(7);
  });

  it('a later symlink or hard link replaces an earlier file', async () => {
    const { t, dest } = await target();
    file(t, 'x', 'file');
    t.symlink('x', 'x', 'elsewhere', {});
    file(t, 'y', 'y');
    file(t, 'z', 'z');
    t.hardLink('z', 'z', 'y');
    expect(await readlink(join(dest, 'x'))).toBe('elsewhere');
    expect((await stat(join(dest, 'z'))).ino).toBe((await stat(join(dest, 'y'))).ino);
  });

  it('a directory entry onto an earlier file or symlink fails; onto an earlier directory is fine', async () => {
    const { t } = await target();
    file(t, 'f', 'x');
    t.symlink('l', 'l', '/tmp', {});
    expect(failure(() => t.directory('f/', 'f', {})).message).toContain(
      'a directory entry conflicts with an earlier entry of the same name',
    );
    expect(failure(() => t.directory('l/', 'l', {})).code).toBe(ErrorCodes.BUNDLE_UNPACK);
    t.directory('d/', 'd', {});
    t.directory('d/', 'd', {});
  });
});

describe('ExtractTarget: paths through earlier entries', () => {
  it('an entry below an earlier file fails with "is not a directory" and creates nothing', async () => {
    const { t, dest } = await target();
    file(t, 'a/x', 'file');
    const err = failure(() => file(t, 'a/x/y/z', 'below'));
    expect(err.code).toBe(ErrorCodes.BUNDLE_UNPACK);
    expect(err.message).toContain('"a/x" is not a directory');
    expect(existsSync(join(dest, 'a/x/y'))).toBe(false);
  });

  it('an entry below a deep symlink fails with PATH_ESCAPE naming the link', async () => {
    const { t, root } = await target();
    t.symlink('a/b/link', 'a/b/link', root, {});
    const err = failure(() => t.directory('a/b/link/c/d/', 'a/b/link/c/d', {}));
    expect(err.code).toBe(ErrorCodes.PATH_ESCAPE);
    expect(err.message).toContain('through the symbolic link "a/b/link"');
    expect(existsSync(join(root, 'c'))).toBe(false);
  });

  it('hard links: to a file extracted earlier; not to a directory, a symlink, a path through one, or nothing', async () => {
    const { t, dest, root } = await target();
    file(t, 'd/f', 'data');
    t.symlink('d/l', 'd/l', root, {});
    t.hardLink('d/h', 'd/h', 'd/f');
    expect(await readFile(join(dest, 'd/h'), 'utf8')).toBe('data');
    expect(failure(() => t.hardLink('x1', 'x1', 'd')).code).toBe(ErrorCodes.BUNDLE_UNPACK);
    expect(failure(() => t.hardLink('x2', 'x2', 'd/l')).code).toBe(ErrorCodes.PATH_ESCAPE);
    expect(failure(() => t.hardLink('x3', 'x3', 'd/l/dest/d/f')).code).toBe(ErrorCodes.PATH_ESCAPE);
    expect(failure(() => t.hardLink('x4', 'x4', 'd/missing')).message).toContain('is not a file extracted earlier');
    expect(failure(() => t.hardLink('x5', 'x5', 'd/f/below')).message).toContain('is not a file extracted earlier');
  });
});
