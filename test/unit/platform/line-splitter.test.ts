import { describe, expect, it } from 'vitest';
import { LineSplitter } from '../../../agent/platform/line-splitter.js';

function split(chunks: Array<string | Buffer>, max?: number): string[] {
  const out: string[] = [];
  const s = new LineSplitter((l) => out.push(l), max);
  for (const c of chunks) s.push(typeof c === 'string' ? Buffer.from(c) : c);
  s.end();
  return out;
}

describe('LineSplitter', () => {
  it('emits lines with their newline, across chunks', () => {
    expect(split(['a\nb', 'c\n', '\nd'])).toEqual(['a\n', 'bc\n', '\n', 'd']);
  });

  it('emits nothing for empty input', () => {
    expect(split([])).toEqual([]);
  });

  it('decodes UTF-8 split across chunks', () => {
    const bytes = Buffer.from('é€\n');
    expect(split([bytes.subarray(0, 1), bytes.subarray(1, 3), bytes.subarray(3)])).toEqual(['é€\n']);
  });

  it('emits long lines in pieces of at most maxLineLength', () => {
    expect(split(['abcdefghij\nxy'], 4)).toEqual(['abcd', 'efgh', 'ij\n', 'xy']);
    expect(split(['abcdef', 'ghij'], 4)).toEqual(['abcd', 'efgh', 'ij']);
  });

  it('keeps memory bounded for an endless line', () => {
    const out: string[] = [];
    const s = new LineSplitter((l) => out.push(l), 1000);
    for (let i = 0; i < 100; i++) s.push(Buffer.alloc(999, 'q'));
    expect(out.every((l) => l.length === 1000)).toBe(true);
    expect(out).toHaveLength(99);
  });
});
