/** Rules of docs/reference.md sections 5.1/5.2 and our decisions (docs/design.md section 5) that need more than a fixture. */
import { describe, expect, it } from 'vitest';
import { formatIssue, parseAppSpec, type AppSpec, type AppSpecParseResult } from '../../../appspec/index.js';
import { M } from './official-messages.js';

const HEAD = 'version: 0.0\nos: linux\n';

function parse(text: string): AppSpecParseResult {
  return parseAppSpec(text, 'appspec.yml');
}

function spec(text: string): AppSpec {
  const result = parse(text);
  if (!result.ok) throw new Error(result.errors.map(formatIssue).join('\n'));
  return result.spec;
}

function messages(text: string): string[] {
  const result = parse(text);
  return result.ok ? [] : result.errors.map((e) => e.message);
}

function timeoutOf(value: string): number | string {
  const result = parse(`${HEAD}hooks:\n  E:\n    - location: a.sh\n      timeout: ${value}\n`);
  if (!result.ok) return result.errors.map((e) => e.message).join();
  return result.spec.hooks.get('E')?.[0]?.timeoutSeconds ?? 'absent';
}

describe('version', () => {
  it.each(['0.0', '0', '0.00', '"0.0"', "'0.0'", '!!str 0.0'])('%s is accepted', (v) => {
    expect(spec(`version: ${v}\nos: linux\n`).version).toBe('0.0');
  });

  it.each([
    ['1', '1'],
    ['"0"', '0'],
    ['"0.0 "', '0.0 '],
    ['~', ''],
    ['', ''],
    ['[0.0]', '[0.0]'],
    ['{a: 1}', '{"a"=>1}'],
    ['yes', 'yes'],
  ])('%s is rejected, printed as (%s)', (v, printed) => {
    expect(messages(`version: ${v}\nos: linux\n`)).toEqual([M.version(printed)]);
  });
});

describe('os', () => {
  it.each([
    ['Linux', 'Linux'],
    ['windows', 'windows'],
    ['~', ''],
    ['[linux]', '["linux"]'],
  ])('%s is rejected', (os, printed) => {
    expect(messages(`version: 0.0\nos: ${os}\n`)).toEqual([M.os(printed)]);
  });

  it('windows with permissions also gets the official "specifiles" message', () => {
    expect(messages('version: 0.0\nos: windows\npermissions:\n  - object: /x\n')).toEqual([M.os('windows'), M.windowsPermissions]);
  });
});

