import { existsSync } from 'node:fs';
import { mkdir, readFile, readlink } from 'node:fs/promises';
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

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    return err instanceof AgentError ? err.code : 'not an AgentError';
  }
}

describe('ExtractTarget.entryPath', () => {
  it.each([
    ['a.txt', 'a.txt'],
    ['dir/', 'dir'],
    ['./dir/./b.txt', 'dir/b.txt'],
    ['dir//b.txt', 'dir/b.txt'],
    ['./', ''],
    ['.', ''],
    ['..foo/bar..', '..foo/bar..'],
    ['...', '...'],
  ])('accepts %j as %j', async (name, rel) => {
    const { t } = await target();
    expect(t.entryPath(name)).toBe(rel);
  });

  it.each(['../x', 'a/../../x', 'a/..', '..', '/etc/passwd', '//x', '/'])('rejects %j with PATH_ESCAPE', async (name) => {
    const { t } = await target();
    expect(codeOf(() => t.entryPath(name))).toBe(ErrorCodes.PATH_ESCAPE);
  });

  it('rejects a NUL character with BUNDLE_UNPACK', async () => {
    const { t } = await target();
    expect(codeOf(() => t.entryPath('a\0b'))).toBe(ErrorCodes.BUNDLE_UNPACK);
  });
});

describe('ExtractTarget writes', () => {
  it('creates parents, files and symlinks, and counts entries', async () => {
    const { t, dest } = await target();
    const sink = t.file('x/y/z.txt', 'x/y/z.txt', { mode: 0o640 });
    sink.writeSync(Buffer.from('hello'));
    sink.close();
    t.symlink('x/link', 'x/link', '/etc', {});
    t.finish();
    expect(await readFile(join(dest, 'x/y/z.txt'), 'utf8')).toBe('hello');
    expect(await readlink(join(dest, 'x/link'))).toBe('/etc');
    expect(t.entries).toBe(2);
  });

  it('refuses anything below a symlink it created, even a deep path', async () => {
    const { t, root } = await target();
    t.symlink('l', 'l', root, {});
    expect(codeOf(() => t.file('l/a/b/c', 'l/a/b/c', {}))).toBe(ErrorCodes.PATH_ESCAPE);
    expect(codeOf(() => t.directory('l/a', 'l/a', {}))).toBe(ErrorCodes.PATH_ESCAPE);
    expect(existsSync(join(root, 'a'))).toBe(false);
  });

  it('refuses to turn a directory into a file, symlink or hard link', async () => {
    const { t } = await target();
    t.directory('d/', 'd', {});
    const other = t.file('f', 'f', {});
    other.close();
    expect(codeOf(() => t.file('d', 'd', {}))).toBe(ErrorCodes.BUNDLE_UNPACK);
    expect(codeOf(() => t.symlink('d', 'd', '/', {}))).toBe(ErrorCodes.BUNDLE_UNPACK);
    expect(codeOf(() => t.hardLink('d', 'd', 'f'))).toBe(ErrorCodes.BUNDLE_UNPACK);
  });
});
