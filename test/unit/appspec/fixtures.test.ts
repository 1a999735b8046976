import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatAce, formatRange, parseAppSpec, type AppSpec } from '../../../appspec/index.js';
import { M } from './official-messages.js';

const FIXTURES = join(import.meta.dirname, '../../fixtures/appspec');

function load(set: 'valid' | 'invalid', name: string) {
  return parseAppSpec(readFileSync(join(FIXTURES, set, name), 'utf8'), name);
}

function valid(name: string): AppSpec {
  const result = load('valid', name);
  if (!result.ok) throw new Error(`${name}: ${result.errors.map((e) => e.message).join('\n')}`);
  return result.spec;
}

/** [path, line, column, message] for each expected error, in the order reported. */
type Expected = Array<[string, number, number, string]>;

const INVALID: Array<[string, Expected]> = [
  // docs/reference.md section 10.2 #1, #2 and a null document
  ['empty.yml', [['', 1, 1, M.empty]]],
  ['whitespace.yml', [['', 1, 1, M.empty]]],
  ['null-document.yml', [['', 2, 1, M.empty]]],
  // #3, #4 and a float other than 0.0
  ['missing-version.yml', [['version', 1, 1, M.version('')]]],
  ['version-invalid.yml', [['version', 1, 10, M.version('invalid')]]],
  ['version-one.yml', [['version', 1, 10, M.version('1.0')]]],
  // #5 and case sensitivity
  ['file-exists-behavior-invalid.yml', [['file_exists_behavior', 2, 23, M.feb('invalid')]]],
  ['file-exists-behavior-lowercase.yml', [['file_exists_behavior', 3, 23, M.feb('overwrite')]]],
  // #6, #7 and the gap: windows on Linux
  ['missing-os.yml', [['os', 1, 1, M.os('')]]],
  ['os-unsupported.yml', [['os', 2, 5, M.os('unsupported')]]],
  ['os-windows.yml', [['os', 2, 5, M.os('windows')]]],
  // gap: hooks given as a string; a hook that is a mapping instead of a list
  [
    'hooks-string.yml',
    [
      [
        'hooks',
        3,
        8,
        'The deployment failed because the hooks section of the application specification file must be a mapping of lifecycle event names to lists of scripts, but it is a string. Update the hooks section of the AppSpec file, and then try again.',
      ],
    ],
  ],
  [
    'hook-not-list.yml',
    [
      [
        'hooks.BeforeInstall',
        5,
        5,
        'The deployment failed because the BeforeInstall hook in the hooks section of the application specification file must be a list of scripts, but it is a mapping. Update the hooks section of the AppSpec file, and then try again.',
      ],
    ],
  ],
  // #15, whitespace-only location, #16, gap: timeout 0
  ['hook-no-location.yml', [['hooks.test_hook[0].location', 5, 7, M.noLocation]]],
  ['hook-blank-location.yml', [['hooks.test_hook[0].location', 5, 17, M.noLocation]]],
  ['timeout-foo.yml', [['hooks.test_hook[0].timeout', 6, 16, M.timeout]]],
  ['timeout-zero.yml', [['hooks.test_hook[0].timeout', 6, 16, M.timeout]]],
  // #19, #20, a files item that is a string
  ['files-no-destination.yml', [['files[0].destination', 4, 5, M.noDestination('test_source')]]],
  ['files-no-source.yml', [['files[0].source', 4, 5, M.noSource]]],
  [
    'files-item-string.yml',
    [
      [
        'files[0]',
        4,
        5,
        'The deployment failed because an entry in the files section of the application specification file must be a mapping with source and destination keys, but it is a string. Update the files section of the AppSpec file, and then try again.',
      ],
    ],
  ],
  // #21 and the gap: an empty or blank object
  ['permissions-no-object.yml', [['permissions[0].object', 4, 5, M.noObject]]],
  [
    'permissions-empty-object.yml',
    [
      ['permissions[0].object', 4, 13, M.noObject],
      ['permissions[1].object', 5, 13, M.noObject],
    ],
  ],
  ['permission-type.yml', [['permissions[0].type[1]', 5, 18, M.type('socket')]]],
  // #61, #63 and the octal trap: 0755 is fine, 0008 is not
  ['mode-too-long.yml', [['permissions[0].mode', 5, 11, M.modeLength('12345')]]],
  [
    'mode-invalid-char.yml',
    [
      ['permissions[0].mode', 5, 11, M.modeChar('12a', 'a')],
      ['permissions[2].mode', 9, 11, M.modeChar('0008', '8')],
    ],
  ],
  // #69 through the appspec, #31, #32, #38
  [
    'acl-base-entry.yml',
    [
      ['permissions[0].acls[0]', 6, 9, M.aclBase('u::7')],
      ['permissions[0].acls[1]', 7, 9, M.aclBase('g::7')],
      ['permissions[0].acls[2]', 8, 9, M.aclBase('o:7')],
    ],
  ],
  [
    'acl-invalid.yml',
    [
      ['permissions[0].acls[0]', 5, 12, M.aclEntry('7')],
      ['permissions[0].acls[1]', 5, 17, M.aclEntry('d:u:bob:7:rwx')],
      ['permissions[0].acls[2]', 5, 34, M.aclChar('user:bob:rwxd', 'd')],
    ],
  ],
  // #57, #42, #60, roles
  ['context-no-type.yml', [['permissions[0].context.type', 6, 7, M.contextType('{"name"=>"name"}')]]],
  [
    'context-range.yml',
    [
      ['permissions[0].context.range', 7, 14, M.seRange('s3-s2:c0')],
      ['permissions[1].context.range', 9, 39, 'duplicate categories'],
      ['permissions[1].context.role', 9, 60, M.role],
    ],
  ],
  [
    'scalar-document.yml',
    [
      [
        '',
        1,
        1,
        'The deployment failed because the top level of the application specification file must be a mapping of keys such as version, os and hooks to their values, but it is a string. Update the top level of the AppSpec file, and then try again.',
      ],
    ],
  ],
  // every problem of a file, in the official order of checks
  [
    'many-problems.yml',
    [
      ['version', 1, 10, M.version('1')],
      ['hooks.BeforeInstall[0].timeout', 9, 16, M.timeout],
      ['hooks.AfterInstall[0].location', 11, 7, M.noLocation],
      ['files[0].destination', 13, 5, M.noDestination('app')],
      ['files[1].source', 14, 5, M.noSource],
      ['permissions[0].mode', 17, 11, M.modeChar('999', '9')],
      ['file_exists_behavior', 18, 23, M.feb('Retain')],
    ],
  ],
];

