import { chmod, mkdir, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { findScript, makeExecutable } from '../../../agent/hooks/script-path.js';
import { tempDir } from '../../helpers/temp.js';

async function revision(): Promise<{ dir: string; archive: string }> {
  const dir = await tempDir();
  const archive = join(dir, 'deployment-archive');
  await mkdir(join(archive, 'scripts'), { recursive: true });
  await writeFile(join(archive, 'scripts', 'run.sh'), '#!/bin/sh\n', { mode: 0o755 });
  await writeFile(join(archive, 'scripts', 'plain.sh'), '#!/bin/sh\n', { mode: 0o644 });
  await writeFile(join(dir, 'outside.sh'), '#!/bin/sh\n', { mode: 0o755 });
  return { dir, archive };
}

describe('findScript', () => {
  it('resolves a location inside the revision, a leading "/" included', async () => {
    const { archive } = await revision();
    expect(await findScript(archive, 'scripts/run.sh')).toEqual({ ok: true, path: join(archive, 'scripts/run.sh'), executable: true });
    expect(await findScript(archive, '/scripts/run.sh')).toEqual({ ok: true, path: join(archive, 'scripts/run.sh'), executable: true });
    expect(await findScript(archive, 'scripts/plain.sh')).toMatchObject({ ok: true, executable: false });
  });

  it('reports a missing script with its absolute path (code 1)', async () => {
    const { archive } = await revision();
    expect(await findScript(archive, 'scripts/missing.sh')).toEqual({
      ok: false,
      errorCode: 1,
      message: `Script does not exist at specified location: ${join(archive, 'scripts/missing.sh')}`,
    });
  });

  it('refuses locations that leave the revision, lexically or through a symlink', async () => {
    const { dir, archive } = await revision();
    await symlink(join(dir, 'outside.sh'), join(archive, 'scripts', 'escape.sh'));
    await symlink(dir, join(archive, 'up'));
    for (const location of ['../outside.sh', 'scripts/../../outside.sh', 'scripts/escape.sh', 'up/outside.sh']) {
      const found = await findScript(archive, location);
      expect(found).toMatchObject({ ok: false, errorCode: 1 });
      expect(found.ok ? '' : found.message).toMatch(/\(the location resolves outside the revision directory\)$/);
    }
  });

  it.each(['..hidden/run.sh', '/..hidden/run.sh', 'scripts/..hidden.sh', 'with space/run me.sh'])(
    'a name that starts with ".." or has spaces is inside: %s',
    async (location) => {
      const { archive } = await revision();
      const path = join(archive, location);
      await mkdir(join(path, '..'), { recursive: true });
      await writeFile(path, '#!/bin/sh\n', { mode: 0o755 });
      expect(await findScript(archive, location)).toEqual({ ok: true, path, executable: true });
    },
  );

  it.each(['/', '.', '', 'scripts/..'])('the revision directory itself (%j) is a missing script, not an escape', async (location) => {
    const { archive } = await revision();
    expect(await findScript(archive, location)).toEqual({
      ok: false,
      errorCode: 1,
      message: `Script does not exist at specified location: ${archive}`,
    });
  });

  it('a dangling or looping symlink is a missing script', async () => {
    const { archive } = await revision();
    await symlink('nowhere', join(archive, 'scripts', 'dangling.sh'));
    await symlink('loop.sh', join(archive, 'scripts', 'loop.sh'));
    for (const location of ['scripts/dangling.sh', 'scripts/loop.sh']) {
      expect(await findScript(archive, location)).toEqual({
        ok: false,
        errorCode: 1,
        message: `Script does not exist at specified location: ${join(archive, location)}`,
      });
    }
  });

  it('accepts a symlink that stays inside the revision', async () => {
    const { archive } = await revision();
    await symlink('run.sh', join(archive, 'scripts', 'alias.sh'));
    expect(await findScript(archive, 'scripts/alias.sh')).toMatchObject({ ok: true, executable: true });
  });
});

describe('makeExecutable', () => {
  it('adds x where r is', async () => {
    const { archive } = await revision();
    const path = join(archive, 'scripts', 'plain.sh');
    expect(await makeExecutable(path)).toBe(true);
    expect((await stat(path)).mode & 0o777).toBe(0o755);
    await chmod(path, 0o600);
    expect(await makeExecutable(path)).toBe(true);
    expect((await stat(path)).mode & 0o777).toBe(0o700);
  });

  it('fails for a file that does not exist', async () => {
    const { archive } = await revision();
    expect(await makeExecutable(join(archive, 'nope'))).toBe(false);
  });
});
