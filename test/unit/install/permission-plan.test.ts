/**
 * Permission matching (docs/reference.md sections 5.4, 10.6 CommandBuilder find_matches cases) and the operations
 * emitted per matched path.
 */
import { describe, expect, it } from 'vitest';
import { AgentError, ErrorCodes } from '../../../agent/errors.js';
import { instructionObject } from '../../../agent/install/instructions-json.js';
import { planInstall } from '../../../agent/install/install-plan.js';
import type { PathFact, SourceNode } from '../../../agent/install/operations.js';
import { matchesSimpleGlob } from '../../../agent/install/permission-plan.js';
import type { Permission } from '../../../appspec/model.js';
import { appSpec, dir, FILE, permission, SYMLINK, type PermissionInput } from './appspec-builder.js';

const EXISTING = new Map<string, PathFact>([
  ['/', { isDirectory: true }],
  ['/base', { isDirectory: true }],
]);

/** directory/target/file_target copied; directory and directory/target created (relative to /base). */
function planWith(permissions: Permission[], sources: SourceNode[] = [dir(['target', dir(['file_target', FILE])])]) {
  return planInstall({
    appspec: appSpec({ files: [['src', 'directory']], permissions }),
    archiveDir: '/archive',
    baseDir: '/base',
    sources,
    facts: EXISTING,
  });
}

function permissionJson(permissions: Permission[], sources?: SourceNode[]) {
  return planWith(permissions, sources)
    .ops.filter((op) => op.type !== 'copy' && op.type !== 'mkdir')
    .map(instructionObject);
}

function matched(permissions: Permission[]): string[] {
  return permissionJson(permissions).map((o) => o.file as string);
}

function failure(fn: () => unknown): AgentError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(AgentError);
    return err as AgentError;
  }
  throw new Error('expected a failure');
}

describe('permission matching (docs/reference.md section 10.6)', () => {
  const p = (input: PermissionInput) => permission({ mode: '644', ...input });

  it.each([
    [
      'pattern file* matches a file for type [file]',
      p({ object: 'directory/target', pattern: 'file*', types: ['file'] }),
      ['/base/directory/target/file_target'],
    ],
    ['pattern file* ignores files for type [directory]', p({ object: 'directory/target', pattern: 'file*', types: ['directory'] }), []],
    ['pattern filefile* does not match', p({ object: 'directory/target', pattern: 'filefile*', types: ['file'] }), []],
    ['except *target excludes it', p({ object: 'directory/target', pattern: 'file*', except: ['*target'], types: ['file'] }), []],
    [
      'directory/ with tar* matches a created directory for [directory]',
      p({ object: 'directory/', pattern: 'tar*', types: ['directory'] }),
      ['/base/directory/target'],
    ],
    ['directory/ with tar* ignores directories for [file]', p({ object: 'directory/', pattern: 'tar*', types: ['file'] }), []],
    ['tarr* does not match', p({ object: 'directory/', pattern: 'tarr*', types: ['directory'] }), []],
    ['except *et excludes it', p({ object: 'directory/', pattern: 'tar*', except: ['*et'], types: ['directory'] }), []],
    [
      'a non-** pattern matches direct children only',
      p({ object: 'directory', pattern: '*', types: ['file', 'directory'] }),
      ['/base/directory/target'],
    ],
    [
      '** matches at any depth, files first, never the object itself',
      p({ object: 'directory' }),
      ['/base/directory/target/file_target', '/base/directory/target'],
    ],
    ['an exact file object', p({ object: 'directory/target/file_target', types: ['file'] }), ['/base/directory/target/file_target']],
    ['an exact file object without type file does nothing', p({ object: 'directory/target/file_target', types: ['directory'] }), []],
    ['an object that is neither copied nor a directory does nothing', p({ object: '/elsewhere' }), []],
  ])('%s', (_name, perm, expected) => {
    expect(matched([perm])).toEqual(expected);
  });

  it('an existing directory object matches what this deployment puts below it, not what was there', () => {
    const result = planInstall({
      appspec: appSpec({ files: [['f', '/srv']], permissions: [permission({ object: '/srv', mode: '600' })] }),
      archiveDir: '/archive',
      baseDir: '/base',
      sources: [FILE],
      facts: new Map([...EXISTING, ['/srv', { isDirectory: true }], ['/srv/old', { isDirectory: false }]]),
    });
    expect(result.ops.map(instructionObject)).toEqual([
      { type: 'copy', source: '/archive/f', destination: '/srv/f' },
      { type: 'chmod', mode: '600', file: '/srv/f' },
    ]);
  });

  it('the simple glob: only * is special, one path component', () => {
    expect(matchesSimpleGlob('file_target', 'file*')).toBe(true);
    expect(matchesSimpleGlob('file_target', '*target')).toBe(true);
    expect(matchesSimpleGlob('file_target', 'f*_*t')).toBe(true);
    expect(matchesSimpleGlob('file_target', '**')).toBe(true);
    expect(matchesSimpleGlob('ab', 'a*b*')).toBe(true);
    expect(matchesSimpleGlob('aXbXc', 'a*b*c')).toBe(true);
    expect(matchesSimpleGlob('abc', 'a*bc*c')).toBe(false);
    expect(matchesSimpleGlob('a', 'a*a')).toBe(false);
    expect(matchesSimpleGlob('file.txt', 'file?txt')).toBe(false);
    expect(matchesSimpleGlob('sub/file', '*')).toBe(false);
    expect(matchesSimpleGlob('2', '2')).toBe(true);
  });
});