describe('invalid fixtures', () => {
  it.each(INVALID)('%s', (name, expected) => {
    const result = load('invalid', name);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.errors.map((e) => [e.path, e.line, e.column, e.message])).toEqual(expected);
    for (const e of result.errors) expect(e.file).toBe(name);
  });

  it('reports a YAML syntax error with its position and the problem', () => {
    const result = load('invalid', 'syntax-error.yml');
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.errors.length).toBeGreaterThan(0);
    const first = result.errors[0];
    expect(first?.message).toMatch(
      /^The deployment failed because the application specification file is not valid YAML: Flow map .* \(line 5, column 1\)\. Correct the syntax of the AppSpec file, and then try again\.$/,
    );
    expect([first?.line, first?.column]).toEqual([5, 1]);
  });

  it('warns about the unknown top-level key next to the errors', () => {
    const result = load('invalid', 'many-problems.yml');
    expect(result.warnings.map((w) => [w.path, w.line, w.column, w.message])).toEqual([
      ['hook', 3, 1, "Unknown top-level key 'hook' is ignored"],
    ]);
  });
});

const scripts = (spec: AppSpec, event: string) => spec.hooks.get(event) ?? [];

describe('valid fixtures', () => {
  it('minimal.yml: no hooks, files or permissions (10.2 #8)', () => {
    const spec = valid('minimal.yml');
    expect(spec).toMatchObject({ file: 'minimal.yml', version: '0.0', os: 'linux', files: [], permissions: [] });
    expect(spec.hooks.size).toBe(0);
    expect(spec.fileExistsBehavior).toBeUndefined();
  });

  it('hooks.yml: runas, sudo, timeouts, order; null and empty hooks are absent (10.2 #9-#14)', () => {
    const spec = valid('hooks.yml');
    expect([...spec.hooks.keys()]).toEqual(['test_hook', 'second_hook']);
    const first = scripts(spec, 'test_hook');
    expect(first.map((s) => [s.location, s.runas, s.timeoutSeconds, s.sudo])).toEqual([
      ['test_location_1', 'foo', 30, true],
      ['test_location_2', 'foo2', 30, false],
    ]);
    expect(first[0]?.where).toEqual({ file: 'hooks.yml', path: 'hooks.test_hook[0]', line: 6, column: 7 });
    const second = scripts(spec, 'second_hook');
    expect(second.map((s) => s.location)).toEqual(['test_location', 'test_location_lr', 'test_location_lt']);
    expect(second.map((s) => s.runas)).toEqual([undefined, 'foo3', undefined]);
    expect(second.map((s) => s.timeoutSeconds)).toEqual([3600, 3600, 30]);
    expect(spec.hooks.has('empty_test_hook')).toBe(false);
    expect(spec.hooks.has('empty_list_hook')).toBe(false);
  });

  it('files.yml: mappings in order, values as written (10.2 #17, #18)', () => {
    const spec = valid('files.yml');
    expect(spec.files.map((f) => [f.source, f.destination])).toEqual([
      ['test_source', 'test_destination'],
      ['test_source_2', 'test_destination_2'],
      ['/', '/var/www/app'],
      ['2024', 'yes'],
    ]);
    expect(spec.files[1]?.where).toEqual({ file: 'files.yml', path: 'files[1]', line: 6, column: 5 });
  });

  it('permissions-full.yml: every key (10.2 #22, #23, #30)', () => {
    const spec = valid('permissions-full.yml');
    expect(spec.permissions.map((p) => p.object)).toEqual(['test', '/', 'more']);
    const [full, root, more] = spec.permissions;
    expect(full).toMatchObject({
      object: 'test',
      pattern: 'prefix*',
      except: ['*ReadMe', '*.tmp'],
      types: ['file'],
      owner: 'bob',
      group: 'dev',
      mode: { text: '6763', value: 0o6763 },
    });
    expect(full?.acls?.map(formatAce)).toEqual(['user:henry:rwx', 'default:group:manager:rw-']);
    expect(full?.context).toEqual({
      user: 'user_u',
      type: 'unconfined_t',
      range: { low: 3, high: 5, categories: [0, 1, 2, 3, 4, 5, 6, 7, 13] },
    });
    expect(formatRange(full?.context?.range ?? { low: 0, high: 0 })).toBe('s3-s5:c0.c7,c13');
    expect(root).toMatchObject({ object: '/', pattern: '**', except: [], types: ['file', 'directory'] });
    expect(more?.acls).toBeUndefined();
    expect(more?.where).toEqual({ file: 'permissions-full.yml', path: 'permissions[2]', line: 19, column: 5 });
  });

  it.each([
    ['version-zero-int.yml'], // gap: version 0
    ['version-string.yml'],
  ])('%s: version is 0.0', (name) => {
    expect(valid(name).version).toBe('0.0');
  });

  it('modes.yml: a mode is the characters written (gap: the YAML 1.1 octal trap; 10.2 #62, #64)', () => {
    const modes = valid('modes.yml').permissions.map((p) => [p.object, p.mode?.text, p.mode?.value]);
    expect(modes).toEqual([
      ['/a', '0644', 0o644],
      ['/b', '644', 0o644],
      ['/c', '0644', 0o644],
      ['/d', '012', 0o12],
      ['/e', '7777', 0o7777],
      ['/f', '0000', 0],
      ['/g', '4755', 0o4755],
    ]);
  });

  it('leading-slash-location.yml: location and runas trimmed, kept bundle-relative (gap); timeout "30s" is 30', () => {
    const [script] = scripts(valid('leading-slash-location.yml'), 'AfterInstall');
    expect(script).toMatchObject({ location: '/scripts/after_install.sh', runas: 'deploy', timeoutSeconds: 30, sudo: false });
  });

  it('yaml11.yml: yes/off/no booleans, 30.9 -> 30, ~ -> 3600, 030 -> 30', () => {
    const spec = valid('yaml11.yml');
    expect(scripts(spec, 'ApplicationStart').map((s) => [s.location, s.sudo, s.timeoutSeconds])).toEqual([
      ['start.sh', true, 30],
      ['stop.sh', false, 3600],
      ['other.sh', false, 30],
    ]);
    expect(spec.fileExistsBehavior).toBe('OVERWRITE');
  });

  it('anchors.yml: merge keys and aliases resolve; explicit keys win over merged ones', () => {
    const result = load('valid', 'anchors.yml');
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    const spec = result.spec;
    expect(scripts(spec, 'BeforeInstall').map((s) => [s.location, s.runas, s.timeoutSeconds])).toEqual([
      ['scripts/a.sh', 'deploy', 120],
      ['scripts/b.sh', 'deploy', 60],
    ]);
    expect(scripts(spec, 'ApplicationStart').map((s) => s.location)).toEqual(['scripts/c.sh']);
    expect(result.warnings.map((w) => w.message)).toEqual(["Unknown top-level key 'defaults' is ignored"]);
  });
});
