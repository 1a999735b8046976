/**
 * The official agent's AppSpec acceptance cases (docs/reference.md section 10.2) that are not fixtures:
 * the ACE, SELinux range and mode grammars, both through parseAppSpec (message and location) and
 * through the grammar parsers directly.
 */
import { describe, expect, it } from 'vitest';
import { formatAce, formatRange, parseAce, parseAppSpec, parseMode, parseSeRange, type Permission } from '../../../appspec/index.js';
import { M } from './official-messages.js';

/** An appspec with one permission whose extra lines are `lines` (indented under the item). */
function withPermission(lines: string): string {
  return `version: 0.0\nos: linux\npermissions:\n  - object: /var/www\n${lines}`;
}

function permission(lines: string): Permission {
  const result = parseAppSpec(withPermission(lines), 'appspec.yml');
  if (!result.ok) throw new Error(result.errors.map((e) => e.message).join('\n'));
  const [first] = result.spec.permissions;
  if (!first) throw new Error('no permission');
  return first;
}

function errorsOf(text: string): Array<[string, number, number, string]> {
  const result = parseAppSpec(text, 'appspec.yml');
  return result.ok ? [] : result.errors.map((e) => [e.path, e.line, e.column, e.message]);
}

describe('permissions parse into the model the installer checks (10.2 #24-#29)', () => {
  it.each([
    ['#24 pattern glob', "    pattern: 'glob'\n", { pattern: 'glob', except: [], types: ['file', 'directory'] }],
    ['#25 except', "    except: ['glob']\n", { pattern: '**', except: ['glob'] }],
    ['#26 defaults', '', { pattern: '**', except: [], types: ['file', 'directory'] }],
    ['#27 directory only', '    pattern: glob\n    type: [directory]\n', { pattern: 'glob', types: ['directory'] }],
  ])('%s', (_name, lines, expected) => {
    expect(permission(lines)).toMatchObject(expected);
  });

  it('#28, #29: named and default ACEs parse; the installer rejects default ACEs on files', () => {
    expect(permission("    acls: ['user:name:rwx']\n").acls?.map(formatAce)).toEqual(['user:name:rwx']);
    expect(permission("    acls: ['d:user:name:rwx']\n").acls?.map((a) => a.isDefault)).toEqual([true]);
  });
});

describe('ACE grammar (10.2 #31-#41, #65-#70)', () => {
  it.each([
    ['7', M.aclEntry('7')], // #31
    ['d:u:bob:7:rwx', M.aclEntry('d:u:bob:7:rwx')], // #32
    ['invalid:u:bob:7:rwx', M.aclEntry('invalid:u:bob:7:rwx')], // #33
    ['d:invalid:bob:7:rwx', M.aclEntry('d:invalid:bob:7:rwx')], // #34
    ['d:d:bob:7:rwx', M.aclEntry('d:d:bob:7:rwx')], // #35
    ['mask:name:rwx', M.aclEntry('mask:name:rwx')], // #36
    ['d:other:name:rwx', M.aclEntry('d:other:name:rwx')], // #37
    ['user:bob:rwxd', M.aclChar('user:bob:rwxd', 'd')], // #38
    ['x:bob:rwx', M.aclEntry('x:bob:rwx')],
    ['d:m:name:rwx', M.aclEntry('d:m:name:rwx')],
    ['u::7', M.aclBase('u::7')], // #69
    ['g::7', M.aclBase('g::7')], // #69
    ['o:7', M.aclBase('o:7')], // #69
    ['user::rw-', M.aclBase('user::rw-')],
  ])('%s is rejected through the appspec, at the entry', (ace, message) => {
    expect(errorsOf(withPermission(`    acls:\n      - '${ace}'\n`))).toEqual([['permissions[0].acls[0]', 6, 9, message]]);
  });

  it.each([
    // #39
    ['d:u:bob:rwx', 'default:user:bob:rwx'],
    ['default:g:dev:rw', 'default:group:dev:rw-'],
    // #40
    ['d:bob:rwx', 'default:user:bob:rwx'],
    ['default::rw', 'default:user::rw-'],
    ['m::7', 'mask::rwx'],
    ['mask::7', 'mask::rwx'],
    ['g:dev:7', 'group:dev:rwx'],
    ['group:dev:7', 'group:dev:rwx'],
    ['u:bob:7', 'user:bob:rwx'],
    ['user:bob:7', 'user:bob:rwx'],
    ['u:mask:7', 'user:mask:rwx'],
    ['u:other:7', 'user:other:rwx'],
    // #41
    ['bob:0', 'user:bob:---'],
    ['m:7', 'mask::rwx'],
    ['mask:', 'mask::---'],
    // #65, #66
    ['d:henry:4', 'default:user:henry:r--'],
    ['d:g::4', 'default:group::r--'],
    ['d:o:3', 'default:other::-wx'],
    ['d:m:7', 'default:mask::rwx'],
    ['d::3', 'default:user::-wx'],
    // #70
    ['d:u:bob:7', 'default:user:bob:rwx'],
    ['m:0', 'mask::---'],
    ['u:bob:r-x', 'user:bob:r-x'],
    ['u:bob:', 'user:bob:---'],
    ['d:d:rwx', 'default:user:d:rwx'],
  ])('%s -> %s', (text, normalised) => {
    const parsed = parseAce(text);
    expect(parsed.ok && formatAce(parsed.value)).toBe(normalised);
  });

  it('#40: ten ACEs through the appspec, in order', () => {
    const acls = permission(
      "    acls: ['d:bob:rwx', 'default::rw', 'm::7', 'mask::7', 'g:dev:7', 'group:dev:7', 'u:bob:7', 'user:bob:7', 'u:mask:7', 'u:other:7']\n",
    ).acls;
    expect(acls?.map((a) => [a.isDefault, a.type, a.name, a.read, a.write, a.execute])).toEqual([
      [true, 'user', 'bob', true, true, true],
      [true, 'user', '', true, true, false],
      [false, 'mask', '', true, true, true],
      [false, 'mask', '', true, true, true],
      [false, 'group', 'dev', true, true, true],
      [false, 'group', 'dev', true, true, true],
      [false, 'user', 'bob', true, true, true],
      [false, 'user', 'bob', true, true, true],
      [false, 'user', 'mask', true, true, true],
      [false, 'user', 'other', true, true, true],
    ]);
  });

  it('#65: an empty acls list is kept (not absent)', () => {
    expect(permission('    acls: []\n').acls).toEqual([]);
  });

  it.each(['u::7', 'g::7', 'o::7', 'o:7'])('#68: the internal base entry %s is accepted', (text) => {
    const parsed = parseAce(text, { internal: true });
    expect(parsed.ok).toBe(true);
    expect(parsed.ok && parsed.value.name).toBe('');
  });
});

