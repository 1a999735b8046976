/**
 * runCleanupFile reads the list from its end a chunk at a time (a million-file install leaves ~100 MB
 * of list): it must execute exactly what parseCleanupList() of the whole text says, in that order,
 * whatever falls on a chunk boundary (multi-byte characters, line breaks, a torn final line).
 */
import { existsSync } from 'node:fs';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseCleanupList, runCleanupFile } from '../../../agent/install/cleanup-file.js';
import type { ToolResult, ToolRunner } from '../../../agent/platform/tool-runner.js';
import { silentLogger, tempDir } from '../../helpers/temp.js';

function recordingTools(): ToolRunner & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    run(_file, args): Promise<ToolResult> {
      calls.push(args[args.length - 1] as string);
      return Promise.resolve({ exitCode: 0, signal: null, stdout: '', stderr: '' });
    },
  };
}

/** The semanage paths parseCleanupList() says to run, in its order. */
function expectedContexts(text: string): string[] {
  return parseCleanupList(text)
    .filter((e) => e.kind === 'semanage')
    .map((e) => e.path);
}

async function run(text: string | Buffer): Promise<{ calls: string[]; removed: number; file: string }> {
  const file = join(await tempDir(), 'g-cleanup');
  await writeFile(file, text);
  const tools = recordingTools();
  const removed = await runCleanupFile(file, { tools, logger: silentLogger() });
  return { calls: tools.calls, removed, file };
}

describe('runCleanupFile reading backwards', () => {
  it('runs 60,000 entries of varied lengths and characters in the order parseCleanupList gives', async () => {
    const lines: string[] = [];
    for (let i = 0; i < 60_000; i++) {
      lines.push(`semanage\0/srv/app/ключ-${i}/${'é'.repeat(i % 97)}${i % 11 === 0 ? ' trailing space ' : ''}`);
      if (i % 1000 === 0) lines.push('', 'relative/line', 'semanage\0');
    }
    const text = `${lines.join('\n')}\n/srv/torn-fin`;
    const { calls, removed, file } = await run(text);
    expect(calls).toEqual(expectedContexts(text));
    expect(calls).toHaveLength(60_000);
    expect(removed).toBe(60_000);
    expect(existsSync(file)).toBe(false);
  });

  it('skips a long run of NUL bytes (a damaged list) and still runs the lines around it', async () => {
    const before = 'semanage\0/srv/before\n';
    const after = 'semanage\0/srv/after\n';
    const text = Buffer.concat([Buffer.from(before), Buffer.alloc(3 * 1024 * 1024), Buffer.from(`\n${after}`)]);
    const { calls } = await run(text);
    expect(calls).toEqual(['/srv/after', '/srv/before']);
    expect(calls).toEqual(expectedContexts(text.toString('utf8')));
  });

  it('a list with no complete line does nothing; an empty list does nothing', async () => {
    expect((await run('semanage\0/srv/torn')).calls).toEqual([]);
    expect((await run('')).calls).toEqual([]);
    expect((await run('\n')).calls).toEqual([]);
  });

  it('removes 5,000 real files and their directories, children first', async () => {
    const root = await tempDir();
    const list: string[] = [];
    for (let d = 0; d < 10; d++) {
      const dir = join(root, `каталог-${d}`);
      await mkdir(dir);
      list.push(dir);
      const files = Array.from({ length: 500 }, (_, f) => join(dir, `f-${f}`));
      await Promise.all(files.map((path) => writeFile(path, '')));
      list.push(...files);
    }
    const file = join(root, 'g-cleanup');
    await writeFile(file, `${list.join('\n')}\n`);
    const removed = await runCleanupFile(file, { tools: recordingTools(), logger: silentLogger() });
    expect(removed).toBe(list.length);
    expect(await readdir(root)).toEqual([]);
  });
});
