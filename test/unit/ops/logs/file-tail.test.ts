import { appendFile, rename, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readError } from '../../../../agent/ops/access.js';
import { FileTail } from '../../../../agent/ops/logs/file-tail.js';
import { tempDir } from '../../../helpers/temp.js';

async function collect(tail: FileTail): Promise<{ lines: string[]; event: string | undefined }> {
  const lines: string[] = [];
  const event = await tail.poll((batch) => {
    lines.push(...batch);
  });
  return { lines, event };
}

describe('FileTail', () => {
  it('waits for the file, then passes only new complete lines', async () => {
    const file = join(await tempDir(), 'scripts.log');
    const tail = new FileTail(file, { chunkBytes: 7 });
    expect(await collect(tail)).toEqual({ lines: [], event: undefined });
    await writeFile(file, 'one\ntwo\nthr');
    expect(await collect(tail)).toEqual({ lines: ['one', 'two'], event: 'opened' });
    await appendFile(file, 'ee\n\nfour');
    expect((await collect(tail)).lines).toEqual(['three', '']);
    expect(tail.takePartial()).toBe('four');
    expect(tail.takePartial()).toBeUndefined();
    await tail.close();
  });

  it('decodes UTF-8 split across reads', async () => {
    const file = join(await tempDir(), 'scripts.log');
    await writeFile(file, 'héllo wörld ✓\n');
    const tail = new FileTail(file, { chunkBytes: 3 });
    expect((await collect(tail)).lines).toEqual(['héllo wörld ✓']);
    await tail.close();
  });

  it('starts again from the top after truncation', async () => {
    const file = join(await tempDir(), 'scripts.log');
    await writeFile(file, 'old line 1\nold line 2\n');
    const tail = new FileTail(file);
    await collect(tail);
    await truncate(file, 0);
    await appendFile(file, 'new\n');
    expect(await collect(tail)).toEqual({ lines: ['new'], event: 'truncated' });
    await tail.close();
  });

  it('finishes a replaced (rotated) file, then reads the new one from its start', async () => {
    const dir = await tempDir();
    const file = join(dir, 'scripts.log');
    await writeFile(file, 'a\n');
    const tail = new FileTail(file);
    await collect(tail);
    await appendFile(file, 'b\nunterminated');
    await rename(file, join(dir, 'scripts.log.0'));
    await writeFile(file, 'c\n');
    expect(await collect(tail)).toEqual({ lines: ['b', 'unterminated', 'c'], event: 'replaced' });
    await tail.close();
  });

  it('passes a line longer than the limit on in pieces', async () => {
    const file = join(await tempDir(), 'scripts.log');
    await writeFile(file, 'x'.repeat(25));
    const tail = new FileTail(file, { chunkBytes: 8, maxLineChars: 10 });
    const { lines } = await collect(tail);
    // Pieces of exactly the limit go out as they fill up; the rest waits for its newline.
    expect(lines).toEqual(['x'.repeat(10), 'x'.repeat(10)]);
    expect(tail.takePartial()).toBe('x'.repeat(5));
    await tail.close();
  });
});

describe('readError', () => {
  it('tells the operator to use sudo on permission errors', () => {
    const eacces = Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' });
    expect(readError('/opt/x/scripts.log', eacces).message).toBe('permission denied reading /opt/x/scripts.log; run with sudo');
    const other = Object.assign(new Error('EIO: i/o error'), { code: 'EIO' });
    expect(readError('/f', other).message).toBe('cannot read /f: EIO: i/o error');
  });
});