describe('hooks', () => {
  it.each([
    ['30', 30],
    ['"30"', 30],
    ['"30s"', 30],
    ['" 45 "', 45],
    ['30.9', 30],
    ['"1_000"', 1000],
    ['030', 30],
    ['0x10', 16],
    ['~', 3600],
    ['false', 3600],
    ['no', 3600],
    ['86400', 86400],
  ])('timeout %s -> %s seconds', (value, seconds) => {
    expect(timeoutOf(value)).toBe(seconds);
  });

  it.each(['0', 'foo', '"foo"', '-5', '0.5', 'true', '.inf', '.nan', '[30]', '{a: 1}', '""'])('timeout %s is invalid', (value) => {
    expect(timeoutOf(value)).toBe(M.timeout);
  });

  it('keeps the written event order, including custom events', () => {
    const text = `${HEAD}hooks:\n  Zeta:\n    - location: z.sh\n  ApplicationStop:\n    - location: a.sh\n  BeforeInstall:\n    - location: b.sh\n`;
    expect([...spec(text).hooks.keys()]).toEqual(['Zeta', 'ApplicationStop', 'BeforeInstall']);
  });

  it.each([
    ['true', true],
    ['yes', true],
    ['on', true],
    ['false', false],
    ['no', false],
    ['off', false],
    ['~', false],
  ])('sudo %s -> %s', (value, sudo) => {
    expect(spec(`${HEAD}hooks:\n  E:\n    - location: a.sh\n      sudo: ${value}\n`).hooks.get('E')?.[0]?.sudo).toBe(sudo);
  });

  it('a sudo value that is not a boolean counts as true (Ruby truthiness) and is warned about', () => {
    const result = parse(`${HEAD}hooks:\n  E:\n    - location: a.sh\n      sudo: "false"\n`);
    expect(result.ok && result.spec.hooks.get('E')?.[0]?.sudo).toBe(true);
    expect(result.warnings.map((w) => [w.path, w.line, w.column])).toEqual([['hooks.E[0].sudo', 6, 13]]);
    expect(result.warnings[0]?.message).toContain("sudo value 'false' is not true or false");
  });

  it('numbers in location and runas become their text; blank runas is dropped with a warning', () => {
    const result = parse(`${HEAD}hooks:\n  E:\n    - location: 123\n      runas: "  "\n`);
    expect(result.ok && result.spec.hooks.get('E')?.[0]?.location).toBe('123');
    expect(result.ok && result.spec.hooks.get('E')?.[0]?.runas).toBeUndefined();
    expect(result.warnings.map((w) => w.path)).toEqual(['hooks.E[0].runas']);
  });

  it('a collection as sudo counts as true, with a warning', () => {
    const result = parse(`${HEAD}hooks:\n  E:\n    - location: a.sh\n      sudo: [x]\n`);
    expect(result.ok && result.spec.hooks.get('E')?.[0]?.sudo).toBe(true);
    expect(result.warnings.map((w) => w.message)).toEqual([
      "sudo value 'a list' is not true or false; any value other than false, no, off or null counts as true",
    ]);
  });

  it('unknown keys in a script are warned about (typos)', () => {
    const result = parse(`${HEAD}hooks:\n  E:\n    - location: a.sh\n      timout: 30\n`);
    expect(result.ok).toBe(true);
    expect(result.warnings.map((w) => [w.message, w.path, w.line, w.column])).toEqual([
      ["Unknown hook script key 'timout' is ignored", 'hooks.E[0].timout', 6, 7],
    ]);
  });

  it.each([
    [
      'hooks: [a]',
      'hooks',
      'the hooks section of the application specification file must be a mapping of lifecycle event names to lists of scripts, but it is a list',
    ],
    [
      'hooks:\n  E: run.sh',
      'hooks.E',
      'the E hook in the hooks section of the application specification file must be a list of scripts, but it is a string',
    ],
    [
      'hooks:\n  E:\n    - [a]',
      'hooks.E[0]',
      'a script in the hooks section of the application specification file must be a mapping with a location key, but it is a list',
    ],
    [
      'hooks:\n  E:\n    - location: {a: 1}',
      'hooks.E[0].location',
      'the location of a script in the hooks section of the application specification file must be a string, but it is a mapping',
    ],
    [
      'hooks:\n  E:\n    - location: a\n      runas: [x]',
      'hooks.E[0].runas',
      'the runas value of a script in the hooks section of the application specification file must be a string, but it is a list',
    ],
  ])('structure: %j', (yaml, path, fragment) => {
    const result = parse(`${HEAD}${yaml}\n`);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.errors.map((e) => e.path)).toEqual([path]);
    expect(result.errors[0]?.message).toBe(
      `The deployment failed because ${fragment}. Update the hooks section of the AppSpec file, and then try again.`,
    );
  });
});

