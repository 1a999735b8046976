/**
 * Hostile bundles: every archive here tries to write outside the unpack directory. Each must fail
 * with PATH_ESCAPE naming the entry, leave the outside untouched, and remove the partial directory.
 */
import { existsSync } from 'node:fs';
import { lstat, mkdir, readdir, readFile, readlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { unpackArchive } from '../../agent/bundle/unpack.js';
import type { ArchiveType } from '../../agent/spec/bundle-type.js';
import { AgentError, ErrorCodes } from '../../agent/errors.js';
import { silentLogger, tempDir } from '../helpers/temp.js';
import { makeTar, makeZip, type SpecEntry } from '../helpers/archive-builders.js';

interface Sandbox {
  root: string;
  /** Where the deployment lives: destDir is <work>/deployment-archive, so `..` lands in work. */
  work: string;
  destDir: string;
  /** A directory outside destDir that attacks aim at. */
  outside: string;
  /** A file outside destDir whose content must never change. */
  secret: string;
}

async function sandbox(): Promise<Sandbox> {
  const root = await tempDir('cda-hostile-');
  const work = join(root, 'work');
  const outside = join(root, 'outside');
  await mkdir(work);
  await mkdir(outside);
  const secret = join(outside, 'secret.txt');
  await writeFile(secret, 'original secret\n');
  return { root, work, destDir: join(work, 'deployment-archive'), outside, secret };
}

function build(type: ArchiveType, path: string, entries: SpecEntry[]): string {
  return type === 'zip' ? makeZip(path, entries) : makeTar(path, entries, { gzip: type === 'tgz' });
}

async function expectEscape(box: Sandbox, type: ArchiveType, entries: SpecEntry[], entryName: string): Promise<AgentError> {
  const archivePath = build(type, join(box.root, `bundle.${type}`), entries);
  const err: unknown = await unpackArchive({ archivePath, type, destDir: box.destDir, logger: silentLogger() }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AgentError);
  const agentError = err as AgentError;
  expect(agentError.code).toBe(ErrorCodes.PATH_ESCAPE);
  expect(agentError.message).toContain(`Archive entry "${entryName}" in ${archivePath}`);
  // Nothing outside changed, and the partial unpack is gone.
  expect(existsSync(box.destDir)).toBe(false);
  expect(await readdir(box.work)).toEqual([]);
  expect((await readdir(box.outside)).sort()).toEqual(['secret.txt']);
  expect(await readFile(box.secret, 'utf8')).toBe('original secret\n');
  return agentError;
}

const BENIGN: SpecEntry = { name: 'appspec.yml', type: 'file', data: 'version: 0.0\n' };

describe.each(['tar', 'tgz', 'zip'] as const)('hostile %s archives', (type) => {
  it('rejects a "../" entry', async () => {
    const box = await sandbox();
    const err = await expectEscape(box, type, [BENIGN, { name: '../evil.txt', type: 'file', data: 'evil' }], '../evil.txt');
    expect(err.message).toContain('would be written outside the deployment archive directory');
    expect(existsSync(join(box.work, 'evil.txt'))).toBe(false);
  });

  it('rejects a "dir/../../" entry', async () => {
    const box = await sandbox();
    await expectEscape(
      box,
      type,
      [BENIGN, { name: 'scripts/../../../outside/evil.txt', type: 'file', data: 'evil' }],
      'scripts/../../../outside/evil.txt',
    );
  });

  it('rejects an absolute entry', async () => {
    const box = await sandbox();
    const name = join(box.outside, 'abs.txt');
    await expectEscape(box, type, [BENIGN, { name, type: 'file', data: 'evil' }], name);
    expect(existsSync(name)).toBe(false);
  });

  it('rejects a file written through a symlink to an absolute outside directory', async () => {
    const box = await sandbox();
    const err = await expectEscape(
      box,
      type,
      [BENIGN, { name: 'link', type: 'symlink', target: box.outside }, { name: 'link/evil.txt', type: 'file', data: 'evil' }],
      'link/evil.txt',
    );
    expect(err.message).toContain('through the symbolic link "link"');
  });

  it('rejects a file written through a relative "../.." symlink, nested', async () => {
    const box = await sandbox();
    await expectEscape(
      box,
      type,
      [BENIGN, { name: 'a/up', type: 'symlink', target: '../../../outside' }, { name: 'a/up/sub/evil.txt', type: 'file', data: 'evil' }],
      'a/up/sub/evil.txt',
    );
  });

  it('rejects a directory entry made through a symlink', async () => {
    const box = await sandbox();
    await expectEscape(
      box,
      type,
      [
        { name: 'link', type: 'symlink', target: box.outside },
        { name: 'link/newdir/', type: 'dir' },
      ],
      'link/newdir/',
    );
  });

  it('rejects a symlink entry placed through another symlink', async () => {
    const box = await sandbox();
    await expectEscape(
      box,
      type,
      [
        { name: 'link', type: 'symlink', target: box.outside },
        { name: 'link/planted', type: 'symlink', target: '/etc/passwd' },
      ],
      'link/planted',
    );
  });

  it('rejects a FIFO entry', async () => {
    const box = await sandbox();
    const err = await expectEscape(box, type, [BENIGN, { name: 'pipe', type: 'fifo' }], 'pipe');
    expect(err.message).toContain('FIFO');
  });

  it('rejects a character device entry', async () => {
    const box = await sandbox();
    const err = await expectEscape(box, type, [BENIGN, { name: 'null', type: 'chardev' }], 'null');
    expect(err.message).toContain('character device');
  });

  it('allows a symlink that points outside, and creates it as a link only', async () => {
    const box = await sandbox();
    const archivePath = build(type, join(box.root, `bundle.${type}`), [
      BENIGN,
      { name: 'abs-link', type: 'symlink', target: box.secret },
      { name: 'rel-link', type: 'symlink', target: '../../outside' },
    ]);

    const result = await unpackArchive({ archivePath, type, destDir: box.destDir, logger: silentLogger() });

    expect(result.entries).toBe(3);
    expect(await readlink(join(box.destDir, 'abs-link'))).toBe(box.secret);
    expect(await readlink(join(box.destDir, 'rel-link'))).toBe('../../outside');
    expect(await readFile(box.secret, 'utf8')).toBe('original secret\n');
  });

  it('replaces an earlier symlink of the same name instead of writing through it', async () => {
    const box = await sandbox();
    const archivePath = build(type, join(box.root, `bundle.${type}`), [
      { name: 'config', type: 'symlink', target: box.secret },
      { name: 'config', type: 'file', data: 'replaced' },
    ]);

    await unpackArchive({ archivePath, type, destDir: box.destDir, logger: silentLogger() });

    expect((await lstat(join(box.destDir, 'config'))).isFile()).toBe(true);
    expect(await readFile(join(box.destDir, 'config'), 'utf8')).toBe('replaced');
    expect(await readFile(box.secret, 'utf8')).toBe('original secret\n');
  });
});

describe.each(['tar', 'tgz'] as const)('hostile %s hard links', (type) => {
  it('rejects a hard link to an absolute outside file, before anything is written through it', async () => {
    const box = await sandbox();
    const err = await expectEscape(
      box,
      type,
      [BENIGN, { name: 'stolen', type: 'hardlink', target: box.secret }, { name: 'stolen', type: 'file', data: 'overwritten' }],
      'stolen',
    );
    expect(err.message).toContain(`is a hard link to "${box.secret}"`);
  });

  it('rejects a hard link whose target climbs out with ".."', async () => {
    const box = await sandbox();
    await expectEscape(box, type, [BENIGN, { name: 'stolen', type: 'hardlink', target: '../../outside/secret.txt' }], 'stolen');
  });

  it('rejects a hard link whose target goes through a symlink', async () => {
    const box = await sandbox();
    await expectEscape(
      box,
      type,
      [
        { name: 'link', type: 'symlink', target: box.outside },
        { name: 'stolen', type: 'hardlink', target: 'link/secret.txt' },
      ],
      'stolen',
    );
  });

  it('rejects a hard link to a symlink', async () => {
    const box = await sandbox();
    await expectEscape(
      box,
      type,
      [
        { name: 'link', type: 'symlink', target: box.secret },
        { name: 'stolen', type: 'hardlink', target: 'link' },
      ],
      'stolen',
    );
  });

  it('rejects a hard link to a path the archive never wrote (BUNDLE_UNPACK)', async () => {
    const box = await sandbox();
    const archivePath = makeTar(join(box.root, 'bundle.tar'), [{ name: 'h', type: 'hardlink', target: 'missing.txt' }], {
      gzip: type === 'tgz',
    });
    await expect(unpackArchive({ archivePath, type, destDir: box.destDir, logger: silentLogger() })).rejects.toMatchObject({
      code: ErrorCodes.BUNDLE_UNPACK,
      message: expect.stringContaining('"h"') as unknown,
    });
    expect(existsSync(box.destDir)).toBe(false);
  });
});

describe('hostile zip names rejected by yauzl itself', () => {
  it('wraps yauzl\'s "invalid relative path" into PATH_ESCAPE naming the entry', async () => {
    const box = await sandbox();
    const err = await expectEscape(box, 'zip', [BENIGN, { name: 'ok/../../evil.txt', type: 'file', data: 'evil' }], 'ok/../../evil.txt');
    expect(err.cause).toBeInstanceOf(Error);
  });

  it('treats backslashes as separators, so "..\\\\evil.txt" is an escape too', async () => {
    const box = await sandbox();
    await expectEscape(box, 'zip', [{ name: '..\\evil.txt', type: 'file', data: 'evil' }], '../evil.txt');
  });
});
