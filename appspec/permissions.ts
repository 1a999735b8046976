/**
 * The permissions section (docs/reference.md section 5.2; application_specification.rb parse_permissions,
 * linux_permission_info.rb): object (required, trimmed), pattern, except, type, owner, group, mode,
 * acls, context. Every problem of every entry is reported.
 */
import { isMap, isSeq } from 'yaml';
import { parseAce } from './ace.js';
import { join, type ParseContext } from './context.js';
import { emptyTypeList, permissionWithoutObject, permissionsOnWindows, unsupportedObjectType, wrongShape } from './messages.js';
import type { Ace, Permission, PermissionObjectType } from './model.js';
import { parseMode } from './mode.js';
import { rubyToS } from './ruby.js';
import { parseSeContext } from './se-context.js';
import type { Entry } from './yaml-tree.js';

const PERMISSION_KEYS = ['object', 'pattern', 'except', 'type', 'owner', 'group', 'mode', 'acls', 'context'] as const;
const OBJECT_TYPES: readonly PermissionObjectType[] = ['file', 'directory'];
const SECTION = 'permissions section';

export function parsePermissions(ctx: ParseContext, entry: Entry | undefined, os: string | null | undefined): Permission[] {
  const permissions: Permission[] = [];
  if (entry === undefined || ctx.tree.isFalsy(entry.value)) return permissions;
  const seq = ctx.expectSeq(
    entry.value,
    'the permissions section',
    'a list of mappings with an object key',
    SECTION,
    'permissions',
    entry.offset,
  );
  if (seq === null) return permissions;
  if (os === 'windows' && seq.items.length > 0) {
    ctx.error(permissionsOnWindows(), 'permissions', entry.offset);
    return permissions;
  }
  for (const item of ctx.items(seq, 'permissions')) {
    const map = ctx.expectMap(
      item.node,
      'an entry in the permissions section',
      'a mapping with an object key',
      SECTION,
      item.path,
      item.offset,
    );
    if (map === null) continue;
    const permission = parsePermission(ctx, ctx.mapping(map, item.path), item.path, item.offset);
    if (permission) permissions.push(permission);
  }
  return permissions;
}

function parsePermission(ctx: ParseContext, keys: Map<string, Entry>, path: string, offset: number): Permission | undefined {
  ctx.unknownKeys(keys, PERMISSION_KEYS, 'permission', path);
  const errorsBefore = ctx.errors.length;
  const at = (key: string): string => join(path, key);

  const objectEntry = keys.get('object');
  const rawObject = ctx.text(objectEntry, 'the object of a permission', SECTION, at('object'));
  const object = typeof rawObject === 'string' ? rawObject.trim() : '';
  if (rawObject === null || (rawObject !== undefined && object === '')) {
    ctx.error(permissionWithoutObject(), at('object'), objectEntry?.offset ?? offset);
  }

  const pattern = ctx.text(keys.get('pattern'), 'the pattern of a permission', SECTION, at('pattern'));
  const except = stringList(ctx, keys.get('except'), 'except', at('except'));
  const types = typeList(ctx, keys.get('type'), at('type'));
  const owner = ctx.text(keys.get('owner'), 'the owner of a permission', SECTION, at('owner'));
  const group = ctx.text(keys.get('group'), 'the group of a permission', SECTION, at('group'));

  const modeEntry = keys.get('mode');
  const modeText = ctx.text(modeEntry, 'the mode of a permission', SECTION, at('mode'));
  const mode = typeof modeText === 'string' ? parseMode(modeText) : undefined;
  if (mode && !mode.ok) ctx.error(mode.message, at('mode'), modeEntry?.offset ?? offset);

  const aclTexts = stringList(ctx, keys.get('acls'), 'acls', at('acls'));
  const acls: Ace[] = [];
  for (const ace of aclTexts ?? []) {
    const parsed = parseAce(ace.text);
    if (parsed.ok) acls.push(parsed.value);
    else ctx.error(parsed.message, ace.path, ace.offset);
  }

  const contextEntry = keys.get('context');
  const context = contextEntry && !ctx.tree.isNull(contextEntry.value) ? parseSeContext(ctx, contextEntry, at('context')) : undefined;

  if (ctx.errors.length > errorsBefore || !object) return undefined;
  const permission: Permission = {
    object,
    pattern: pattern === null || pattern === undefined || pattern === '**' ? '**' : pattern,
    except: (except ?? []).map((e) => e.text),
    types: types ?? [...OBJECT_TYPES],
    where: ctx.where(path, offset),
  };
  if (typeof owner === 'string') permission.owner = owner;
  if (typeof group === 'string') permission.group = group;
  if (mode?.ok) permission.mode = mode.value;
  if (aclTexts) permission.acls = acls;
  if (context) permission.context = context;
  return permission;
}

interface ListItem {
  text: string;
  path: string;
  offset: number;
}

/** A list of strings (except, acls); null when absent, undefined when it is not a list (reported). */
function stringList(ctx: ParseContext, entry: Entry | undefined, key: string, path: string): ListItem[] | null | undefined {
  if (entry === undefined || ctx.tree.isNull(entry.value)) return null;
  const seq = ctx.expectSeq(entry.value, `the ${key} value of a permission`, 'a list of strings', SECTION, path, entry.offset);
  if (seq === null) return undefined;
  const result: ListItem[] = [];
  for (const item of ctx.items(seq, path)) {
    if (item.node === null || ctx.tree.isNull(item.node) || isMap(item.node) || isSeq(item.node)) {
      ctx.error(
        wrongShape(`an item of the ${key} list of a permission`, 'a string', ctx.tree.kindOf(item.node), SECTION),
        item.path,
        item.offset,
      );
      continue;
    }
    result.push({ text: ctx.tree.scalarText(item.node), path: item.path, offset: item.offset });
  }
  return result;
}

/** The type list: each item file or directory; null when absent. */
function typeList(ctx: ParseContext, entry: Entry | undefined, path: string): PermissionObjectType[] | null {
  if (entry === undefined || ctx.tree.isNull(entry.value)) return null;
  const seq = ctx.expectSeq(
    entry.value,
    'the type value of a permission',
    'a list of object types (file, directory)',
    SECTION,
    path,
    entry.offset,
  );
  if (seq === null) return null;
  const types: PermissionObjectType[] = [];
  for (const item of ctx.items(seq, path)) {
    const text = rubyToS(ctx.tree, item.node);
    const known = OBJECT_TYPES.find((t) => t === text && item.node !== null && !isMap(item.node) && !isSeq(item.node));
    if (known) types.push(known);
    else ctx.error(unsupportedObjectType(text), item.path, item.offset);
  }
  if (types.length === 0 && seq.items.length === 0) ctx.warn(emptyTypeList(), path, entry.offset);
  return types;
}
