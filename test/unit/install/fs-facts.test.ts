/** Fact gathering against real temp files: the listing keeps symlinks unfollowed, probes skip what cannot exist. */
import { chmod, mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AgentError, ErrorCodes } from '../../../agent/errors.js';
import { gatherFacts, listSources, probePath } from '../../../agent/install/fs-facts.js';
import { resolveMappings } from '../../../agent/install/install-plan.js';
import { tempDir } from '../../helpers/temp.js';
import { appSpec } from './appspec-builder.js';

describe('gatherFacts', () => {
  it('reports what exists, follows symlinks for isDirectory, and marks setgid directories', async () => {
    const root = await tempDir();
    await mkdir(join(root, 'd'));
    await writeFile(join(root, 'f'), 'x');
    await symlink(join(root, 'd'), join(root, 'to-dir'));
    await symlink(join(root, 'nowhere'), join(root, 'dangling'));
    await mkdir(join(root, 'sg'), { mode: 0o2775 });
    await chmod(join(root, 'sg'), 0o2775);
    const probes = ['d', 'f', 'to-dir', 'dangling', 'missing', 'sg'].map((p) => join(root, p));
    const facts = await gatherFacts([root, ...probes]);
    expect(facts.get(join(root, 'd'))).toEqual({ isDirectory: true, setgid: false });
    expect(facts.get(join(root, 'f'))).toEqual({ isDirectory: false });
    expect(facts.get(join(root, 'to-dir'))?.isDirectory).toBe(true);
    expect(facts.get(join(root, 'dangling'))).toEqual({ isDirectory: false });
    expect(facts.has(join(root, 'missing'))).toBe(false);
    expect(facts.get(join(root, 'sg'))?.setgid).toBe(true);
  });

  it('does not probe below a missing or non-directory parent', async () => {
    const root = await tempDir();
    await writeFile(join(root, 'file'), 'x');
    const probes = [
      root,
      join(root, 'new'),
      join(root, 'new', 'a'),
      join(root, 'new', 'a', 'b'),
      join(root, 'file'),
      join(root, 'file', 'c'),
    ];
    const calls: string[] = [];
    const counting = (path: string) => {
      calls.push(path);
      return probePath(path);
    };
    const facts = await gatherFacts(probes, counting);
    expect([...facts.keys()].sort()).toEqual([root, join(root, 'file')]);
    expect(calls.sort()).toEqual([root, join(root, 'file'), join(root, 'new')]);
  });
});

describe('listSources', () => {
  it('lists directories recursively with dotfiles; symlinks are not followed', async () => {
    const root = await tempDir();
    const archive = join(root, 'archive');
    await mkdir(join(archive, 'app', 'sub'), { recursive: true });
    await writeFile(join(archive, 'app', '.hidden'), 'x');
    await writeFile(join(archive, 'app', 'sub', 'f'), 'x');
    await symlink('sub', join(archive, 'app', 'link'));
    const spec = appSpec({
      files: [
        ['app', '/x'],
        ['app/link', '/y'],
        ['missing', '/z'],
      ],
    });
    const [app, link, missing] = await listSources(spec, archive, resolveMappings(spec, archive, root));
    expect(app?.kind).toBe('directory');
    const entries = app?.kind === 'directory' ? app.entries : [];
    expect(entries.map((e) => [e.name, e.node.kind]).sort()).toEqual([
      ['.hidden', 'file'],
      ['link', 'symlink'],
      ['sub', 'directory'],
    ]);
    expect(link).toEqual({ kind: 'symlink' });
    expect(missing).toBeUndefined();
  });

  it('rejects a source reached through a symlink that leads outside the archive', async () => {
    const root = await tempDir();
    const archive = join(root, 'archive');
    await mkdir(archive);
    await mkdir(join(root, 'outside'));
    await writeFile(join(root, 'outside', 'secret'), 'x');
    await symlink(join(root, 'outside'), join(archive, 'out'));
    const spec = appSpec({ files: [['out/secret', '/x']] });
    const err: unknown = await listSources(spec, archive, resolveMappings(spec, archive, root)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AgentError);
    expect((err as AgentError).code).toBe(ErrorCodes.PATH_ESCAPE);
  });

  it('a source that is itself a symlink out of the archive is a link to copy, and "..hidden" names are inside', async () => {
    const root = await tempDir();
    const archive = join(root, 'archive');
    await mkdir(join(archive, '..hidden'), { recursive: true });
    await writeFile(join(archive, '..hidden', 'f'), 'x');
    await symlink(root, join(archive, 'link-out'));
    await symlink('nowhere', join(archive, 'dangling'));
    const spec = appSpec({
      files: [
        ['..hidden', '/x'],
        ['link-out', '/y'],
        ['dangling', '/z'],
        ['/', '/w'],
      ],
    });
    const [hidden, linkOut, dangling, all] = await listSources(spec, archive, resolveMappings(spec, archive, root));
    expect(hidden).toEqual({ kind: 'directory', entries: [{ name: 'f', node: { kind: 'file' } }] });
    expect(linkOut).toEqual({ kind: 'symlink' });
    expect(dangling).toEqual({ kind: 'symlink' });
    expect(all?.kind).toBe('directory');
  });

  it('rejects a source below a symlinked directory inside the archive that points outside, however deep', async () => {
    const root = await tempDir();
    const archive = join(root, 'archive');
    await mkdir(join(root, 'outside', 'deep'), { recursive: true });
    await writeFile(join(root, 'outside', 'deep', 'f'), 'x');
    await mkdir(archive);
    await symlink('..', join(archive, 'up'));
    const spec = appSpec({ files: [['up/outside/deep/f', '/x']] });
    const err: unknown = await listSources(spec, archive, resolveMappings(spec, archive, root)).catch((e: unknown) => e);
    expect((err as AgentError).code).toBe(ErrorCodes.PATH_ESCAPE);
  });
});
