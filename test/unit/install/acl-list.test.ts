import { describe, expect, it } from 'vitest';
import { buildSetfaclEntries, setfaclArgs } from '../../../agent/install/acl-list.js';
import { ace } from './appspec-builder.js';

describe('setfacl entry list (docs/reference.md sections 5.4, 10.6)', () => {
  it('matches the official example argument exactly', () => {
    const args = setfaclArgs([ace('user:bob:rwx'), ace('default:user:bob:rwx')], 0o100421, 'testfile.txt');
    expect(['setfacl', ...args].join(' ')).toBe(
      'setfacl --set user:bob:rwx,default:user:bob:rwx,user::r--,group::-w-,other::--x,mask::-w-,default:user::r--,default:group::-w-,default:other::--x,default:mask::-w- testfile.txt',
    );
  });

  it('no named entries: base entries only, no mask', () => {
    expect(buildSetfaclEntries([], 0o100750)).toEqual(['user::rwx', 'group::r-x', 'other::---']);
  });

  it('a given mask is kept and not added again', () => {
    expect(buildSetfaclEntries([ace('group:dev:rw-'), ace('mask::r--')], 0o644)).toEqual([
      'group:dev:rw-',
      'mask::r--',
      'user::rw-',
      'group::r--',
      'other::r--',
    ]);
  });

  it('default entries: the given default group sets the default mask; no default mask without named default entries', () => {
    expect(buildSetfaclEntries([ace('default:group:dev:r-x'), ace('default:group::rwx')], 0o40755)).toEqual([
      'default:group:dev:r-x',
      'default:group::rwx',
      'user::rwx',
      'group::r-x',
      'other::r-x',
      'default:user::rwx',
      'default:other::r-x',
      'default:mask::rwx',
    ]);
    expect(buildSetfaclEntries([ace('default:user::rw-')], 0o40700)).toEqual([
      'default:user::rw-',
      'user::rwx',
      'group::---',
      'other::---',
      'default:group::---',
      'default:other::---',
    ]);
  });

  it('is built fresh for every path (no entries carried over)', () => {
    const acl = [ace('user:bob:rwx')];
    const first = buildSetfaclEntries(acl, 0o644);
    const second = buildSetfaclEntries(acl, 0o600);
    expect(second).toEqual(['user:bob:rwx', 'user::rw-', 'group::---', 'other::---', 'mask::---']);
    expect(first).toHaveLength(5);
    expect(acl).toHaveLength(1);
  });
});
