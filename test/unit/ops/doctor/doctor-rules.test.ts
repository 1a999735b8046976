import { describe, expect, it } from 'vitest';
import { doctorJson, formatChecks, useUnicode } from '../../../../agent/ops/doctor/doctor-format.js';
import {
  clockSkewCheck,
  directoryCheck,
  diskSpaceCheck,
  doctorExitCode,
  expiryCheck,
  fail,
  ok,
  parseExpiry,
  warn,
  type CheckResult,
} from '../../../../agent/ops/doctor/doctor-rules.js';

const MiB = 1024 * 1024;

describe('doctor thresholds', () => {
  it.each([
    [100 * MiB, 'fail'],
    [499 * MiB, 'fail'],
    [500 * MiB, 'warn'],
    [1023 * MiB, 'warn'],
    [1024 * MiB, 'ok'],
    [50 * 1024 * MiB, 'ok'],
  ])('disk: %d bytes free is %s', (free, status) => {
    const r = diskSpaceCheck('/opt/root', free);
    expect(r.status).toBe(status);
    expect(r.detail).toContain('/opt/root');
    expect(r.hint === null).toBe(status === 'ok');
  });

  it.each([
    [0, 'ok'],
    [59_000, 'ok'],
    [-61_000, 'warn'],
    [299_000, 'warn'],
    [301_000, 'fail'],
    [-600_000, 'fail'],
  ])('clock: a skew of %d ms is %s', (skew, status) => {
    const r = clockSkewCheck(skew, 'endpoint.example');
    expect(r.status).toBe(status);
    if (status !== 'ok') expect(r.hint).toContain('timedatectl');
  });

  it('says which way the clock is off', () => {
    expect(clockSkewCheck(600_000, 'ep').detail).toBe("this host's clock is 600 s behind ep");
    expect(clockSkewCheck(-600_000, 'ep').detail).toBe("this host's clock is 600 s ahead of ep");
  });

  it('judges credential expiry: expired fails, under 15 minutes warns', () => {
    const now = new Date('2024-05-01T12:00:00Z');
    expect(expiryCheck('keys', new Date('2024-05-01T11:59:00Z'), now, 'renew').status).toBe('fail');
    expect(expiryCheck('keys', new Date('2024-05-01T12:10:00Z'), now, 'renew')).toMatchObject({ status: 'warn', hint: 'renew' });
    expect(expiryCheck('keys', new Date('2024-05-01T18:00:00Z'), now, 'renew')).toMatchObject({ status: 'ok', hint: null });
  });

  it('reads expiry values as ISO dates or epoch seconds', () => {
    expect(parseExpiry('2024-05-01T12:00:00Z')?.toISOString()).toBe('2024-05-01T12:00:00.000Z');
    expect(parseExpiry('1714564800')?.toISOString()).toBe('2024-05-01T12:00:00.000Z');
    expect(parseExpiry('soon')).toBeUndefined();
  });
});

describe('directoryCheck', () => {
  const dir = (mode: number, uid = 0, isPrivate = true) =>
    directoryCheck({ key: 'root_dir', path: '/d', private: isPrivate, stat: { isDirectory: true, mode: 0o40000 | mode, uid } });

  it('accepts a root-owned 0750 directory', () => {
    expect(dir(0o750)).toEqual(ok('root_dir', '/d (mode 0750, owner root)'));
  });
  it('fails a world-writable directory with the chmod to run', () => {
    const r = dir(0o777);
    expect(r.status).toBe('fail');
    expect(r.detail).toContain('writable by every user (mode 0777)');
    expect(r.hint).toBe('Run: chmod o-w /d && chmod o-rwx /d');
  });
  it('warns about a world-readable private directory and a non-root owner', () => {
    expect(dir(0o755)).toMatchObject({ status: 'warn', hint: 'Run: chmod o-rwx /d' });
    expect(dir(0o750, 1000)).toMatchObject({ status: 'warn', hint: 'Run: chown root:root /d' });
    expect(dir(0o755, 0, false).status).toBe('ok'); // pid_dir may be readable
  });
  it('handles missing, non-directory and unreadable paths', () => {
    expect(directoryCheck({ key: 'log_dir', path: '/x', private: true, creatable: true }).status).toBe('ok');
    expect(directoryCheck({ key: 'log_dir', path: '/x', private: true, creatable: false }).status).toBe('warn');
    expect(directoryCheck({ key: 'log_dir', path: '/x', private: true, stat: { isDirectory: false, mode: 0o644, uid: 0 } }).status).toBe(
      'fail',
    );
    expect(directoryCheck({ key: 'log_dir', path: '/x', private: true, error: 'permission denied' })).toMatchObject({
      status: 'warn',
      hint: expect.stringContaining('sudo'),
    });
  });
});

describe('doctor output', () => {
  const results: CheckResult[] = [
    ok('config', '/etc/c.yml is valid'),
    warn('disk', '700 MiB free', 'free space'),
    fail('identity', 'no identity', 'register\nthe host'),
  ];

  it('prints one line per check, hints beneath, ASCII marks off a UTF-8 terminal', () => {
    expect(formatChecks(results, { unicode: false })).toBe(
      [
        '[ok]   config    /etc/c.yml is valid',
        '[warn] disk      700 MiB free',
        '                 -> free space',
        '[FAIL] identity  no identity',
        '                 -> register',
        '                 -> the host',
        '',
        '3 checks: 1 ok, 1 warning, 1 failure',
        '',
      ].join('\n'),
    );
    expect(formatChecks(results, { unicode: true }).split('\n').slice(0, 4)).toEqual([
      '✓ config    /etc/c.yml is valid',
      '! disk      700 MiB free',
      '            → free space',
      '✗ identity  no identity',
    ]);
  });

  it('uses Unicode only on a TTY with a UTF-8 locale', () => {
    expect(useUnicode({ LANG: 'en_US.UTF-8' }, true)).toBe(true);
    expect(useUnicode({ LANG: 'en_US.UTF-8' }, false)).toBe(false);
    expect(useUnicode({ LANG: 'C' }, true)).toBe(false);
    expect(useUnicode({ LC_ALL: 'C.utf8', LANG: 'C' }, true)).toBe(true);
  });

  it('has stable JSON keys and an exit code of 1 only when a check failed', () => {
    const json = doctorJson(results);
    expect(Object.keys(json)).toEqual(['ok', 'summary', 'checks']);
    expect(json.summary).toEqual({ ok: 1, warn: 1, fail: 1 });
    expect(json.checks[0]).toEqual({ name: 'config', status: 'ok', detail: '/etc/c.yml is valid', hint: null });
    expect(doctorExitCode(results)).toBe(1);
    expect(doctorExitCode(results.slice(0, 2))).toBe(0);
  });
});
