import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, lstat, mkdir, readdir, readFile, readlink, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { copyDirectoryBundle, linkLocalFileBundle } from '../../../agent/bundle/local-fetcher.js';
import { AgentError, ErrorCodes } from '../../../agent/errors.js';
import { tempDir } from '../../helpers/temp.js';

const MTIME = new Date('2022-02-03T04:05:06Z');

async function rejection(promise: Promise<unknown>): Promise<AgentError> {
  const err: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AgentError);
  return err as AgentError;
}

describe('copyDirectoryBundle', () => {
  it('copies files, nested and empty directories, modes, mtimes, and symlinks as symlinks', async () => {
    const root = await tempDir();
    const src = join(root, 'src');
    const outside = join(root, 'outside');
    await mkdir(join(src, 'scripts/lib'), { recursive: true });
    await mkdir(join(src, 'empty'));
    await mkdir(outside);
    await writeFile(join(outside, 'big.txt'), 'not to be copied');
    await writeFile(join(src, 'appspec.yml'), 'version: 0.0\n');
    await writeFile(join(src, 'scripts/start.sh'), '#!/bin/sh\n');
    await chmod(join(src, 'scripts/start.sh'), 0o755);
    await writeFile(join(src, 'scripts/lib/x.sh'), 'x');
    await chmod(join(src, 'scripts/lib/x.sh'), 0o700);
    await chmod(join(src, 'scripts/lib'), 0o750);
    await symlink('scripts/start.sh', join(src, 'start'));
    await symlink(outside, join(src, 'outside-link'));
    await utimes(join(src, 'scripts/start.sh'), MTIME, MTIME);
    await utimes(join(src, 'scripts'), MTIME, MTIME);
    const dest = join(root, 'deployment', 'deployment-archive');

    const count = await copyDirectoryBundle(src, dest);

    expect(count).toBe(8);
    expect((await readdir(dest)).sort()).toEqual(['appspec.yml', 'empty', 'outside-link', 'scripts', 'start']);
    expect(await readFile(join(dest, 'scripts/start.sh'), 'utf8')).toBe('#!/bin/sh\n');
    expect((await stat(join(dest, 'scripts/start.sh'))).mode & 0o7777).toBe(0o755);
    expect((await stat(join(dest, 'scripts/lib/x.sh'))).mode & 0o7777).toBe(0o700);
    expect((await stat(join(dest, 'scripts/lib'))).mode & 0o7777).toBe(0o750);
    expect((await stat(join(dest, 'scripts/start.sh'))).mtime.getTime()).toBe(MTIME.getTime());
    expect((await stat(join(dest, 'scripts'))).mtime.getTime()).toBe(MTIME.getTime());
    expect(await readlink(join(dest, 'start'))).toBe('scripts/start.sh');
    expect((await lstat(join(dest, 'outside-link'))).isSymbolicLink()).toBe(true);
    expect(await readlink(join(dest, 'outside-link'))).toBe(outside);
    expect(await readdir(join(dest, 'empty'))).toEqual([]);
  });

  it('copies 2,000 files with bounded concurrency', async () => {
    const root = await tempDir();
    const src = join(root, 'src');
    for (let d = 0; d < 20; d++) {
      await mkdir(join(src, `d${d}`), { recursive: true });
      await Promise.all(Array.from({ length: 100 }, (_, f) => writeFile(join(src, `d${d}`, `f${f}.txt`), `${d}/${f}`)));
    }
    const dest = join(root, 'dest');

    expect(await copyDirectoryBundle(src, dest)).toBe(2020);
    expect(await readFile(join(dest, 'd7/f42.txt'), 'utf8')).toBe('7/42');
    expect((await readdir(join(dest, 'd19'))).length).toBe(100);
  });

  it('skips FIFOs instead of blocking on them', async () => {
    const root = await tempDir();
    const src = join(root, 'src');
    await mkdir(src);
    await writeFile(join(src, 'a.txt'), 'a');
    execFileSync('mkfifo', [join(src, 'pipe')]);
    const dest = join(root, 'dest');
    expect(await copyDirectoryBundle(src, dest)).toBe(1);
    expect(await readdir(dest)).toEqual(['a.txt']);
  });

  it('fails with BUNDLE_FETCH when the source is missing or not a directory', async () => {
    const root = await tempDir();
    const missing = await rejection(copyDirectoryBundle(join(root, 'nope'), join(root, 'dest')));
    expect(missing.code).toBe(ErrorCodes.BUNDLE_FETCH);
    expect(missing.message).toContain(join(root, 'nope'));
    await writeFile(join(root, 'file'), 'x');
    const notDir = await rejection(copyDirectoryBundle(join(root, 'file'), join(root, 'dest')));
    expect(notDir.code).toBe(ErrorCodes.BUNDLE_FETCH);
    expect(existsSync(join(root, 'dest'))).toBe(false);
  });

  it('fails with BUNDLE_FETCH when the destination exists, leaving it alone', async () => {
    const root = await tempDir();
    await mkdir(join(root, 'src'));
    await mkdir(join(root, 'dest'));
    await writeFile(join(root, 'dest/keep'), 'k');
    const err = await rejection(copyDirectoryBundle(join(root, 'src'), join(root, 'dest')));
    expect(err.code).toBe(ErrorCodes.BUNDLE_FETCH);
    expect(await readdir(join(root, 'dest'))).toEqual(['keep']);
  });

  it('refuses a bundle directory that contains the destination (even through a symlink) before copying anything', async () => {
    const root = await tempDir();
    await writeFile(join(root, 'appspec.yml'), 'version: 0.0\nos: linux\n');
    const link = join(await tempDir(), 'bundle-link');
    await symlink(root, link);
    for (const src of [root, link]) {
      const dest = join(root, 'state', 'd-X', 'deployment-archive');
      const err = await rejection(copyDirectoryBundle(src, dest));
      expect(err.code).toBe(ErrorCodes.BUNDLE_FETCH);
      expect(err.message).toContain(`contains the deployment archive directory ${dest}`);
      expect(err.message).toContain(':root_dir:');
      expect(existsSync(dest)).toBe(false);
    }
    // A sibling whose name only starts with the bundle's name is not inside it.
    await mkdir(join(root, 'app'));
    expect(await copyDirectoryBundle(join(root, 'app'), join(root, 'app-copy', 'deployment-archive'))).toBe(0);
  });
});

