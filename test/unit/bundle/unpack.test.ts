import { execFileSync } from 'node:child_process';
import { chmod, lstat, mkdir, readdir, readFile, readlink, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import * as tar from 'tar';
import { describe, expect, it } from 'vitest';
import { unpackArchive } from '../../../agent/bundle/unpack.js';
import type { ArchiveType } from '../../../agent/spec/bundle-type.js';
import { AgentError, ErrorCodes } from '../../../agent/errors.js';
import { captureLogger, silentLogger, tempDir } from '../../helpers/temp.js';
import { makeTar, makeZip, tarTree, zipTree } from '../../helpers/archive-builders.js';

const START_MTIME = new Date('2020-01-02T03:04:06Z');
const LIB_MTIME = new Date('2021-05-06T07:08:10Z');

/** A revision tree with exec bits, a 0777 file, nested and empty directories and two symlinks. */
async function makeTree(root: string): Promise<void> {
  await mkdir(join(root, 'scripts/lib'), { recursive: true });
  await mkdir(join(root, 'empty'));
  await writeFile(join(root, 'appspec.yml'), 'version: 0.0\nos: linux\n');
  await writeFile(join(root, 'scripts/start.sh'), '#!/bin/sh\necho start\n');
  await chmod(join(root, 'scripts/start.sh'), 0o755);
  await writeFile(join(root, 'scripts/lib/helper.sh'), '#!/bin/sh\necho helper\n');
  await chmod(join(root, 'scripts/lib/helper.sh'), 0o750);
  await writeFile(join(root, 'scripts/open.sh'), 'open\n');
  await chmod(join(root, 'scripts/open.sh'), 0o777);
  await symlink('scripts/start.sh', join(root, 'link-to-start'));
  await symlink('scripts', join(root, 'dirlink'));
  await utimes(join(root, 'scripts/start.sh'), START_MTIME, START_MTIME);
  await utimes(join(root, 'scripts/lib'), LIB_MTIME, LIB_MTIME);
}
const TREE_ENTRIES = 9; // appspec.yml scripts scripts/lib helper.sh start.sh open.sh empty link-to-start dirlink

async function expectTree(dest: string, options: { dirMtimes: boolean }): Promise<void> {
  expect((await readdir(dest)).sort()).toEqual(['appspec.yml', 'dirlink', 'empty', 'link-to-start', 'scripts']);
  expect(await readFile(join(dest, 'appspec.yml'), 'utf8')).toBe('version: 0.0\nos: linux\n');
  expect(await readFile(join(dest, 'scripts/lib/helper.sh'), 'utf8')).toBe('#!/bin/sh\necho helper\n');
  expect((await stat(join(dest, 'scripts/start.sh'))).mode & 0o7777).toBe(0o755);
  expect((await stat(join(dest, 'scripts/lib/helper.sh'))).mode & 0o7777).toBe(0o750);
  expect((await stat(join(dest, 'scripts/open.sh'))).mode & 0o7777).toBe(0o777);
  expect((await stat(join(dest, 'appspec.yml'))).mode & 0o7777).toBe(0o644);
  expect((await stat(join(dest, 'scripts/start.sh'))).mtime.getTime()).toBe(START_MTIME.getTime());
  if (options.dirMtimes) expect((await stat(join(dest, 'scripts/lib'))).mtime.getTime()).toBe(LIB_MTIME.getTime());
  expect((await lstat(join(dest, 'link-to-start'))).isSymbolicLink()).toBe(true);
  expect(await readlink(join(dest, 'link-to-start'))).toBe('scripts/start.sh');
  expect((await lstat(join(dest, 'dirlink'))).isSymbolicLink()).toBe(true);
  expect(await readlink(join(dest, 'dirlink'))).toBe('scripts');
  expect((await stat(join(dest, 'empty'))).isDirectory()).toBe(true);
  expect(await readdir(join(dest, 'empty'))).toEqual([]);
}

async function unpackError(archivePath: string, type: ArchiveType, destDir: string): Promise<AgentError> {
  const err: unknown = await unpackArchive({ archivePath, type, destDir, logger: silentLogger() }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AgentError);
  return err as AgentError;
}

describe('unpackArchive: happy paths', () => {
  it.each([
    ['tar (system tar)', 'tar' as const, (out: string, src: string) => tarTree(out, src)],
    ['tgz (system tar)', 'tgz' as const, (out: string, src: string) => tarTree(out, src, { gzip: true })],
    ['zip (zipfile)', 'zip' as const, (out: string, src: string) => zipTree(out, src)],
  ])('%s: contents, modes, mtimes, symlinks, empty dirs, entry count', async (_label, type, build) => {
    const root = await tempDir();
    await makeTree(join(root, 'src'));
    const archivePath = build(join(root, `bundle.${type}`), join(root, 'src'));
    const destDir = join(root, 'deployment-archive');
    const { logger, lines } = captureLogger();

    const result = await unpackArchive({ archivePath, type, destDir, logger });

    expect(result.entries).toBe(TREE_ENTRIES);
    await expectTree(destDir, { dirMtimes: true });
    expect(lines().some((l) => l.msg === 'Unpacked archive' && l.entries === TREE_ENTRIES)).toBe(true);
  });

  it('tar made by node-tar, read through a symlink to the bundle (Local File revisions)', async () => {
    const root = await tempDir();
    await makeTree(join(root, 'src'));
    const real = join(root, 'real.tar');
    await tar.c({ file: real, cwd: join(root, 'src'), portable: false }, ['.']);
    await symlink(real, join(root, 'bundle.tar'));
    const destDir = join(root, 'out');

    const result = await unpackArchive({ archivePath: join(root, 'bundle.tar'), type: 'tar', destDir, logger: silentLogger() });

    expect(result.entries).toBe(TREE_ENTRIES);
    await expectTree(destDir, { dirMtimes: true });
  });

  it('a gzip-compressed bundle declared as "tar" is still unpacked (GNU tar detects gzip too)', async () => {
    const root = await tempDir();
    await makeTree(join(root, 'src'));
    const archivePath = tarTree(join(root, 'bundle.tar'), join(root, 'src'), { gzip: true });
    const result = await unpackArchive({ archivePath, type: 'tar', destDir: join(root, 'out'), logger: silentLogger() });
    expect(result.entries).toBe(TREE_ENTRIES);
    await expectTree(join(root, 'out'), { dirMtimes: true });
  });

  it('creates missing parent directories, keeps duplicate-name last wins, and writes large files', async () => {
    const root = await tempDir();
    const big = 'x'.repeat(3 * 1024 * 1024 + 17); // above the async-write threshold
    const archivePath = makeTar(
      join(root, 'bundle.tgz'),
      [
        { name: 'deep/a/b/c.txt', type: 'file', data: 'first' },
        { name: 'deep/a/b/c.txt', type: 'file', data: 'second', mode: 0o600 },
        { name: 'big.bin', type: 'file', data: big, mode: 0o640 },
        { name: 'hard.txt', type: 'hardlink', target: 'deep/a/b/c.txt' },
      ],
      { gzip: true },
    );
    const destDir = join(root, 'out');

    const result = await unpackArchive({ archivePath, type: 'tgz', destDir, logger: silentLogger() });

    expect(result.entries).toBe(4);
    expect(await readFile(join(destDir, 'deep/a/b/c.txt'), 'utf8')).toBe('second');
    expect((await stat(join(destDir, 'deep/a/b/c.txt'))).mode & 0o777).toBe(0o600);
    expect((await readFile(join(destDir, 'big.bin'))).length).toBe(big.length);
    expect((await stat(join(destDir, 'big.bin'))).mode & 0o777).toBe(0o640);
    expect((await stat(join(destDir, 'hard.txt'))).ino).toBe((await stat(join(destDir, 'deep/a/b/c.txt'))).ino);
  });

  it('zip: streams a large entry and reads small ones whole, with modes', async () => {
    const root = await tempDir();
    const big = Array.from({ length: 40000 }, (_, i) => `line ${i} ${(i * 7919) % 10007}`).join('\n');
    const archivePath = makeZip(join(root, 'bundle.zip'), [
      { name: 'big.txt', type: 'file', data: big, mode: 0o600 },
      { name: 'bin/run', type: 'file', data: '#!/bin/sh\n', mode: 0o755 },
    ]);
    const destDir = join(root, 'out');

    const result = await unpackArchive({ archivePath, type: 'zip', destDir, logger: silentLogger() });

    expect(result.entries).toBe(2);
    expect(await readFile(join(destDir, 'big.txt'), 'utf8')).toBe(big);
    expect((await stat(join(destDir, 'big.txt'))).mode & 0o777).toBe(0o600);
    expect((await stat(join(destDir, 'bin/run'))).mode & 0o777).toBe(0o755);
  });

  it.runIf(process.getuid?.() === 0)('restores the archive owners when running as root', async () => {
    const root = await tempDir();
    const archivePath = makeTar(join(root, 'bundle.tar'), [
      { name: 'owned.sh', type: 'file', data: 'x', mode: 0o4755, uid: 1234, gid: 2345 },
    ]);
    await unpackArchive({ archivePath, type: 'tar', destDir: join(root, 'out'), logger: silentLogger() });
    const st = await stat(join(root, 'out/owned.sh'));
    expect([st.uid, st.gid]).toEqual([1234, 2345]);
    expect(st.mode & 0o7777).toBe(0o4755); // setuid survives the chown
  });

  it('matches `tar -xpf` on the same archive (names, types, modes, mtimes)', async () => {
    const root = await tempDir();
    await makeTree(join(root, 'src'));
    const archivePath = tarTree(join(root, 'bundle.tgz'), join(root, 'src'), { gzip: true });
    await mkdir(join(root, 'gnu'));
    execFileSync('tar', ['-xpzf', archivePath, '-C', join(root, 'gnu')]);
    await unpackArchive({ archivePath, type: 'tgz', destDir: join(root, 'ours'), logger: silentLogger() });
    const listing = (dir: string): string =>
      execFileSync('find', ['.', '-printf', '%p %y %m %T@ %l\\n'], { cwd: dir, encoding: 'utf8' }).split('\n').sort().join('\n');
    expect(listing(join(root, 'ours'))).toBe(listing(join(root, 'gnu')));
  });
});

describe('unpackArchive: failures', () => {
  it.each(['tar', 'tgz', 'zip'] as const)('%s: a corrupt archive fails with BUNDLE_UNPACK naming the file', async (type) => {
    const root = await tempDir();
    const archivePath = join(root, `bundle.${type}`);
    await writeFile(archivePath, 'this is not an archive at all\n'.repeat(40));
    const destDir = join(root, 'deployment-archive');

    const err = await unpackError(archivePath, type, destDir);

    expect(err.code).toBe(ErrorCodes.BUNDLE_UNPACK);
    expect(err.message).toContain(archivePath);
    expect(err.message).toMatch(type === 'zip' ? /^Error extracting zip archive / : /^Error extracting tar archive /);
    expect(existsSync(destDir)).toBe(false);
  });

  it('a truncated tgz fails with BUNDLE_UNPACK and removes the partial directory', async () => {
    const root = await tempDir();
    await makeTree(join(root, 'src'));
    for (let i = 0; i < 50; i++) await writeFile(join(root, 'src', `f${i}.txt`), `${i}`.repeat(5000 + i));
    const whole = tarTree(join(root, 'whole.tgz'), join(root, 'src'), { gzip: true });
    const bytes = await readFile(whole);
    const archivePath = join(root, 'bundle.tgz');
    await writeFile(archivePath, bytes.subarray(0, Math.floor(bytes.length * 0.6)));
    const destDir = join(root, 'out');

    const err = await unpackError(archivePath, 'tgz', destDir);

    expect(err.code).toBe(ErrorCodes.BUNDLE_UNPACK);
    expect(err.message).toContain(`Error extracting tar archive ${archivePath}: `);
    expect(existsSync(destDir)).toBe(false);
  });

  it.each([
    ['small', 'tiny content '.repeat(10)],
    ['large', Array.from({ length: 40000 }, (_, i) => `row ${i}`).join('\n')],
  ])('zip: a %s entry with damaged data fails with BUNDLE_UNPACK', async (_label, data) => {
    const root = await tempDir();
    const archivePath = makeZip(join(root, 'bundle.zip'), [{ name: 'data.txt', type: 'file', data }]);
    const bytes = await readFile(archivePath);
    // Damage the compressed data (it starts after the 30-byte local header and the name).
    const at = 30 + 'data.txt'.length + 5;
    bytes[at] = (bytes[at] as number) ^ 0xff;
    await writeFile(archivePath, bytes);
    const destDir = join(root, 'out');

    const err = await unpackError(archivePath, 'zip', destDir);

    expect(err.code).toBe(ErrorCodes.BUNDLE_UNPACK);
    expect(err.message).toContain(archivePath);
    expect(existsSync(destDir)).toBe(false);
  });

  it('a missing bundle file fails with BUNDLE_UNPACK', async () => {
    const root = await tempDir();
    const err = await unpackError(join(root, 'nope.zip'), 'zip', join(root, 'out'));
    expect(err.code).toBe(ErrorCodes.BUNDLE_UNPACK);
    expect(err.message).toContain(join(root, 'nope.zip'));
    expect(existsSync(join(root, 'out'))).toBe(false);
  });

  it('refuses an existing destination and leaves it alone', async () => {
    const root = await tempDir();
    const archivePath = makeTar(join(root, 'bundle.tar'), [{ name: 'a.txt', type: 'file', data: 'a' }]);
    await mkdir(join(root, 'out'));
    await writeFile(join(root, 'out/keep.txt'), 'keep');

    const err = await unpackError(archivePath, 'tar', join(root, 'out'));

    expect(err.code).toBe(ErrorCodes.BUNDLE_UNPACK);
    expect(err.message).toContain('already exists');
    expect(await readdir(join(root, 'out'))).toEqual(['keep.txt']);
  });

  it('a file entry under a path that an earlier entry made a file fails with BUNDLE_UNPACK', async () => {
    const root = await tempDir();
    const archivePath = makeTar(join(root, 'bundle.tar'), [
      { name: 'a', type: 'file', data: 'a' },
      { name: 'a/b.txt', type: 'file', data: 'b' },
    ]);
    const err = await unpackError(archivePath, 'tar', join(root, 'out'));
    expect(err.code).toBe(ErrorCodes.BUNDLE_UNPACK);
    expect(err.message).toContain('"a/b.txt"');
    expect(existsSync(join(root, 'out'))).toBe(false);
  });
});
