/**
 * parseAppSpec: appspec.yml text -> the typed model, or every problem found, each with the official
 * message and its location. YAML 1.1 (as the official agent's Psych reads it). Total: it never
 * throws, whatever the input.
 */
import { isScalar, LineCounter, parseAllDocuments, type Document, type YAMLError } from 'yaml';
import { ParseContext } from './context.js';
import { parseFiles } from './files.js';
import { parseHooks } from './hooks.js';
import {
  emptyAppSpec,
  extraDocuments,
  internalFailure,
  invalidFileExistsBehavior,
  invalidVersion,
  notYaml,
  unsupportedOs,
  yamlWarning,
} from './messages.js';
import { FILE_EXISTS_BEHAVIORS, type AppSpec, type AppSpecIssue, type AppSpecParseResult, type FileExistsBehavior } from './model.js';
import { parsePermissions } from './permissions.js';
import { rubyToS } from './ruby.js';
import { YamlTree, type Entry } from './yaml-tree.js';

const TOP_LEVEL_KEYS = ['version', 'os', 'hooks', 'files', 'permissions', 'file_exists_behavior'] as const;

export function parseAppSpec(text: string, file: string): AppSpecParseResult {
  try {
    return parseText(String(text), file);
  } catch (err) {
    const detail = err instanceof Error ? err.message : String(err);
    return { ok: false, errors: [{ message: internalFailure(detail), file, path: '', line: 1, column: 1 }], warnings: [] };
  }
}

function parseText(text: string, file: string): AppSpecParseResult {
  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(text, { version: '1.1', uniqueKeys: false, lineCounter, prettyErrors: false });
  const issue = (message: string, offset: number, path = ''): AppSpecIssue => {
    const pos = lineCounter.linePos(offset);
    return { message, file, path, line: pos.line, column: pos.col };
  };
  const first: Document.Parsed | undefined = Array.isArray(docs) ? docs[0] : undefined;
  if (first === undefined) return { ok: false, errors: [issue(emptyAppSpec(), 0)], warnings: [] };

  const warnings = first.warnings.map((w) => issue(yamlWarning(problemOf(w)), w.pos[0]));
  const second = docs[1];
  if (second !== undefined) warnings.push(issue(extraDocuments(docs.length), second.range[0]));
  if (first.errors.length > 0) {
    const errors = first.errors.map((e) => {
      const pos = lineCounter.linePos(e.pos[0]);
      return issue(notYaml(problemOf(e), pos.line, pos.col), e.pos[0]);
    });
    return { ok: false, errors, warnings };
  }

  const tree = new YamlTree(first, lineCounter, text);
  if (tree.unresolved.length > 0) {
    const errors = tree.unresolved.map((alias) => {
      const pos = lineCounter.linePos(alias.offset);
      return issue(notYaml(`Unknown alias: ${alias.name}`, pos.line, pos.col), alias.offset);
    });
    return { ok: false, errors, warnings };
  }
  const ctx = new ParseContext(tree, file);
  ctx.warnings.push(...warnings);
  const root = tree.resolve(first.contents);
  const rootOffset = tree.offsetOf(first.contents, first.range[0]);
  if (tree.isFalsy(root)) {
    ctx.error(emptyAppSpec(), '', rootOffset);
    return { ok: false, errors: ctx.errors, warnings: ctx.warnings };
  }
  const map = ctx.expectMap(
    root,
    'the top level',
    'a mapping of keys such as version, os and hooks to their values',
    'top level',
    '',
    rootOffset,
  );
  if (map === null) return { ok: false, errors: ctx.errors, warnings: ctx.warnings };

  const keys = ctx.mapping(map, '');
  ctx.unknownKeys(keys, TOP_LEVEL_KEYS, 'top-level', '');
  const at = (entry: Entry | undefined): number => entry?.offset ?? rootOffset;

  const versionEntry = keys.get('version');
  if (!isVersionZero(tree, versionEntry)) {
    ctx.error(invalidVersion(rubyToS(tree, versionEntry?.value ?? null)), 'version', at(versionEntry));
  }

  const osEntry = keys.get('os');
  const os = osEntry?.value ?? null;
  const osText = os !== null && isScalar(os) && !tree.isNull(os) ? tree.scalarText(os) : null;
  if (!(os !== null && isScalar(os) && os.value === 'linux')) {
    ctx.error(unsupportedOs(rubyToS(tree, os)), 'os', at(osEntry));
  }

  const hooks = parseHooks(ctx, keys.get('hooks'));
  const files = parseFiles(ctx, keys.get('files'));
  const permissions = parsePermissions(ctx, keys.get('permissions'), osText);

  const febEntry = keys.get('file_exists_behavior');
  let fileExistsBehavior: FileExistsBehavior | undefined;
  const feb = febEntry?.value ?? null;
  if (!tree.isNull(feb)) {
    const known = feb !== null && isScalar(feb) ? FILE_EXISTS_BEHAVIORS.find((b) => b === feb.value) : undefined;
    if (known) fileExistsBehavior = known;
    else ctx.error(invalidFileExistsBehavior(rubyToS(tree, feb)), 'file_exists_behavior', at(febEntry));
  }

  if (ctx.errors.length > 0) return { ok: false, errors: ctx.errors, warnings: ctx.warnings };
  const spec: AppSpec = { file, version: '0.0', os: 'linux', hooks, files, permissions };
  if (fileExistsBehavior) spec.fileExistsBehavior = fileExistsBehavior;
  return { ok: true, spec, warnings: ctx.warnings };
}

/** version must be 0.0: the number 0.0 (or 0, as Ruby's 0 == 0.0) or the string "0.0". */
function isVersionZero(tree: YamlTree, entry: Entry | undefined): boolean {
  const node = entry?.value ?? null;
  if (node === null || !isScalar(node) || tree.isNull(node)) return false;
  const value = node.value;
  return (typeof value === 'number' && value === 0) || (typeof value === 'bigint' && value === 0n) || value === '0.0';
}

/** The yaml library's message without its " at line X, column Y" suffix and source excerpt. */
function problemOf(error: YAMLError): string {
  const message = error.message.split('\n')[0] ?? '';
  return message.replace(/ at line \d+, column \d+:?$/, '').replace(/[.:]$/, '');
}

export function formatIssue(issue: AppSpecIssue): string {
  const where = `${issue.file}:${issue.line}:${issue.column}`;
  return `${issue.message} (at ${issue.path === '' ? where : `${where}, ${issue.path}`})`;
}