describe('files and permissions', () => {
  it('files {} reports only the missing source (as the official agent does)', () => {
    expect(messages(`${HEAD}files:\n  - {}\n`)).toEqual([M.noSource]);
  });

  it.each([
    ['files: app', 'files', 'the files section', 'a list of mappings with source and destination keys', 'a string', 'files'],
    [
      'files:\n  - source: [a]\n    destination: /x',
      'files[0].source',
      'the source of an entry in the files section',
      'a string',
      'a list',
      'files',
    ],
    [
      'permissions: {object: /x}',
      'permissions',
      'the permissions section',
      'a list of mappings with an object key',
      'a mapping',
      'permissions',
    ],
    [
      'permissions:\n  - /x',
      'permissions[0]',
      'an entry in the permissions section',
      'a mapping with an object key',
      'a string',
      'permissions',
    ],
    [
      'permissions:\n  - object: /x\n    type: file',
      'permissions[0].type',
      'the type value of a permission',
      'a list of object types (file, directory)',
      'a string',
      'permissions',
    ],
    [
      'permissions:\n  - object: /x\n    except: "*.tmp"',
      'permissions[0].except',
      'the except value of a permission',
      'a list of strings',
      'a string',
      'permissions',
    ],
    [
      'permissions:\n  - object: /x\n    acls: "u:bob:7"',
      'permissions[0].acls',
      'the acls value of a permission',
      'a list of strings',
      'a string',
      'permissions',
    ],
    [
      'permissions:\n  - object: /x\n    acls: [~]',
      'permissions[0].acls[0]',
      'an item of the acls list of a permission',
      'a string',
      'null',
      'permissions',
    ],
    [
      'permissions:\n  - object: /x\n    mode: [644]',
      'permissions[0].mode',
      'the mode of a permission',
      'a string',
      'a list',
      'permissions',
    ],
    [
      'permissions:\n  - object: /x\n    context: t',
      'permissions[0].context',
      'the context of a permission',
      'a mapping with a type key (and optional name and range)',
      'a string',
      'permissions',
    ],
    [
      'permissions:\n  - object: /x\n    context: {type: [t]}',
      'permissions[0].context.type',
      'the type of a context',
      'a string',
      'a list',
      'permissions',
    ],
  ])('structure: %j', (yaml, path, subject, expected, actual, section) => {
    const result = parse(`${HEAD}${yaml}\n`);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.errors.map((e) => [e.path, e.message])).toEqual([
      [
        path,
        `The deployment failed because ${subject} of the application specification file must be ${expected}, but it is ${actual}. Update the ${section} section of the AppSpec file, and then try again.`,
      ],
    ]);
  });

  it('object is trimmed, pattern "**" and null mean all, owner/group numbers become text', () => {
    const [p] = spec(`${HEAD}permissions:\n  - object: '  /var/www  '\n    pattern: ~\n    owner: 1000\n    group: 0\n`).permissions;
    expect(p).toMatchObject({ object: '/var/www', pattern: '**', owner: '1000', group: '0' });
  });

  it('type: [] is kept and warned about', () => {
    const result = parse(`${HEAD}permissions:\n  - object: /x\n    type: []\n`);
    expect(result.ok && result.spec.permissions[0]?.types).toEqual([]);
    expect(result.warnings.map((w) => w.path)).toEqual(['permissions[0].type']);
  });

  it.each([
    ['{name: name}', '{"name"=>"name"}'],
    ['{name: n, range: s0}', '{"name"=>"n", "range"=>"s0"}'],
    ['{name: 1, x: ~, y: true, z: 1.5, w: [a, 2]}', '{"name"=>1, "x"=>nil, "y"=>true, "z"=>1.5, "w"=>["a", 2]}'],
    ['{name: "a\\"b#{c}"}', '{"name"=>"a\\"b\\#{c}"}'],
    ['{type: ~}', '{"type"=>nil}'],
    [
      '{a: 1.0e+20, b: 0.00001, c: .inf, d: -.inf, e: .nan, f: 0x1F, g: 2.0}',
      '{"a"=>1.0e+20, "b"=>1.0e-05, "c"=>Infinity, "d"=>-Infinity, "e"=>NaN, "f"=>31, "g"=>2.0}',
    ],
    ['{a: y, n: 2001-12-14, "x\\ty": "\\e\\u0001"}', '{"a"=>"y", "n"=>2001-12-14, "x\\ty"=>"\\e\\u0001"}'],
  ])('context %s without type prints the Ruby inspect %s', (context, inspected) => {
    expect(messages(`${HEAD}permissions:\n  - object: /x\n    context: ${context}\n`)).toEqual([M.contextType(inspected)]);
  });

  it('a null role is ignored; any other role is rejected', () => {
    expect(spec(`${HEAD}permissions:\n  - object: /x\n    context: {type: t, role: ~}\n`).permissions[0]?.context).toEqual({ type: 't' });
    expect(messages(`${HEAD}permissions:\n  - object: /x\n    context: {type: t, role: r}\n`)).toEqual([M.role]);
  });

  it.each(['DISALLOW', 'OVERWRITE', 'RETAIN'])('file_exists_behavior %s', (b) => {
    expect(spec(`${HEAD}file_exists_behavior: ${b}\n`).fileExistsBehavior).toBe(b);
  });

  it('file_exists_behavior ~ means absent', () => {
    expect(spec(`${HEAD}file_exists_behavior: ~\n`).fileExistsBehavior).toBeUndefined();
  });
});

