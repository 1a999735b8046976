/**
 * The bits of Ruby semantics the official messages and rules depend on: String#to_i, #to_s in
 * string interpolation, and #inspect (Ruby <= 3.3 Hash format: {"name"=>"name"}). Output is bounded,
 * so an alias-heavy value can never make a message explode.
 */
import { isMap, isScalar, isSeq, type Pair, type Scalar } from 'yaml';
import type { ValueNode, YamlTree } from './yaml-tree.js';

/** Ruby String#to_i: optional leading whitespace and sign, then digits (single "_" between digits); 0 when none. */
export function rubyStringToI(text: string): number {
  const match = /^[\t\n\v\f\r ]*([-+]?)(\d+(?:_\d+)*)/.exec(text);
  if (!match) return 0;
  const n = Number((match[2] as string).replace(/_/g, ''));
  return match[1] === '-' ? -n : n;
}

const MAX_INSPECT = 200;
const MAX_DEPTH = 8;

/** Ruby String#inspect. */
export function inspectString(s: string): string {
  let out = '"';
  for (const ch of s) {
    const code = ch.codePointAt(0) as number;
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\f') out += '\\f';
    else if (ch === '\v') out += '\\v';
    else if (code === 0x07) out += '\\a';
    else if (code === 0x08) out += '\\b';
    else if (code === 0x1b) out += '\\e';
    else if (code < 0x20 || code === 0x7f) out += `\\u${code.toString(16).toUpperCase().padStart(4, '0')}`;
    else out += ch;
  }
  out += '"';
  // Ruby escapes "#" only where it would start an interpolation: #{ #$ #@
  return out.replace(/#(?=[{$@])/g, '\\#');
}

/** Ruby Float#to_s / #inspect for the numbers YAML can produce. */
function rubyFloat(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (!Number.isFinite(value)) return value > 0 ? 'Infinity' : '-Infinity';
  const abs = Math.abs(value);
  if (abs !== 0 && (abs >= 1e16 || abs < 1e-4)) {
    const [mantissa, exponent] = value.toExponential().split('e') as [string, string];
    const m = mantissa.includes('.') ? mantissa : `${mantissa}.0`;
    const e = exponent.startsWith('-') ? `-${exponent.slice(1).padStart(2, '0')}` : `+${exponent.replace('+', '').padStart(2, '0')}`;
    return `${m}e${e}`;
  }
  const text = String(value);
  return text.includes('.') ? text : `${text}.0`;
}

function inspectScalar(tree: YamlTree, node: Scalar): string {
  if (tree.isNull(node)) return 'nil';
  const bool = tree.psychBoolean(node);
  if (bool !== undefined) return String(bool);
  const value = node.value;
  if (typeof value === 'number') {
    const src = typeof node.source === 'string' ? node.source : '';
    const isFloat = !Number.isInteger(value) || (/[.eE]/.test(src) && !/^[-+]?0x/i.test(src)) || /^[-+]?\.(?:inf|nan)$/i.test(src);
    return isFloat ? rubyFloat(value) : String(value);
  }
  if (typeof value === 'bigint') return value.toString();
  // Strings, and the y/n that YAML 1.1 libraries disagree on (Psych keeps them as strings).
  if (typeof value === 'string' || typeof value === 'boolean') return inspectString(tree.scalarText(node));
  return tree.scalarText(node);
}

function inspectNode(tree: YamlTree, node: ValueNode | null, depth: number): string {
  if (node === null) return 'nil';
  if (isScalar(node)) return inspectScalar(tree, node);
  if (depth >= MAX_DEPTH) return isMap(node) ? '{...}' : '[...]';
  const parts: string[] = [];
  let length = 0;
  if (isSeq(node)) {
    for (const item of node.items) {
      const text = inspectNode(tree, tree.resolve(item), depth + 1);
      parts.push(text);
      length += text.length + 2;
      if (length > MAX_INSPECT) break;
    }
    return `[${parts.join(', ')}]`;
  }
  for (const pair of node.items as Pair[]) {
    const text = `${inspectNode(tree, tree.resolve(pair.key), depth + 1)}=>${inspectNode(tree, tree.resolve(pair.value), depth + 1)}`;
    parts.push(text);
    length += text.length + 2;
    if (length > MAX_INSPECT) break;
  }
  return `{${parts.join(', ')}}`;
}

/** Ruby #inspect of the value Psych would build from this node, bounded in size. */
export function rubyInspect(tree: YamlTree, node: ValueNode | null): string {
  const text = inspectNode(tree, node, 0);
  return text.length > MAX_INSPECT * 2 ? `${text.slice(0, MAX_INSPECT * 2)}...` : text;
}

/** What "#{value}" prints in Ruby: a scalar's text (nil is ""), a collection's inspect. */
export function rubyToS(tree: YamlTree, node: ValueNode | null): string {
  if (node === null) return '';
  if (isScalar(node)) return tree.scalarText(node);
  return rubyInspect(tree, node);
}
