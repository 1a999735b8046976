/**
 * One ACL entry (docs/reference.md section 5.2, ACE grammar; ace_info.rb). Split on ":" keeping empty
 * parts, read right to left: [d|default:][u|user|g|group|m|mask|o|other:]<name-or-type>:<perms>.
 */
import type { Ace, AceType } from './model.js';
import { baseAclEntry, invalidAclCharacter, invalidAclEntry } from './messages.js';
import { fail, ok, type Parsed } from './result.js';

export interface ParseAceOptions {
  /**
   * The agent's own base entries (user::, group::, other::, built from the file mode by the
   * installer) skip the "Use mode to set the base acl entry" rule. Appspec entries never do.
   */
  internal?: boolean;
}

const TYPE_WORDS: Readonly<Record<string, AceType>> = {
  m: 'mask',
  mask: 'mask',
  o: 'other',
  other: 'other',
  g: 'group',
  group: 'group',
  u: 'user',
  user: 'user',
};

const isDefaultWord = (word: string | undefined): boolean => word === 'd' || word === 'default';

export function parseAce(text: string, options: ParseAceOptions = {}): Parsed<Ace> {
  const parts = text.split(':').reverse();
  if (parts.length < 2 || parts.length > 4) return fail(invalidAclEntry(text));

  let isDefault = false;
  let type: AceType | undefined;
  let name = '';

  if (parts.length === 4) {
    if (!isDefaultWord(parts[3])) return fail(invalidAclEntry(text));
    isDefault = true;
  }
  if (parts.length >= 3) {
    const word = parts[2] as string;
    if (isDefaultWord(word)) {
      if (isDefault) return fail(invalidAclEntry(text));
      isDefault = true;
    } else {
      const named = Object.hasOwn(TYPE_WORDS, word) ? TYPE_WORDS[word] : undefined;
      if (named === undefined) return fail(invalidAclEntry(text));
      type = named;
    }
  }

  const second = parts[1] as string;
  const secondType = Object.hasOwn(TYPE_WORDS, second) ? TYPE_WORDS[second] : undefined;
  if (secondType === 'mask' || secondType === 'other') {
    if (type === undefined) type = secondType;
    else name = secondType;
  } else {
    type ??= 'user';
    name = second;
  }

  if ((type === 'mask' || type === 'other') && name !== '') return fail(invalidAclEntry(text));
  if (!options.internal && !isDefault && type !== 'mask' && name === '') return fail(baseAclEntry(text));

  const perms = parts[0] as string;
  let read = false;
  let write = false;
  let execute = false;
  if (/^[0-7]$/.test(perms)) {
    const bits = Number(perms);
    read = (bits & 4) !== 0;
    write = (bits & 2) !== 0;
    execute = (bits & 1) !== 0;
  } else {
    for (const char of perms) {
      if (char === 'r') read = true;
      else if (char === 'w') write = true;
      else if (char === 'x') execute = true;
      else if (char !== '-') return fail(invalidAclCharacter(text, char));
    }
  }
  return ok({ isDefault, type, name, read, write, execute });
}
