import { describe, expect, it } from 'vitest';
import { DEFAULT_TAIL_LIMIT, TailBuffer } from '../../../agent/hooks/tail-buffer.js';

const line = (n: number, c = 'a'): string => `${c.repeat(n - 1)}\n`;

describe('TailBuffer (docs/reference.md section 7.5 examples, with the off-by-one fixed)', () => {
  it('100 lines of 100 chars keep the last 20 (2000 chars)', () => {
    const t = new TailBuffer();
    for (let i = 0; i < 100; i++) t.push(`${String(i).padStart(3, '0')}${'a'.repeat(96)}\n`);
    expect(t.count).toBe(20);
    expect(t.length).toBe(2000);
    expect(t.text().startsWith('080')).toBe(true);
    expect(t.text().endsWith(`099${'a'.repeat(96)}\n`)).toBe(true);
  });

  it('1000 lines of 10 chars keep 204 (2040 chars)', () => {
    const t = new TailBuffer();
    for (let i = 0; i < 1000; i++) t.push(line(10));
    expect(t.count).toBe(204);
    expect(t.text()).toHaveLength(2040);
  });

  it('five 10-char entries then a 2040-char one keep only the 2040-char one (the official agent keeps 2090 chars)', () => {
    const t = new TailBuffer();
    for (let i = 0; i < 5; i++) t.push(line(10, 'b'));
    t.push(line(2040, 'c'));
    expect(t.count).toBe(1);
    expect(t.text()).toBe(line(2040, 'c'));
  });

  it('keeps an entry of exactly the limit, and one of limit-1 alone', () => {
    const t = new TailBuffer();
    t.push(line(10));
    t.push(line(2047, 'd'));
    expect(t.text()).toBe(line(2047, 'd'));
    t.push(line(2048, 'e'));
    expect(t.text()).toBe(line(2048, 'e'));
  });

  it('keeps a newest entry longer than the limit truncated instead of emptying the buffer', () => {
    const t = new TailBuffer();
    t.push('Script - x.sh\n');
    const huge = `[stdout]${'z'.repeat(10_000)}\n`;
    t.push(huge);
    const text = t.text();
    expect(text.length).toBeLessThanOrEqual(DEFAULT_TAIL_LIMIT);
    expect(text.length).toBeGreaterThan(DEFAULT_TAIL_LIMIT - 5);
    expect(text.startsWith('[stdout]zzz')).toBe(true);
    const m = /…\[truncated (\d+) chars\]\n$/.exec(text);
    expect(m).not.toBeNull();
    const kept = text.length - (m?.[0].length ?? 0);
    expect(kept + Number(m?.[1])).toBe(huge.length - 1); // everything but the newline is kept or counted
  });

  it('truncates without a newline when the entry had none, and never splits a surrogate pair', () => {
    const t = new TailBuffer(40);
    t.push(`[stdout]${'😀'.repeat(30)}`);
    const text = t.text();
    expect(text.length).toBeLessThanOrEqual(40);
    expect(text.endsWith(' chars]')).toBe(true);
    expect(text).not.toMatch(/[\ud800-\udbff](?![\udc00-\udfff])/);
  });

  it('stays bounded whatever the volume', () => {
    const t = new TailBuffer();
    for (let i = 0; i < 200_000; i++) t.push(`[stdout]${i}\n`);
    expect(t.length).toBeLessThanOrEqual(DEFAULT_TAIL_LIMIT);
    expect(t.text().endsWith('[stdout]199999\n')).toBe(true);
    expect(t.text()).toHaveLength(t.length);
  });

  it('ignores empty entries', () => {
    const t = new TailBuffer();
    t.push('');
    expect(t.count).toBe(0);
    expect(t.text()).toBe('');
  });
});
