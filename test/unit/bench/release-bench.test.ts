import { describe, expect, it } from 'vitest';
import { alternate, formatTable, median, newestRuntime, parseProcStatus } from '../../../bench/release-bench.js';

describe('release bench helpers', () => {
  it('takes the middle of an odd count and the mean of the middle two of an even one', () => {
    expect(median([5, 1, 3])).toBe(3);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNaN();
  });

  it('reads RSS, peak and the private part from /proc/<pid>/status', () => {
    const status = 'Name:\tnode\nVmHWM:\t   90000 kB\nVmRSS:\t   81000 kB\nRssAnon:\t   25000 kB\nRssFile:\t   56000 kB\n';
    expect(parseProcStatus(status)).toEqual({ rssKb: 81000, hwmKb: 90000, anonKb: 25000 });
    expect(parseProcStatus('Name:\tnode\n').rssKb).toBeNaN();
  });

  it('picks the newest cached runtime of the arch, comparing versions numerically', () => {
    const names = ['20.18.1-x64', '26.2.0-x64', '26.12.1-arm64', '26.12.1-x64', 'junk', '9.99.99-x64'];
    expect(newestRuntime(names, 'x64')).toEqual({ name: '26.12.1-x64', version: '26.12.1' });
    expect(newestRuntime(['26.2.0-x64', '26.12.0-x64', '26.12.1-x64'].reverse(), 'x64')?.version).toBe('26.12.1');
    expect(newestRuntime(names, 'arm64')?.name).toBe('26.12.1-arm64');
    expect(newestRuntime(names, 'riscv64')).toBeUndefined();
  });

  it('pads the first column left-aligned and the others right-aligned', () => {
    expect(
      formatTable([
        ['', 'exe', 'npm'],
        ['--version', '193 ms', '9 ms'],
      ]),
    ).toEqual(['                 exe    npm', '  --version   193 ms   9 ms']);
  });

  it('warms each item up once, then rotates which goes first every run', async () => {
    const calls: string[] = [];
    const results = await alternate(['a', 'b', 'c'], 2, (x) => {
      calls.push(x);
      return Promise.resolve(`${x}${calls.length}`);
    });
    expect(calls).toEqual(['a', 'b', 'c', 'a', 'b', 'c', 'b', 'c', 'a']);
    // Warm-ups are not kept; each item gets one result per run.
    expect(results).toEqual([
      ['a4', 'a9'],
      ['b5', 'b7'],
      ['c6', 'c8'],
    ]);
  });
});
