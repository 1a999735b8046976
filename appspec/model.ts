/**
 * The typed model of a validated appspec.yml (version 0.0, os linux). Produced by parseAppSpec;
 * consumed by the installer (files, permissions) and the hook runner (hooks). Pure data.
 */

export type FileExistsBehavior = 'DISALLOW' | 'OVERWRITE' | 'RETAIN';
export const FILE_EXISTS_BEHAVIORS: readonly FileExistsBehavior[] = ['DISALLOW', 'OVERWRITE', 'RETAIN'];

/** Where a value sits in the source file. line and column are 1-based. */
export interface SourceLocation {
  file: string;
  /** Key path in dotted form with list indexes, e.g. "hooks.BeforeInstall[0].timeout". */
  path: string;
  line: number;
  column: number;
}

/** One problem found in an appspec: the official message text plus where it is. */
export interface AppSpecIssue extends SourceLocation {
  message: string;
}

export interface HookScript {
  /** As written, trimmed. Always resolved relative to the revision root (a leading "/" included). */
  location: string;
  runas?: string;
  sudo: boolean;
  /** Positive whole seconds; default 3600. */
  timeoutSeconds: number;
  where: SourceLocation;
}

export interface FileMapping {
  /** As written ("/" or "" mean the whole revision). */
  source: string;
  destination: string;
  where: SourceLocation;
}

export type AceType = 'user' | 'group' | 'mask' | 'other';

/** One ACL entry, normalised (docs/reference.md section 5.2, ACE grammar). */
export interface Ace {
  isDefault: boolean;
  type: AceType;
  /** Empty for base, mask and other entries. */
  name: string;
  read: boolean;
  write: boolean;
  execute: boolean;
}

export interface SeRange {
  low: number;
  high: number;
  /** Sorted, de-duplicated category numbers; undefined when the range names none. */
  categories?: number[];
}

export interface SeContext {
  /** SELinux user (the appspec key "name"). */
  user?: string;
  type: string;
  range?: SeRange;
}

/** A permissions mode exactly as the user wrote it, e.g. "644", "0644", "4755". */
export interface Mode {
  /** The written digits, left-padded with "0" to at least 3 characters. */
  text: string;
  /** The numeric mode (setuid/setgid/sticky included), e.g. 0o644. */
  value: number;
}

export type PermissionObjectType = 'file' | 'directory';

export interface Permission {
  object: string;
  /** "**" when absent. */
  pattern: string;
  except: string[];
  types: PermissionObjectType[];
  owner?: string;
  group?: string;
  mode?: Mode;
  acls?: Ace[];
  context?: SeContext;
  where: SourceLocation;
}

export interface AppSpec {
  /** The file name the spec was read from (for messages). */
  file: string;
  version: '0.0';
  os: 'linux';
  /** Event name -> scripts in order. Events with a null or empty list are absent. */
  hooks: ReadonlyMap<string, readonly HookScript[]>;
  files: readonly FileMapping[];
  permissions: readonly Permission[];
  fileExistsBehavior?: FileExistsBehavior;
}

export type AppSpecParseResult =
  { ok: true; spec: AppSpec; warnings: AppSpecIssue[] } | { ok: false; errors: AppSpecIssue[]; warnings: AppSpecIssue[] };
