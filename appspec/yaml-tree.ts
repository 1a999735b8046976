/**
 * A read-only view of one parsed YAML document: resolves aliases (through an index built in one
 * pass, so each alias costs O(1) and nothing is ever expanded), flattens mappings with "<<" merge
 * keys and duplicate keys (the last one wins, as Psych does), and gives every node a 1-based
 * line:column. Scalars are classified the way Ruby's Psych (YAML 1.1) reads them.
 */
import {
  isAlias,
  isMap,
  isScalar,
  isSeq,
  visit,
  type Document,
  type LineCounter,
  type Node,
  type Pair,
  type Scalar,
  type YAMLMap,
  type YAMLSeq,
} from 'yaml';

export type ValueNode = Scalar | YAMLMap | YAMLSeq;

export interface Entry {
  key: string;
  /** The key node's start offset (for locations of unknown keys). */
  keyOffset: number;
  /** The value, aliases resolved; null when the pair has no value node. */
  value: ValueNode | null;
  /** Where the value is written (the alias itself when it is one), or the key when there is no value. */
  offset: number;
}

export interface Duplicate {
  key: string;
  offset: number;
  firstOffset: number;
}

const PSYCH_TRUE = /^(?:yes|true|on)$/i;
const PSYCH_FALSE = /^(?:no|false|off)$/i;

export class YamlTree {
  private readonly anchors = new Map<Node, ValueNode | undefined>();
  /** Aliases whose anchor is not defined before them (Psych: "Unknown alias"). */
  readonly unresolved: Array<{ name: string; offset: number }> = [];

  constructor(
    readonly doc: Document.Parsed,
    private readonly lineCounter: LineCounter,
    private readonly text: string,
  ) {
    const latest = new Map<string, ValueNode>();
    visit(doc, {
      Node: (_key, node) => {
        if (isAlias(node)) {
          const target = latest.get(node.source);
          this.anchors.set(node, target);
          if (target === undefined) this.unresolved.push({ name: node.source, offset: this.offsetOf(node) });
        } else if (node.anchor && (isScalar(node) || isMap(node) || isSeq(node))) {
          latest.set(node.anchor, node);
        }
      },
    });
  }

  /** The node an alias stands for (undefined when the anchor is unknown); other nodes as they are. */
  resolve(node: unknown): ValueNode | null {
    if (isAlias(node)) return this.anchors.get(node) ?? null;
    if (isScalar(node) || isMap(node) || isSeq(node)) return node;
    return null;
  }

  position(offset: number): { line: number; column: number } {
    const pos = this.lineCounter.linePos(offset);
    return { line: pos.line, column: pos.col };
  }

  /** The start offset of a node, or of the fallback when the node has no range. */
  offsetOf(node: unknown, fallback = 0): number {
    const range = (node as { range?: [number, number, number] } | null)?.range;
    return range ? range[0] : fallback;
  }

  /** The entries of a mapping in written order, merges applied, duplicate keys collapsed (the last wins). */
  entries(map: YAMLMap, duplicates: Duplicate[]): Entry[] {
    const explicit = new Map<string, Entry>();
    const merged = new Map<string, Entry>();
    for (const pair of map.items as Pair[]) {
      if (this.isMergeKey(pair.key)) {
        for (const source of this.mergeSources(pair.value)) {
          for (const item of source.items as Pair[]) {
            if (this.isMergeKey(item.key)) continue;
            const entry = this.entry(item, source);
            if (!merged.has(entry.key)) merged.set(entry.key, entry);
          }
        }
        continue;
      }
      const entry = this.entry(pair, map);
      const previous = explicit.get(entry.key);
      if (previous) {
        duplicates.push({ key: entry.key, offset: entry.keyOffset, firstOffset: previous.keyOffset });
        explicit.delete(entry.key);
      }
      explicit.set(entry.key, entry);
    }
    const result = [...explicit.values()];
    for (const [key, entry] of merged) if (!explicit.has(key)) result.push(entry);
    return result;
  }

  /** The text of a key: the string value, a plain scalar's source text, or the source of a complex key. */
  keyText(node: unknown): string {
    const resolved = this.resolve(node);
    if (resolved === null) return '';
    if (isScalar(resolved)) return this.scalarText(resolved);
    const range = resolved.range;
    const src = range ? this.text.slice(range[0], range[1]).replace(/\s+/g, ' ').trim() : '';
    return src.length > 40 ? `${src.slice(0, 40)}…` : src;
  }

  /**
   * The characters of a scalar as Ruby's to_s would show them, except that a plain scalar keeps
   * exactly what the user wrote (0644 stays "0644", 1.50 stays "1.50"). null prints as "".
   */
  scalarText(node: Scalar): string {
    if (this.isNull(node)) return '';
    if (typeof node.value === 'string') return node.value;
    if (node.type === 'PLAIN' && typeof node.source === 'string') return node.source;
    return String(node.value);
  }

  isNull(node: ValueNode | null): boolean {
    return node === null || (isScalar(node) && node.value === null && node.type === 'PLAIN');
  }

  /** Ruby truthiness of the value Psych would produce: only nil and false are falsy. */
  isFalsy(node: ValueNode | null): boolean {
    return this.isNull(node) || (node !== null && isScalar(node) && this.psychBoolean(node) === false);
  }

  /** true/false when Psych reads the scalar as a boolean (yes/no/on/off/true/false), else undefined. */
  psychBoolean(node: Scalar): boolean | undefined {
    if (node.type !== 'PLAIN' || typeof node.value !== 'boolean') return undefined;
    const src = typeof node.source === 'string' ? node.source : String(node.value);
    if (PSYCH_TRUE.test(src)) return true;
    if (PSYCH_FALSE.test(src)) return false;
    return undefined;
  }

  /** "a string", "a list", ...: what a node is, for structural messages. */
  kindOf(node: ValueNode | null): string {
    if (node === null || this.isNull(node)) return 'null';
    if (isMap(node)) return 'a mapping';
    if (isSeq(node)) return 'a list';
    if (this.psychBoolean(node) !== undefined) return 'a boolean';
    if (typeof node.value === 'number' || typeof node.value === 'bigint') return 'a number';
    if (node.value instanceof Date) return 'a date';
    return 'a string';
  }

  private isMergeKey(key: unknown): boolean {
    return isScalar(key) && key.type === 'PLAIN' && (typeof key.value === 'symbol' || key.source === '<<');
  }

  private mergeSources(value: unknown): YAMLMap[] {
    const resolved = this.resolve(value);
    if (resolved !== null && isMap(resolved)) return [resolved];
    if (resolved !== null && isSeq(resolved)) {
      return resolved.items.map((item) => this.resolve(item)).filter((n): n is YAMLMap => n !== null && isMap(n));
    }
    return [];
  }

  private entry(pair: Pair, parent: YAMLMap): Entry {
    const keyOffset = this.offsetOf(pair.key, this.offsetOf(parent));
    const value = this.resolve(pair.value);
    const range = (pair.value as { range?: [number, number, number] } | null)?.range;
    // An absent value ("key:") is an empty null scalar placed after the colon: point at the key.
    const offset = range && range[1] > range[0] ? range[0] : keyOffset;
    return { key: this.keyText(pair.key), keyOffset, value, offset };
  }
}