describe('permission checks and operations', () => {
  it('a path matched twice fails with the official message', () => {
    const err = failure(() =>
      planWith([permission({ object: 'directory', mode: '644' }), permission({ object: 'directory/target', mode: '600' })]),
    );
    expect(err.code).toBe(ErrorCodes.INSTALL_FAILED);
    expect(err.message).toBe(
      'The deployment failed because the permissions setting for (/base/directory/target/file_target) is specified more than once in the application specification file. Update the files section of the AppSpec file, and then try again.',
    );
  });

  it('a file object with a pattern, an except or a default ACE fails with the official messages', () => {
    const object = 'directory/target/file_target';
    expect(failure(() => planWith([permission({ object, pattern: 'x*' })])).message).toBe(
      'The deployment failed because the application specification file includes an object (directory/target/file_target) with an invalid pattern (x*), such as a pattern for a file applied to a directory. Correct the permissions section of the AppSpec file, and then try again.',
    );
    expect(failure(() => planWith([permission({ object, except: ['a', 'b'] })])).message).toBe(
      'The deployment failed because the except parameter for a pattern in the permissions section (["a", "b"]) for the object named directory/target/file_target contains an invalid format. Update the AppSpec file, and then try again.',
    );
    const defaultAce =
      'The deployment failed because the -d parameter has been specified to apply an acl setting to a file. This parameter is supported for directories only. Update the AppSpec file, and then try again.';
    expect(failure(() => planWith([permission({ object, acls: ['default:user:bob:rwx'] })])).message).toBe(defaultAce);
    // A directory object matching a file with a default ACE fails the same way.
    expect(failure(() => planWith([permission({ object: 'directory', acls: ['default:user:bob:rwx'] })])).message).toBe(defaultAce);
    // ...but is fine when only directories are matched.
    expect(matched([permission({ object: 'directory', types: ['directory'], acls: ['default:user:bob:rwx'] })])).toEqual([
      '/base/directory/target',
    ]);
  });

  it('a full permission emits chmod, setfacl, semanage, chown in that order (official shapes)', () => {
    const perm = permission({
      object: 'directory/target',
      types: ['directory'],
      pattern: '**',
      mode: '744',
      acls: ['user:bob:rwx', 'default:group:dev:r--'],
      context: { user: 'name', type: 'type', range: { low: 2, high: 3, categories: [0, 2, 3, 4, 6] } },
      owner: 'bob',
      group: 'dev',
    });
    const sources = [dir(['target', dir(['sub', dir()])])];
    expect(permissionJson([perm], sources)).toEqual([
      { type: 'chmod', mode: '744', file: '/base/directory/target/sub' },
      { type: 'setfacl', acl: ['user:bob:rwx', 'default:group:dev:r--'], file: '/base/directory/target/sub' },
      {
        type: 'semanage',
        context: { user: 'name', role: null, type: 'type', range: 's2-s3:c0,c2.c4,c6' },
        file: '/base/directory/target/sub',
      },
      { type: 'chown', owner: 'bob', group: 'dev', file: '/base/directory/target/sub' },
    ]);
  });

  it('owner-only and group-only chown carry null for the other; an empty permission emits nothing', () => {
    const object = 'directory/target/file_target';
    expect(permissionJson([permission({ object, owner: 'bob' })])).toEqual([
      { type: 'chown', owner: 'bob', group: null, file: `/base/${object}` },
    ]);
    expect(permissionJson([permission({ object, group: 'dev' })])).toEqual([
      { type: 'chown', owner: null, group: 'dev', file: `/base/${object}` },
    ]);
    const result = planWith([permission({ object })]);
    expect(result.ops.filter((op) => op.type !== 'copy' && op.type !== 'mkdir')).toEqual([]);
    expect(result.permissionTargets).toBe(0);
  });

  it('setuid/setgid modes put chown first so the bits survive', () => {
    const object = 'directory/target/file_target';
    expect(permissionJson([permission({ object, mode: '4755', owner: 'bob' })]).map((o) => o.type)).toEqual(['chown', 'chmod']);
    expect(permissionJson([permission({ object, mode: '2755', group: 'dev' })]).map((o) => o.type)).toEqual(['chown', 'chmod']);
    expect(permissionJson([permission({ object, mode: '1755', owner: 'bob' })]).map((o) => o.type)).toEqual(['chmod', 'chown']);
  });

  it('symlinks this deployment creates only get chown, without following the link', () => {
    const result = planWith(
      [permission({ object: 'directory', mode: '777', acls: ['user:bob:rwx'], owner: 'bob' })],
      [dir(['link', SYMLINK])],
    );
    const perms = result.ops.filter((op) => op.type !== 'copy' && op.type !== 'mkdir');
    expect(perms).toHaveLength(1);
    expect(perms[0]).toMatchObject({ type: 'chown', file: '/base/directory/link', owner: 'bob', noFollow: true });
  });
});
