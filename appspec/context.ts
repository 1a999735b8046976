/**
 * What the section parsers share: the YAML view, the file name, and the error and warning lists.
 * Each helper takes a key path ("hooks.BeforeInstall[0].timeout") and a source offset.
 */
import { isMap, isSeq, type YAMLMap, type YAMLSeq } from 'yaml';
import type { AppSpecIssue, SourceLocation } from './model.js';
import { duplicateKey, unknownKey, wrongShape } from './messages.js';
import type { Duplicate, Entry, ValueNode, YamlTree } from './yaml-tree.js';

export class ParseContext {
  readonly errors: AppSpecIssue[] = [];
  readonly warnings: AppSpecIssue[] = [];

  constructor(
    readonly tree: YamlTree,
    readonly file: string,
  ) {}

  where(path: string, offset: number): SourceLocation {
    return { file: this.file, path, ...this.tree.position(offset) };
  }

  error(message: string, path: string, offset: number): void {
    this.errors.push({ message, ...this.where(path, offset) });
  }

  warn(message: string, path: string, offset: number): void {
    this.warnings.push({ message, ...this.where(path, offset) });
  }

  /** The entries of a mapping as a key -> entry map; duplicate keys are reported as warnings. */
  mapping(map: YAMLMap, path: string): Map<string, Entry> {
    const duplicates: Duplicate[] = [];
    const entries = this.tree.entries(map, duplicates);
    for (const dup of duplicates) {
      const first = this.tree.position(dup.firstOffset).line;
      this.warn(duplicateKey(dup.key, first), join(path, dup.key), dup.offset);
    }
    return new Map(entries.map((e) => [e.key, e]));
  }

  /** Warn about each key that is not in the known list ("Unknown <where> key 'x' is ignored"). */
  unknownKeys(entries: Map<string, Entry>, known: readonly string[], where: string, path: string): void {
    for (const [key, entry] of entries) {
      if (!known.includes(key)) this.warn(unknownKey(where, key), join(path, key), entry.keyOffset);
    }
  }

  /** The mapping, or null after reporting a structural error. */
  expectMap(node: ValueNode | null, subject: string, expected: string, section: string, path: string, offset: number): YAMLMap | null {
    if (node !== null && isMap(node)) return node;
    this.error(wrongShape(subject, expected, this.tree.kindOf(node), section), path, offset);
    return null;
  }

  /** The list, or null after reporting a structural error. */
  expectSeq(node: ValueNode | null, subject: string, expected: string, section: string, path: string, offset: number): YAMLSeq | null {
    if (node !== null && isSeq(node)) return node;
    this.error(wrongShape(subject, expected, this.tree.kindOf(node), section), path, offset);
    return null;
  }

  /**
   * A scalar's text (see YamlTree.scalarText), or null for a null value. A collection is reported
   * as a structural error and gives undefined.
   */
  text(entry: Entry | undefined, subject: string, section: string, path: string): string | null | undefined {
    if (entry === undefined || this.tree.isNull(entry.value)) return null;
    const node = entry.value;
    if (node !== null && !isMap(node) && !isSeq(node)) return this.tree.scalarText(node);
    this.error(wrongShape(subject, 'a string', this.tree.kindOf(node), section), path, entry.offset);
    return undefined;
  }

  /** Each item of a list with its path and offset, aliases resolved. */
  items(seq: YAMLSeq, path: string): Array<{ node: ValueNode | null; path: string; offset: number }> {
    return seq.items.map((item, i) => ({
      node: this.tree.resolve(item),
      path: `${path}[${i}]`,
      offset: this.tree.offsetOf(item, this.tree.offsetOf(seq)),
    }));
  }
}

export function join(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}