describe('YAML handling', () => {
  it('duplicate keys: the last one wins, with a warning at the later key', () => {
    const result = parse('version: 0.0\nos: windows\nos: linux\n');
    expect(result.ok).toBe(true);
    expect(result.warnings.map((w) => [w.path, w.line, w.column, w.message])).toEqual([
      ['os', 3, 1, "Duplicate key 'os': this value replaces the one at line 2 (the last one wins)"],
    ]);
  });

  it('a complex key is named by its source text', () => {
    const result = parse(`${HEAD}? [a, b]\n: 1\n`);
    expect(result.warnings.map((w) => [w.path, w.message])).toEqual([['[a, b]', "Unknown top-level key '[a, b]' is ignored"]]);
  });

  it('merge keys take a list of aliases; the first source wins among merged ones', () => {
    const text = `${HEAD}x: &x {runas: x, timeout: 5}\ny: &y {runas: y, sudo: true}\nhooks:\n  E:\n    - <<: [*x, *y]\n      location: a.sh\n`;
    expect(spec(text).hooks.get('E')?.[0]).toMatchObject({ location: 'a.sh', runas: 'x', timeoutSeconds: 5, sudo: true });
  });

  it('only the first document is read, with a warning', () => {
    const result = parse(`${HEAD}---\nversion: 9\n`);
    expect(result.ok).toBe(true);
    expect(result.warnings.map((w) => [w.line, w.message])).toEqual([[3, 'The file holds 2 YAML documents; only the first one is read']]);
  });

  it('a document that is false is empty (Ruby falsiness)', () => {
    expect(messages('false\n')).toEqual([M.empty]);
  });

  it('keys are case-sensitive: Version is an unknown key', () => {
    const result = parse('Version: 0.0\nos: linux\n');
    expect(result.ok).toBe(false);
    expect(result.warnings.map((w) => w.message)).toEqual(["Unknown top-level key 'Version' is ignored"]);
  });

  it('an undefined alias is a YAML error, not a crash', () => {
    const result = parse(`${HEAD}hooks: *nope\n`);
    expect(!result.ok && result.errors.map((e) => [e.line, e.column, e.message])).toEqual([
      [
        3,
        8,
        'The deployment failed because the application specification file is not valid YAML: Unknown alias: nope (line 3, column 8). Correct the syntax of the AppSpec file, and then try again.',
      ],
    ]);
  });

  it('a billion-laughs document is read quickly without expanding aliases', () => {
    const levels = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    for (let i = 1; i < 10; i++) {
      const prev = String.fromCharCode(96 + i);
      const cur = String.fromCharCode(97 + i);
      levels.push(`${cur}: &${cur} [${Array(9).fill(`*${prev}`).join(',')}]`);
    }
    const text = `${HEAD}${levels.join('\n')}\nfiles: *j\npermissions:\n  - object: /x\n    context: {name: *j}\n`;
    const started = Date.now();
    const result = parse(text);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.errors[0]?.path).toBe('files[0]');
    const context = result.errors.find((e) => e.path === 'permissions[0].context.type');
    expect(context?.message.length).toBeLessThan(1000);
  });
});

describe('formatIssue', () => {
  it('puts the location after the official message on one line', () => {
    const result = parse(`${HEAD}hooks:\n  BeforeInstall:\n    - location: a.sh\n      timeout: foo\n`);
    expect(!result.ok && result.errors.map(formatIssue)).toEqual([`${M.timeout} (at appspec.yml:6:16, hooks.BeforeInstall[0].timeout)`]);
  });

  it('omits the empty key path', () => {
    expect(formatIssue({ message: 'm', file: 'f.yml', path: '', line: 1, column: 2 })).toBe('m (at f.yml:1:2)');
  });
});
