import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { judgeResumeAnswer, PartFile, TruncatedBodyError } from '../../../agent/bundle/download-file.js';
import { tempDir } from '../../helpers/temp.js';

describe('judgeResumeAnswer', () => {
  it('appends a 206 that continues the file to its known end', () => {
    expect(judgeResumeAnswer(100, 206, 'bytes 100-999/1000', 1000)).toEqual({ append: true, totalBytes: 1000 });
    // The first answer was chunked (size unknown): the 206 tells it.
    expect(judgeResumeAnswer(100, 206, 'bytes 100-999/1000', undefined)).toEqual({ append: true, totalBytes: 1000 });
    expect(judgeResumeAnswer(100, 206, 'bytes 100-999/*', undefined)).toEqual({ append: true, totalBytes: undefined });
  });

  it.each([
    [200, 'bytes 100-999/1000', 1000, 'the server ignored the Range request and sent the whole file (HTTP 200)'],
    [206, undefined, 1000, 'the server answered 206 with an unusable Content-Range ""'],
    [206, 'bytes=100-999/1000', 1000, 'the server answered 206 with an unusable Content-Range "bytes=100-999/1000"'],
    [206, 'bytes 0-999/1000', 1000, 'the server answered 206 with Content-Range "bytes 0-999/1000", which does not start at byte 100'],
    [
      206,
      'bytes 100-1999/2000',
      1000,
      'the server answered 206 with Content-Range "bytes 100-1999/2000", which is not of the 1000-byte file',
    ],
    [
      206,
      'bytes 100-499/1000',
      1000,
      'the server answered 206 with Content-Range "bytes 100-499/1000", which does not run to the end of the 1000-byte file',
    ],
  ] as const)('starts over on HTTP %s with Content-Range %s', (status, range, total, reason) => {
    expect(judgeResumeAnswer(100, status, range, total)).toEqual({ append: false, reason });
  });
});

describe('PartFile', () => {
  it('keeps what arrived before a body error, truncates, and takes the target name only on commit', async () => {
    const dir = await tempDir();
    const target = join(dir, 'bundle.tar');
    const part = await PartFile.create(target);
    async function* breaking() {
      yield Buffer.from('hello ');
      throw Object.assign(new Error('aborted'), { code: 'ECONNRESET' });
    }
    await expect(part.append(breaking())).rejects.toThrow('aborted');
    expect(part.bytes).toBe(6);
    await part.append([Buffer.from('world')]);
    expect(await readFile(part.path, 'utf8')).toBe('hello world');
    expect(await readdir(dir)).toEqual([part.path.slice(dir.length + 1)]);
    await expect(part.append([Buffer.from('x')], { expectedBytes: 2 })).rejects.toBeInstanceOf(TruncatedBodyError);
    await part.truncate();
    await part.append([Buffer.from('new')]);
    await part.commit();
    expect(await readdir(dir)).toEqual(['bundle.tar']);
    expect(await readFile(target, 'utf8')).toBe('new');
  });

  it('discard removes the partial file', async () => {
    const dir = await tempDir();
    const part = await PartFile.create(join(dir, 'bundle.tar'));
    await part.append([Buffer.from('partial')]);
    await part.discard();
    await part.discard();
    expect(await readdir(dir)).toEqual([]);
  });
});
