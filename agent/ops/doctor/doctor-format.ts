/**
 * How `codedeploy-agent doctor` prints its results: one line per check with a mark (✓ ! ✗, or
 * [ok] [warn] [FAIL] when the output is not a UTF-8 terminal), the hint indented beneath, and a
 * summary line; or, with --json, one object with stable keys. Pure.
 */
import type { CheckResult, CheckStatus } from './doctor-rules.js';

const UNICODE_MARKS: Record<CheckStatus, string> = { ok: '✓', warn: '!', fail: '✗' };
const ASCII_MARKS: Record<CheckStatus, string> = { ok: '[ok]  ', warn: '[warn]', fail: '[FAIL]' };

/** Unicode marks only on a terminal whose locale is UTF-8 (LC_ALL, then LC_CTYPE, then LANG). */
export function useUnicode(env: NodeJS.ProcessEnv, isTTY: boolean): boolean {
  if (!isTTY) return false;
  const locale = env.LC_ALL || env.LC_CTYPE || env.LANG || '';
  return /utf-?8/i.test(locale);
}

export function formatChecks(results: readonly CheckResult[], opts: { unicode: boolean }): string {
  const marks = opts.unicode ? UNICODE_MARKS : ASCII_MARKS;
  const width = Math.max(0, ...results.map((r) => r.name.length));
  const lines: string[] = [];
  for (const r of results) {
    lines.push(`${marks[r.status]} ${r.name.padEnd(width)}  ${r.detail}`);
    if (r.hint && r.status !== 'ok') {
      const indent = ' '.repeat(marks[r.status].length + 1 + width + 2);
      for (const hintLine of r.hint.split('\n')) lines.push(`${indent}${opts.unicode ? '→' : '->'} ${hintLine}`);
    }
  }
  const count = (s: CheckStatus): number => results.filter((r) => r.status === s).length;
  const failures = count('fail');
  const warnings = count('warn');
  const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;
  lines.push('', `${plural(results.length, 'check')}: ${count('ok')} ok, ${plural(warnings, 'warning')}, ${plural(failures, 'failure')}`);
  return `${lines.join('\n')}\n`;
}

export interface DoctorJson {
  ok: boolean;
  summary: { ok: number; warn: number; fail: number };
  checks: Array<{ name: string; status: CheckStatus; detail: string; hint: string | null }>;
}

export function doctorJson(results: readonly CheckResult[]): DoctorJson {
  const count = (s: CheckStatus): number => results.filter((r) => r.status === s).length;
  return {
    ok: count('fail') === 0,
    summary: { ok: count('ok'), warn: count('warn'), fail: count('fail') },
    checks: results.map((r) => ({ name: r.name, status: r.status, detail: r.detail, hint: r.hint })),
  };
}
