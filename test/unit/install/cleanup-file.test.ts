/** The cleanup list: parsing (docs/reference.md section 10.6 cases), execution against real temp files, the recorder. */
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CleanupRecorder, executeCleanup, parseCleanupList, runCleanupFile } from '../../../agent/install/cleanup-file.js';
import type { ToolResult, ToolRunner } from '../../../agent/platform/tool-runner.js';
import { silentLogger, tempDir } from '../../helpers/temp.js';

function recordingTools(exitCode = 0): ToolRunner & { calls: string[][] } {
  const calls: string[][] = [];
  return {
    calls,
    run(file, args): Promise<ToolResult> {
      calls.push([file, ...args]);
      return Promise.resolve({ exitCode, signal: null, stdout: '', stderr: '' });
    },
  };
}

describe('parseCleanupList', () => {
  it('an empty file means no commands', () => {
    expect(parseCleanupList('')).toEqual([]);
  });

  it('entries come back in reverse order', () => {
    expect(parseCleanupList('/a\n/b\n')).toEqual([
      { kind: 'path', path: '/b' },
      { kind: 'path', path: '/a' },
    ]);
  });

  it('a torn final line (no newline) is dropped', () => {
    expect(parseCleanupList('/a\n/b\n/man')).toEqual([
      { kind: 'path', path: '/b' },
      { kind: 'path', path: '/a' },
    ]);
    expect(parseCleanupList('/only-torn')).toEqual([]);
  });

  it('semanage lines carry the realpath after the NUL', () => {
    expect(parseCleanupList('/a\nsemanage\0/srv/x y\n')).toEqual([
      { kind: 'semanage', path: '/srv/x y' },
      { kind: 'path', path: '/a' },
    ]);
  });

  it('keeps spaces in paths, skips blank and relative lines', () => {
    expect(parseCleanupList('/a b \n\nrelative\n')).toEqual([{ kind: 'path', path: '/a b ' }]);
  });
});

describe('executeCleanup and runCleanupFile', () => {
  it('removes files, symlinks and empty directories, keeps non-empty ones, ignores missing, runs semanage -d', async () => {
    const root = await tempDir();
    const d = join(root, 'd');
    const kept = join(root, 'kept');
    await mkdir(join(d, 'sub'), { recursive: true });
    await mkdir(kept);
    await writeFile(join(d, 'f'), 'x');
    await writeFile(join(d, 'sub', 'g'), 'x');
    await writeFile(join(kept, 'foreign'), 'not ours');
    await symlink('/etc/passwd', join(d, 'link'));
    const list = [d, join(d, 'f'), join(d, 'sub'), join(d, 'sub', 'g'), join(d, 'link'), kept, join(root, 'never-created')]
      .map((p) => `${p}\n`)
      .join('');
    const file = join(root, 'group-cleanup');
    await writeFile(file, `${list}semanage\0/srv/ctx\n`);
    const tools = recordingTools();

    const removed = await runCleanupFile(file, { tools, logger: silentLogger() });

    expect(existsSync(d)).toBe(false);
    expect(existsSync('/etc/passwd')).toBe(true);
    expect(await readFile(join(kept, 'foreign'), 'utf8')).toBe('not ours');
    expect(existsSync(file)).toBe(false);
    expect(tools.calls).toEqual([['semanage', 'fcontext', '-d', '/srv/ctx']]);
    expect(removed).toBe(6); // d, f, sub, g, link, the context
  });

  it('temp names left by a crash are removed, a dangling temp symlink included; missing ones are skipped', async () => {
    const root = await tempDir();
    const tempFile = join(root, '.cda-0123456789ab-7.tmp');
    const tempLink = join(root, '.cda-0123456789ab-8.tmp');
    await writeFile(tempFile, 'partial');
    await symlink(join(root, 'nowhere'), tempLink);
    const entries = [tempFile, tempLink, join(root, '.cda-0123456789ab-9.tmp'), join(root, 'gone')].map((path) => ({
      kind: 'path' as const,
      path,
    }));
    expect(await executeCleanup(entries, { tools: recordingTools(), logger: silentLogger() })).toBe(2);
    expect(await readdir(root)).toEqual([]);
  });

  it('no cleanup file: nothing to do', async () => {
    const root = await tempDir();
    expect(await runCleanupFile(join(root, 'missing-cleanup'), { tools: recordingTools(), logger: silentLogger() })).toBe(0);
  });

  it('a failing semanage -d is ignored', async () => {
    const tools = recordingTools(1);
    expect(await executeCleanup([{ kind: 'semanage', path: '/x' }], { tools, logger: silentLogger() })).toBe(0);
    expect(tools.calls).toHaveLength(1);
  });
});

describe('CleanupRecorder', () => {
  it('appends batches in call order, each ending with a newline', async () => {
    const root = await tempDir();
    const file = join(root, 'g-cleanup');
    await writeFile(file, 'stale\n');
    const recorder = await CleanupRecorder.create(file);
    expect(await readFile(file, 'utf8')).toBe('');
    const first = recorder.record([
      { kind: 'path', path: '/a' },
      { kind: 'path', path: '/b' },
    ]);
    const second = recorder.record([{ kind: 'semanage', path: '/c' }]);
    await Promise.all([first, second]);
    expect(await readFile(file, 'utf8')).toBe('/a\n/b\nsemanage\0/c\n');
    await recorder.close();
    expect(parseCleanupList(await readFile(file, 'utf8'))).toHaveLength(3);
  });
});