describe('linkLocalFileBundle', () => {
  it('makes the bundle file an absolute symlink to the location', async () => {
    const root = await tempDir();
    await writeFile(join(root, 'app.tgz'), 'archive bytes');
    const bundle = join(root, 'deploy/bundle.tar');

    await linkLocalFileBundle(join(root, 'app.tgz'), bundle);

    expect((await lstat(bundle)).isSymbolicLink()).toBe(true);
    expect(await readlink(bundle)).toBe(join(root, 'app.tgz'));
    expect(await readFile(bundle, 'utf8')).toBe('archive bytes');
  });

  it('replaces an existing bundle file or link', async () => {
    const root = await tempDir();
    await writeFile(join(root, 'old.tgz'), 'old');
    await writeFile(join(root, 'new.tgz'), 'new');
    const bundle = join(root, 'bundle.tar');
    await writeFile(bundle, 'stale download');

    await linkLocalFileBundle(join(root, 'old.tgz'), bundle);
    await linkLocalFileBundle(join(root, 'new.tgz'), bundle);

    expect(await readlink(bundle)).toBe(join(root, 'new.tgz'));
    expect(await readFile(bundle, 'utf8')).toBe('new');
    expect(await readFile(join(root, 'old.tgz'), 'utf8')).toBe('old');
  });

  it('resolves a relative location against the current directory', async () => {
    const root = await tempDir();
    await writeFile(join(root, 'rel.zip'), 'zip bytes');
    const bundle = join(root, 'out/bundle.tar');
    const cwd = process.cwd();
    const relative = join(...Array(cwd.split('/').length - 1).fill('..'), root, 'rel.zip');

    await linkLocalFileBundle(relative, bundle);

    expect(await readlink(bundle)).toBe(join(root, 'rel.zip'));
  });

  it('falls back to a copy when the symlink cannot be made', async () => {
    const root = await tempDir();
    await writeFile(join(root, 'app.zip'), 'zip bytes');
    const bundle = join(root, 'bundle.tar');
    await writeFile(bundle, 'stale');
    const attempts: string[] = [];
    const failingSymlink = (target: string, path: string): Promise<void> => {
      attempts.push(`${target} -> ${path}`);
      return Promise.reject(Object.assign(new Error('EPERM: operation not permitted, symlink'), { code: 'EPERM' }));
    };

    await linkLocalFileBundle(join(root, 'app.zip'), bundle, { symlink: failingSymlink });

    expect(attempts).toEqual([`${join(root, 'app.zip')} -> ${bundle}`]);
    expect((await lstat(bundle)).isFile()).toBe(true);
    expect(await readFile(bundle, 'utf8')).toBe('zip bytes');
  });

  it('fails with BUNDLE_FETCH when the location is missing or a directory', async () => {
    const root = await tempDir();
    const missing = await rejection(linkLocalFileBundle(join(root, 'nope.zip'), join(root, 'bundle.tar')));
    expect(missing.code).toBe(ErrorCodes.BUNDLE_FETCH);
    expect(missing.message).toContain(join(root, 'nope.zip'));
    const dir = await rejection(linkLocalFileBundle(root, join(root, 'bundle.tar')));
    expect(dir.code).toBe(ErrorCodes.BUNDLE_FETCH);
    expect(existsSync(join(root, 'bundle.tar'))).toBe(false);
  });
});
