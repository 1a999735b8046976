/**
 * The wire format of the Elastic Load Balancing v2 Query API (version 2015-12-01), both ways and
 * free of I/O: a form body (`Action=...&Version=...&Targets.member.1.Id=...`) into a nested
 * input, and results or errors into the XML the aws CLI and the SDK read.
 *
 * Form values are parsed by URLSearchParams; the nesting (`X.member.N.Y`) and the XML writer are
 * written here because both are a few lines for this fixed shape, which no maintained library
 * models for the server side (XML libraries would still need every element named by us).
 */
import { ElbError } from './elb-model.js';

export const ELBV2_NAMESPACE = 'http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/';
export const ELBV2_VERSION = '2015-12-01';

/** A nested input: strings at the leaves, `member` lists as arrays. */
export type QueryValue = string | QueryInput | QueryValue[];
export interface QueryInput {
  [key: string]: QueryValue;
}

/** Lists longer than this are refused (no ELBv2 list takes more than a few hundred members). */
export const MAX_LIST_MEMBERS = 1000;
const MAX_KEY_DEPTH = 8;

/**
 * `a.b=1&List.member.2.X=y` into `{ a: { b: '1' }, List: [ , { X: 'y' }] }` with the list
 * compacted in index order. Indexes are 1-based and at most MAX_LIST_MEMBERS.
 */
export function parseQuery(body: string): QueryInput {
  const root: QueryInput = {};
  const lists = new Map<object, Map<number, QueryValue>>();
  for (const [key, value] of new URLSearchParams(body)) {
    const parts = key.split('.');
    if (parts.length > MAX_KEY_DEPTH || parts.some((p) => p === '' || p === '__proto__' || p === 'constructor' || p === 'prototype'))
      throw new ElbError('ValidationError', `The parameter name ${JSON.stringify(key.slice(0, 100))} is not valid`);
    let node: QueryInput = root;
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i] as string;
      const last = i === parts.length - 1;
      if (parts[i + 1] === 'member' && i + 2 < parts.length) {
        const index = Number(parts[i + 2]);
        if (!Number.isInteger(index) || index < 1 || index > MAX_LIST_MEMBERS)
          throw new ElbError(
            'ValidationError',
            `The list index in ${JSON.stringify(key.slice(0, 100))} must be from 1 to ${MAX_LIST_MEMBERS}`,
          );
        let holder = node[part];
        if (!(holder !== undefined && typeof holder === 'object' && lists.has(holder))) {
          holder = {};
          node[part] = holder;
          lists.set(holder, new Map());
        }
        const members = lists.get(holder) as Map<number, QueryValue>;
        if (i + 3 === parts.length) {
          members.set(index, value);
          break;
        }
        let child = members.get(index);
        if (child === undefined || typeof child !== 'object' || Array.isArray(child)) {
          child = {};
          members.set(index, child);
        }
        node = child;
        i += 2;
        continue;
      }
      if (last) {
        node[part] = value;
        break;
      }
      let next = node[part];
      if (next === undefined || typeof next !== 'object' || Array.isArray(next) || lists.has(next)) {
        next = {};
        node[part] = next;
      }
      node = next;
    }
  }
  return compact(root, lists) as QueryInput;
}

function compact(value: QueryValue, lists: Map<object, Map<number, QueryValue>>): QueryValue {
  if (typeof value === 'string' || Array.isArray(value)) return value;
  const members = lists.get(value);
  if (members) {
    return [...members.entries()].sort((a, b) => a[0] - b[0]).map(([, v]) => compact(v, lists));
  }
  const out: QueryInput = {};
  for (const [k, v] of Object.entries(value)) out[k] = compact(v, lists);
  return out;
}

/** Typed readers over a parsed input; every bad value is a ValidationError naming the parameter. */
export function str(input: QueryInput, name: string, required = false): string | undefined {
  const v = input[name];
  if (v === undefined || v === '') {
    if (required)
      throw new ElbError(
        'ValidationError',
        `1 validation error detected: Value null at '${lower(name)}' failed to satisfy constraint: Member must not be null`,
      );
    return undefined;
  }
  if (typeof v !== 'string') throw new ElbError('ValidationError', `The parameter ${name} must be a single value`);
  return v;
}

export function int(input: QueryInput, name: string, required = false): number | undefined {
  const v = str(input, name, required);
  if (v === undefined) return undefined;
  if (!/^-?\d{1,10}$/.test(v))
    throw new ElbError('ValidationError', `The parameter ${name} must be an integer, got ${JSON.stringify(v.slice(0, 50))}`);
  return Number(v);
}

export function bool(input: QueryInput, name: string): boolean | undefined {
  const v = str(input, name);
  if (v === undefined) return undefined;
  if (v !== 'true' && v !== 'false')
    throw new ElbError('ValidationError', `The parameter ${name} must be true or false, got ${JSON.stringify(v.slice(0, 50))}`);
  return v === 'true';
}

export function obj(input: QueryInput, name: string): QueryInput | undefined {
  const v = input[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) throw new ElbError('ValidationError', `The parameter ${name} must be a structure`);
  return v;
}

export function strList(input: QueryInput, name: string): string[] | undefined {
  const v = input[name];
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || v.some((m) => typeof m !== 'string'))
    throw new ElbError('ValidationError', `The parameter ${name} must be a list (${name}.member.N)`);
  return v as string[];
}

export function objList(input: QueryInput, name: string): QueryInput[] | undefined {
  const v = input[name];
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || v.some((m) => typeof m !== 'object' || Array.isArray(m)))
    throw new ElbError('ValidationError', `The parameter ${name} must be a list of structures (${name}.member.N.Field)`);
  return v as QueryInput[];
}

function lower(name: string): string {
  return name.charAt(0).toLowerCase() + name.slice(1);
}

/** An XML value: text, a nested element map, or a member list (undefined members are left out). */
export type XmlValue = string | number | boolean | Date | undefined | XmlValue[] | { [key: string]: XmlValue };

export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c] as string);
}

/** `{ A: 'x', L: ['y'] }` into `<A>x</A><L><member>y</member></L>`. */
export function toXml(value: { [key: string]: XmlValue }): string {
  let out = '';
  for (const [key, v] of Object.entries(value)) {
    if (v === undefined) continue;
    out += `<${key}>${xmlContent(v)}</${key}>`;
  }
  return out;
}

function xmlContent(v: XmlValue): string {
  if (v === undefined) return '';
  if (Array.isArray(v)) return v.map((m) => (m === undefined ? '' : `<member>${xmlContent(m)}</member>`)).join('');
  if (v instanceof Date) return v.toISOString();
  if (typeof v === 'object') return toXml(v);
  return escapeXml(String(v));
}

export function resultXml(action: string, result: { [key: string]: XmlValue }, requestId: string): string {
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n<${action}Response xmlns="${ELBV2_NAMESPACE}">` +
    `<${action}Result>${toXml(result)}</${action}Result>` +
    `<ResponseMetadata><RequestId>${escapeXml(requestId)}</RequestId></ResponseMetadata></${action}Response>`
  );
}

export function errorXml(code: string, message: string, requestId: string, type: 'Sender' | 'Receiver' = 'Sender'): string {
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n<ErrorResponse xmlns="${ELBV2_NAMESPACE}">` +
    `<Error><Type>${type}</Type><Code>${escapeXml(code)}</Code><Message>${escapeXml(message)}</Message></Error>` +
    `<RequestId>${escapeXml(requestId)}</RequestId></ErrorResponse>`
  );
}
