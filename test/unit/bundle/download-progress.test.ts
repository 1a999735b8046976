import { describe, expect, it } from 'vitest';
import { describeProgress, DownloadProgressReporter, formatBytes, type DownloadProgress } from '../../../agent/bundle/download-progress.js';
import { captureLogger } from '../../helpers/temp.js';

const MiB = 2 ** 20;

function reporter(opts: { total?: number } = {}) {
  let t = 1_000_000;
  const { logger, lines } = captureLogger();
  const heard: DownloadProgress[] = [];
  const r = new DownloadProgressReporter({
    logger,
    source: 's3://b/k',
    fields: { bucket: 'b', key: 'k' },
    now: () => t,
    onProgress: (p) => heard.push(p),
  });
  r.begin(0, opts.total);
  return {
    r,
    heard,
    tick: (ms: number) => (t += ms),
    progressLines: () => lines().filter((l) => String(l.msg).startsWith('Downloaded ')),
  };
}

describe('formatBytes and describeProgress', () => {
  it('uses binary units with one decimal', () => {
    expect([0, 1000, 1024, 1536, 412 * MiB, 1.2 * 2 ** 30, 3 * 2 ** 40].map(formatBytes)).toEqual([
      '0 B',
      '1000 B',
      '1.0 KiB',
      '1.5 KiB',
      '412.0 MiB',
      '1.2 GiB',
      '3.0 TiB',
    ]);
    expect(describeProgress({ bytes: 412 * MiB, totalBytes: 1.2 * 2 ** 30, percent: 33, bytesPerSecond: 85 * MiB })).toBe(
      '412.0 MiB of 1.2 GiB (33 %), 85.0 MiB/s',
    );
    expect(describeProgress({ bytes: 5 * MiB, totalBytes: null, percent: null, bytesPerSecond: 1024 })).toBe('5.0 MiB, 1.0 KiB/s');
  });
});

describe('DownloadProgressReporter pacing', () => {
  it('logs at every 10 % of a known total even when they come fast, never for the last bytes', () => {
    const { r, tick, progressLines } = reporter({ total: 100 * MiB });
    for (let i = 0; i < 100; i++) {
      tick(10); // 1 MiB every 10 ms: 10 % per 100 ms, far under 10 s
      r.advance(MiB);
    }
    const lines = progressLines();
    expect(lines.map((l) => l.percent)).toEqual([10, 20, 30, 40, 50, 60, 70, 80, 90]);
    expect(lines[0]).toMatchObject({ bucket: 'b', key: 'k', bytes: 10 * MiB, totalBytes: 100 * MiB, bytesPerSecond: 100 * MiB });
    expect(lines[0]?.msg).toBe('Downloaded 10.0 MiB of 100.0 MiB (10 %), 100.0 MiB/s from s3://b/k');
    const done = r.finish();
    expect(done).toMatchObject({ bytes: 100 * MiB, seconds: 1, bytesPerSecond: 100 * MiB, text: '100.0 MiB in 1 s (100.0 MiB/s)' });
  });

  it('logs every 10 s when 10 % takes longer, with the rate of that window', () => {
    const { r, tick, progressLines } = reporter({ total: 1000 * MiB });
    // 1 MiB/s: 10 % (100 MiB) would take 100 s.
    for (let s = 1; s <= 35; s++) {
      tick(1000);
      r.advance(MiB);
    }
    const lines = progressLines();
    expect(lines.map((l) => [l.bytes, l.percent, l.bytesPerSecond])).toEqual([
      [10 * MiB, 1, MiB],
      [20 * MiB, 2, MiB],
      [30 * MiB, 3, MiB],
    ]);
  });

  it('logs bytes and rate only, every 10 s, when the total is unknown', () => {
    const { r, tick, progressLines } = reporter();
    for (let s = 1; s <= 25; s++) {
      tick(1000);
      r.advance(2 * MiB);
    }
    const lines = progressLines();
    expect(lines.map((l) => l.msg)).toEqual([
      'Downloaded 20.0 MiB, 2.0 MiB/s from s3://b/k',
      'Downloaded 40.0 MiB, 2.0 MiB/s from s3://b/k',
    ]);
    expect(lines[0]).toMatchObject({ totalBytes: null, percent: null });
  });

  it('tells the listener at most once a second, at every logged line, and when done', () => {
    const { r, heard, tick } = reporter({ total: 100 * MiB });
    heard.length = 0; // begin() told it once
    for (let i = 0; i < 50; i++) {
      tick(100);
      r.advance(MiB / 4); // 12.5 MiB in 5 s: 10 % logged once, at 10.0 MiB
    }
    expect(heard.filter((p) => p.milestone).map((p) => p.percent)).toEqual([10]);
    expect(heard.filter((p) => !p.milestone).length).toBeLessThanOrEqual(5);
    expect(heard.length).toBeGreaterThanOrEqual(4);
    r.finish();
    expect(heard.at(-1)).toMatchObject({ done: true, milestone: true, bytes: 12.5 * MiB });
  });

  it('starts over from byte 0 after restart(), and a resume starts at what the file has', () => {
    const { r, tick, progressLines } = reporter({ total: 10 * MiB });
    tick(10);
    r.advance(3 * MiB);
    r.restart();
    r.begin(0, 10 * MiB);
    tick(10);
    r.advance(MiB);
    r.begin(MiB, 10 * MiB); // a resume keeps the first MiB
    tick(10);
    r.advance(5 * MiB);
    expect(progressLines().map((l) => l.percent)).toEqual([30, 10, 60]);
    expect(r.snapshot()).toMatchObject({ bytes: 6 * MiB, percent: 60 });
  });
});
