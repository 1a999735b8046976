/**
 * Builds AppSpec objects directly for installer tests (the parser is tested on its own), plus
 * source listings for the pure planner.
 */
import type { Ace, AceType, AppSpec, FileExistsBehavior, FileMapping, Mode, Permission, SourceLocation } from '../../../appspec/model.js';
import type { SourceEntry, SourceNode } from '../../../agent/install/operations.js';

export function where(path: string, line = 1): SourceLocation {
  return { file: 'appspec.yml', path, line, column: 1 };
}

export interface AppSpecInput {
  files?: Array<[source: string, destination: string]>;
  permissions?: Permission[];
  fileExistsBehavior?: FileExistsBehavior;
}

export function appSpec(input: AppSpecInput = {}): AppSpec {
  const files: FileMapping[] = (input.files ?? []).map(([source, destination], i) => ({
    source,
    destination,
    where: where(`files[${i}]`, 4 + i * 2),
  }));
  return {
    file: 'appspec.yml',
    version: '0.0',
    os: 'linux',
    hooks: new Map(),
    files,
    permissions: input.permissions ?? [],
    ...(input.fileExistsBehavior ? { fileExistsBehavior: input.fileExistsBehavior } : {}),
  };
}

export type PermissionInput = Partial<Omit<Permission, 'mode' | 'acls'>> & {
  object: string;
  mode?: string;
  acls?: string[];
};

let permissionCount = 0;

/** A permission with the parser's defaults: pattern "**", no except, both types. */
export function permission(input: PermissionInput): Permission {
  const { mode: modeText, acls, ...rest } = input;
  return {
    pattern: '**',
    except: [],
    types: ['file', 'directory'],
    where: where(`permissions[${permissionCount++}]`, 20),
    ...rest,
    ...(modeText !== undefined ? { mode: mode(modeText) } : {}),
    ...(acls !== undefined ? { acls: acls.map(ace) } : {}),
  };
}

export function mode(text: string): Mode {
  return { text: text.padStart(3, '0'), value: parseInt(text, 8) };
}

/** A normalised ACE from its normalised text, e.g. "default:user:bob:rwx" or "mask::r-x". */
export function ace(text: string): Ace {
  const parts = text.split(':');
  const isDefault = parts[0] === 'default';
  if (isDefault) parts.shift();
  const [type, name, perms] = parts as [AceType, string, string];
  return { isDefault, type, name, read: perms[0] === 'r', write: perms[1] === 'w', execute: perms[2] === 'x' };
}

export const FILE: SourceNode = { kind: 'file' };
export const SYMLINK: SourceNode = { kind: 'symlink' };

/** A directory listing: dir(['a', FILE], ['sub', dir(...)]) keeps the given order. */
export function dir(...entries: Array<[string, SourceNode]>): SourceNode {
  return { kind: 'directory', entries: entries.map(([name, node]): SourceEntry => ({ name, node })) };
}