describe('SELinux range grammar (10.2 #42-#60, #67)', () => {
  it.each([
    ['s3-s2:c0', M.seRange('s3-s2:c0')], // #42
    ['s3-:c0', 'invalid range part s3-'], // #43
    [':c0', 'invalid range part :c0'], // #45
    ['s', 'invalid sensitivity s'], // #46
    ['s0-s-1', 'invalid sensitivity s-1'], // #47
    ['sd3', 'invalid sensitivity sd3'], // #48
    ['d3', 'invalid sensitivity d3'], // #49
    ['s0:c2.c1', 'invalid category range c2.c1'], // #50
    ['s0:c2.', 'invalid range part c2.'], // #51
    ['s0:', 'invalid range part s0:'], // #53
    ['s0:c', 'invalid category c'], // #54
    ['s0:c-1', 'invalid category c-1'], // #55
    ['s0:c1024', 'invalid category c1024'], // #56
    ['s0:cd3', 'invalid category cd3'], // #58
    ['s0:d3', 'invalid category d3'], // #59
    ['s0:c0.c2,c1', 'duplicate categories'], // #60
    ['', 'invalid range part '],
    ['s0:c1,,c2', 'invalid category '],
    ['s0:c1.c2.c3', 'invalid category c2.c3'],
  ])('%j is rejected with "%s"', (range, message) => {
    expect(parseSeRange(range)).toEqual({ ok: false, message });
    expect(errorsOf(withPermission(`    context:\n      type: t\n      range: '${range}'\n`))).toEqual([
      ['permissions[0].context.range', 7, 14, message],
    ]);
  });

  it.each([
    ['s5', { low: 5, high: 5 }, 's5'], // #44
    ['s0:c0.c1,c15,c7.c9', { low: 0, high: 0, categories: [0, 1, 7, 8, 9, 15] }, 's0:c0.c1,c7.c9,c15'], // #52
    ['s3', { low: 3, high: 3 }, 's3'], // #67
    ['s3-s7:c5,c8.c10,c17', { low: 3, high: 7, categories: [5, 8, 9, 10, 17] }, 's3-s7:c5,c8.c10,c17'], // #67
    ['s0-s0:c1023', { low: 0, high: 0, categories: [1023] }, 's0:c1023'],
    ['s0:c1,', { low: 0, high: 0, categories: [1] }, 's0:c1'],
  ])('%s parses and formats back', (range, expected, formatted) => {
    const parsed = parseSeRange(range);
    expect(parsed).toEqual({ ok: true, value: expected });
    expect(parsed.ok && formatRange(parsed.value)).toBe(formatted);
  });

  it('#44: a context without name has no user', () => {
    expect(permission("    context:\n      type: t\n      range: 's5'\n").context).toEqual({ type: 't', range: { low: 5, high: 5 } });
  });
});

describe('mode (10.2 #61-#64)', () => {
  it.each([
    ['12345', M.modeLength('12345')],
    ['12a', M.modeChar('12a', 'a')],
    ['8', M.modeChar('008', '8')],
    ['-1', M.modeChar('0-1', '-')],
    ['07777', M.modeLength('07777')],
  ])('%s is rejected', (mode, message) => {
    expect(parseMode(mode)).toEqual({ ok: false, message });
  });

  it.each([
    ['12', '012', 0o12],
    ['7777', '7777', 0o7777],
    ['0000', '0000', 0],
    ['777', '777', 0o777],
    ['6763', '6763', 0o6763],
    ['', '000', 0],
    ['5', '005', 0o5],
  ])('%j -> %s', (mode, text, value) => {
    expect(parseMode(mode)).toEqual({ ok: true, value: { text, value } });
  });
});
