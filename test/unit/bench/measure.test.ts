import { readdir } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { parseGnuTimeMaxRss, PeakRssRunner, timed } from '../../../bench/measure.js';
import { shippedWaitBetweenRuns } from '../../../bench/latency-bench.js';
import { tempDir } from '../../helpers/temp.js';

describe('bench measuring', () => {
  it("reads GNU time's peak RSS from the last line of its -o file", () => {
    expect(parseGnuTimeMaxRss('52340\n')).toBe(52340);
    expect(parseGnuTimeMaxRss('Command exited with non-zero status 1\n4100\n')).toBe(4100);
    expect(parseGnuTimeMaxRss('')).toBeNaN();
    expect(parseGnuTimeMaxRss('Command terminated by signal 9\n')).toBeNaN();
  });

  it('times a command and rejects with its output when it fails', async () => {
    const ok = await timed(process.execPath, ['-e', 'process.stdout.write("hi")']);
    expect(ok.stdout).toBe('hi');
    expect(ok.ms).toBeGreaterThan(0);
    await expect(timed(process.execPath, ['-e', 'console.error("broken here"); process.exit(3)'])).rejects.toThrow(
      /exited 3:\nbroken here/,
    );
  });

  it("measures a node process's peak memory, whichever way this machine allows, and leaves no files", async () => {
    const dir = await tempDir('cda-bench-measure-');
    const peak = await PeakRssRunner.create(dir);
    // 64 MiB touched on top of node's own start-up memory.
    const big = await peak.run(process.execPath, ['-e', 'const b = Buffer.alloc(64 * 1024 * 1024, 1); console.log(b[5])'], { node: true });
    const small = await peak.run(process.execPath, ['-e', '0'], { node: true });
    expect(big.stdout.trim()).toBe('1');
    expect(big.peakMiB - small.peakMiB).toBeGreaterThan(60);
    expect(await readdir(dir)).toEqual(['peak-rss-preload.mjs']);
  });

  it('falls back to a preload without GNU time: node commands measured, others not', async () => {
    const dir = await tempDir('cda-bench-measure-');
    const peak = await PeakRssRunner.create(dir, `${dir}/no-such-time`);
    expect(peak.method).toBe('preload');
    expect(peak.describe()).toContain('no GNU time');
    const big = await peak.run(process.execPath, ['-e', 'const b = Buffer.alloc(64 * 1024 * 1024, 1); console.log(b[5])'], { node: true });
    const small = await peak.run(process.execPath, ['-e', '0'], { node: true });
    expect(big.stdout.trim()).toBe('1');
    expect(big.peakMiB - small.peakMiB).toBeGreaterThan(60);
    const shell = await peak.run('sh', ['-c', 'echo x']);
    expect(shell.stdout).toBe('x\n');
    expect(shell.peakMiB).toBeNaN();
    expect(await readdir(dir)).toEqual(['peak-rss-preload.mjs']);
  });

  it('reads the shipped :wait_between_runs: from a codedeployagent.yml', () => {
    expect(shippedWaitBetweenRuns('---\n:log_dir: /x\n:wait_between_runs: 1\n')).toBe(1);
    expect(shippedWaitBetweenRuns(':wait_between_runs: 0.5\n')).toBe(0.5);
    expect(shippedWaitBetweenRuns(':wait_between_runs:\n')).toBeUndefined();
    expect(shippedWaitBetweenRuns(':wait_between_runs: soon\n')).toBeUndefined();
    expect(shippedWaitBetweenRuns('')).toBeUndefined();
  });
});
