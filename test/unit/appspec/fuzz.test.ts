/** parseAppSpec is total: whatever the input, it returns a result with well-formed issues and never throws. */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { parseAppSpec, type AppSpecIssue, type AppSpecParseResult } from '../../../appspec/index.js';
import { seededRandom as random } from '../../helpers/seeded-random.js';

function checkIssue(issue: AppSpecIssue): void {
  expect(typeof issue.message).toBe('string');
  expect(issue.message.length).toBeGreaterThan(0);
  // The last-resort catch in parseAppSpec must never be what answers.
  expect(issue.message).not.toContain('could not be read');
  expect(issue.file).toBe('fuzz.yml');
  expect(Number.isInteger(issue.line) && issue.line >= 1).toBe(true);
  expect(Number.isInteger(issue.column) && issue.column >= 1).toBe(true);
  expect(typeof issue.path).toBe('string');
}

function checkResult(result: AppSpecParseResult): void {
  if (result.ok) {
    expect(result.spec.version).toBe('0.0');
    expect(result.spec.os).toBe('linux');
  } else {
    expect(result.errors.length).toBeGreaterThan(0);
    result.errors.forEach(checkIssue);
  }
  result.warnings.forEach(checkIssue);
}

const ALPHABET = [
  'version',
  'os',
  'hooks',
  'files',
  'permissions',
  'location',
  'acls',
  'context',
  'range',
  ':',
  ' ',
  '\n',
  '  ',
  '- ',
  '[',
  ']',
  '{',
  '}',
  ',',
  '&a ',
  '*a',
  '<<: ',
  '"',
  "'",
  '#',
  '!!str ',
  '|',
  '>',
  '?',
  '~',
  '0644',
  'yes',
  '%YAML 1.1\n',
  '---\n',
  '...\n',
  '\t',
  '\u0000',
  '😀',
  's0:c1',
  'd:u:bob:7',
];

function garbage(next: () => number): string {
  let text = '';
  const length = Math.floor(next() * 60);
  for (let i = 0; i < length; i++) text += ALPHABET[Math.floor(next() * ALPHABET.length)];
  return text;
}

function mutate(text: string, next: () => number): string {
  let out = text;
  const edits = 1 + Math.floor(next() * 5);
  for (let i = 0; i < edits; i++) {
    const at = Math.floor(next() * (out.length + 1));
    const choice = next();
    if (choice < 0.4) out = out.slice(0, at) + out.slice(at + 1 + Math.floor(next() * 4));
    else if (choice < 0.8) out = out.slice(0, at) + (ALPHABET[Math.floor(next() * ALPHABET.length)] as string) + out.slice(at);
    else out = out.slice(0, at) + out.slice(at).replace(/ {2}/, '');
  }
  return out;
}

function randomValue(next: () => number, depth: number): unknown {
  const pick = next();
  if (depth > 3 || pick < 0.5) {
    const scalars: unknown[] = [null, true, false, 0, -1, 0.5, 3600, '', ' ', 'linux', '0.0', 'u::7', 's0-s1:c0.c3', '0644', '**', 'file'];
    return scalars[Math.floor(next() * scalars.length)];
  }
  if (pick < 0.75) return Array.from({ length: Math.floor(next() * 4) }, () => randomValue(next, depth + 1));
  const keys = [
    'version',
    'os',
    'hooks',
    'files',
    'permissions',
    'location',
    'timeout',
    'runas',
    'sudo',
    'source',
    'destination',
    'object',
    'mode',
    'acls',
    'context',
    'type',
    'name',
    'range',
    'role',
    'BeforeInstall',
  ];
  const obj: Record<string, unknown> = {};
  for (let i = Math.floor(next() * 5); i > 0; i--) obj[keys[Math.floor(next() * keys.length)] as string] = randomValue(next, depth + 1);
  return obj;
}

describe('parseAppSpec never throws', () => {
  it('on random token soup', () => {
    const next = random(1);
    for (let i = 0; i < 1500; i++) checkResult(parseAppSpec(garbage(next), 'fuzz.yml'));
  });

  it('on mutations of the fixtures', () => {
    const next = random(2);
    const dir = join(import.meta.dirname, '../../fixtures/appspec');
    const texts = ['valid', 'invalid'].flatMap((set) => readdirSync(join(dir, set)).map((f) => readFileSync(join(dir, set, f), 'utf8')));
    for (let i = 0; i < 1500; i++) checkResult(parseAppSpec(mutate(texts[i % texts.length] as string, next), 'fuzz.yml'));
  });

  it('on random well-formed structures under the known keys', () => {
    const next = random(3);
    let valid = 0;
    for (let i = 0; i < 1500; i++) {
      const doc = {
        version: next() < 0.8 ? 0 : randomValue(next, 2),
        os: next() < 0.8 ? 'linux' : randomValue(next, 2),
        ...(randomValue(next, 0) as object),
      };
      const result = parseAppSpec(stringify(doc), 'fuzz.yml');
      checkResult(result);
      if (result.ok) valid++;
    }
    expect(valid).toBeGreaterThan(0);
  });

  it.each([
    ['a non-string input', 42 as unknown as string],
    ['a huge flat document', 'version: 0.0\nos: linux\n' + 'k: v\n'.repeat(5000)],
    ['deep nesting', `${'['.repeat(2000)}${']'.repeat(2000)}`],
    ['binary noise', String.fromCharCode(...Array.from({ length: 2000 }, (_, i) => (i * 7919) % 256))],
  ])('on %s', (_name, text) => {
    checkResult(parseAppSpec(text, 'fuzz.yml'));
  });
});
