/**
 * The entry list for `setfacl --set` (pure). docs/reference.md sections 5.4 and 10.6, install_instruction.rb
 * get_full_acl: the appspec's entries, then the base entries from the file's current mode
 * (user::, group::, other::), mask:: with the group bits when named entries exist without a mask,
 * and, when any default entry exists, the missing default:user::, default:group::, default:other::
 * and default:mask:: (the latter only with named default entries, with the default group's bits).
 * Built fresh for every path: the official agent's shared AclInfo kept piling up base entries from
 * one file to the next (docs/reference.md section 11.2 item 10).
 */
import { formatAce } from '../../appspec/format.js';
import type { Ace, AceType } from '../../appspec/model.js';

export function buildSetfaclEntries(acl: readonly Ace[], mode: number): string[] {
  const user = (mode >> 6) & 7;
  const group = (mode >> 3) & 7;
  const other = mode & 7;
  const all: Ace[] = [...acl];
  const add = (isDefault: boolean, type: AceType, bits: number): void => {
    all.push({ isDefault, type, name: '', read: (bits & 4) !== 0, write: (bits & 2) !== 0, execute: (bits & 1) !== 0 });
  };
  add(false, 'user', user);
  add(false, 'group', group);
  add(false, 'other', other);
  const has = (test: (ace: Ace) => boolean): boolean => all.some(test);
  if (has((a) => !a.isDefault && a.name !== '') && !has((a) => !a.isDefault && a.type === 'mask')) add(false, 'mask', group);
  if (has((a) => a.isDefault)) {
    if (!has((a) => a.isDefault && a.type === 'user' && a.name === '')) add(true, 'user', user);
    if (!has((a) => a.isDefault && a.type === 'group' && a.name === '')) add(true, 'group', group);
    if (!has((a) => a.isDefault && a.type === 'other')) add(true, 'other', other);
    if (has((a) => a.isDefault && a.name !== '') && !has((a) => a.isDefault && a.type === 'mask')) {
      const defaultGroup = all.find((a) => a.isDefault && a.type === 'group' && a.name === '') as Ace;
      all.push({ ...defaultGroup, type: 'mask' });
    }
  }
  return all.map(formatAce);
}

/** The argv for setfacl: ["--set", "<comma list>", path]. */
export function setfaclArgs(acl: readonly Ace[], mode: number, path: string): string[] {
  return ['--set', buildSetfaclEntries(acl, mode).join(','), path];
}
