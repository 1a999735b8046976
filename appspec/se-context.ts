/**
 * permissions[].context (docs/reference.md section 5.2; context_info.rb): {name?, type, range?}. name is
 * the SELinux user; type is required; range follows the grammar in selinux-range.ts. A role is
 * rejected with the official "roles are not supported" message.
 */
import { join, type ParseContext } from './context.js';
import { invalidContextType, rolesNotSupported } from './messages.js';
import type { SeContext } from './model.js';
import { rubyInspect } from './ruby.js';
import { parseSeRange } from './selinux-range.js';
import type { Entry } from './yaml-tree.js';

const CONTEXT_KEYS = ['name', 'type', 'range', 'role'] as const;
const SECTION = 'permissions section';

export function parseSeContext(ctx: ParseContext, entry: Entry, path: string): SeContext | undefined {
  const map = ctx.expectMap(
    entry.value,
    'the context of a permission',
    'a mapping with a type key (and optional name and range)',
    SECTION,
    path,
    entry.offset,
  );
  if (map === null) return undefined;
  const keys = ctx.mapping(map, path);
  ctx.unknownKeys(keys, CONTEXT_KEYS, 'context', path);
  let valid = true;

  const typeEntry = keys.get('type');
  const type = ctx.text(typeEntry, 'the type of a context', SECTION, join(path, 'type'));
  if (type === null) {
    ctx.error(invalidContextType(rubyInspect(ctx.tree, map)), join(path, 'type'), entry.offset);
    valid = false;
  }

  const user = ctx.text(keys.get('name'), 'the name of a context', SECTION, join(path, 'name'));

  const rangeEntry = keys.get('range');
  const rangeText = ctx.text(rangeEntry, 'the range of a context', SECTION, join(path, 'range'));
  let range;
  if (typeof rangeText === 'string' && rangeEntry) {
    const parsed = parseSeRange(rangeText);
    if (parsed.ok) range = parsed.value;
    else {
      ctx.error(parsed.message, join(path, 'range'), rangeEntry.offset);
      valid = false;
    }
  }

  const roleEntry = keys.get('role');
  if (roleEntry && !ctx.tree.isNull(roleEntry.value)) {
    ctx.error(rolesNotSupported(), join(path, 'role'), roleEntry.offset);
    valid = false;
  }

  if (!valid || typeof type !== 'string' || user === undefined || rangeText === undefined) return undefined;
  const context: SeContext = { type };
  if (user !== null) context.user = user;
  if (range) context.range = range;
  return context;
}
