import { describe, expect, it } from 'vitest';
import { BenchUsageError, parseOptions, smallFilesTarget, SUITES, usage, type BenchOptions } from '../../../bench/options.js';

const parse = (env: Record<string, string>, argv: string[] = []) => parseOptions(env, argv, '/dev/shm') as BenchOptions;

describe('bench options', () => {
  it('runs every suite with the issue defaults when nothing is set', () => {
    const o = parse({});
    expect(o.suites).toEqual(SUITES.map((s) => s.name));
    expect(o).toMatchObject({ runs: 5, benchDir: '/dev/shm', files: [10_000, 50_000], largeMiB: 1024, idleSeconds: 60, fleetHosts: 50 });
    expect(o.json).toBeUndefined();
    expect(o.warnings).toEqual([]);
  });

  it('returns help for --help and -h, and refuses other arguments', () => {
    expect(parseOptions({}, ['--help'], '/tmp')).toEqual({ help: true });
    expect(parseOptions({ BENCH_RUNS: 'junk' }, ['-h'], '/tmp')).toEqual({ help: true });
    expect(() => parseOptions({}, ['--runs=3'], '/tmp')).toThrow(/unknown argument --runs=3.*--help/);
  });

  it('keeps the suites in their fixed order and names the valid ones when one is unknown', () => {
    expect(parse({ BENCH_SUITES: 'release, install' }).suites).toEqual(['install', 'release']);
    expect(() => parse({ BENCH_SUITES: 'install,instal' })).toThrow(BenchUsageError);
    expect(() => parse({ BENCH_SUITES: 'install,instal' })).toThrow(/unknown suite instal; the suites are install, large, startup/);
    expect(() => parse({ BENCH_SUITES: ',' })).toThrow(/unknown suite \(none given\)/);
  });

  it('reads numbers and lists, with underscores, and says what a bad value should be', () => {
    const o = parse({ BENCH_RUNS: '7', BENCH_FILES: '1_000, 2000', BENCH_LARGE_MB: '64', BENCH_DIR: '/tmp/x', BENCH_JSON: 'out.json' });
    expect(o).toMatchObject({ runs: 7, files: [1000, 2000], largeMiB: 64, benchDir: '/tmp/x', json: 'out.json' });
    expect(() => parse({ BENCH_RUNS: '2.5' })).toThrow('BENCH_RUNS=2.5 is not valid: it takes a whole number of at least 1 (default 5)');
    expect(() => parse({ BENCH_FILES: '10000,' })).toThrow(/BENCH_FILES=10000, is not valid: it takes comma-separated whole numbers/);
    expect(() => parse({ BENCH_LARGE_MB: '-1' })).toThrow(/BENCH_LARGE_MB=-1/);
    expect(() => parse({ BENCH_FLEET_CPU_BEFORE_MS: 'abc' })).toThrow(/BENCH_FLEET_CPU_BEFORE_MS=abc/);
    expect(parse({ BENCH_FLEET_CPU_BEFORE_MS: '80.5' }).fleetCpuBeforeMs).toBe(80.5);
  });

  it('warns when medians come from fewer than 5 runs', () => {
    expect(parse({ BENCH_RUNS: '3' }).warnings).toEqual([expect.stringContaining('fewer than 5 runs')]);
  });

  it("gives the issue's targets to small-file counts", () => {
    expect(smallFilesTarget(10_000)).toBe(1.3);
    expect(smallFilesTarget(2_000)).toBe(1.3);
    expect(smallFilesTarget(50_000)).toBe(1.2);
  });

  it('lists every suite and every variable in --help', () => {
    const text = usage();
    for (const s of SUITES) expect(text).toMatch(new RegExp(`^ {2}${s.name} `, 'm'));
    for (const v of [
      'BENCH_SUITES',
      'BENCH_RUNS',
      'BENCH_DIR',
      'BENCH_FILES',
      'BENCH_LARGE_MB',
      'BENCH_IDLE_SECONDS',
      'BENCH_JSON',
      'BENCH_EXE',
    ]) {
      expect(text).toContain(v);
    }
  });
});
