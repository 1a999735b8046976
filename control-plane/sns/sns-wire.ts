/**
 * The wire format of the SNS Query API (version 2010-03-31), both ways and free of I/O: which
 * requests are SNS's (the Version parameter, or the SigV4 credential scope's service name, so the
 * ELBv2 Query API on the same `POST /` can tell them apart without reading the body), the typed
 * readers over a parsed form (parsing itself is ELBv2's `parseQuery`: the same AWS Query nesting),
 * and results and errors as the XML that the aws CLI and @aws-sdk/client-sns read. SNS maps
 * (`Attributes.entry.N.key/value`) are written as `<entry><key/><value/></entry>`.
 */
import type { IncomingMessage } from 'node:http';
import { credentialService } from '../http/credential-scope.js';
import { ElbError } from '../traffic/elb-model.js';
import { escapeXml, parseQuery, type QueryInput } from '../traffic/elbv2-wire.js';

export const SNS_VERSION = '2010-03-31';
export const SNS_NAMESPACE = 'http://sns.amazonaws.com/doc/2010-03-31/';

/** An SNS error: the code the SDKs branch on, a message saying what to fix, the HTTP status. */
export class SnsError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
    this.name = 'SnsError';
  }
}

export const invalidParameter = (message: string): SnsError => new SnsError('InvalidParameter', `Invalid parameter: ${message}`);
export const notFound = (message: string): SnsError => new SnsError('NotFound', message, 404);

/** Whether a request is for SNS: signed for the `sns` service, or a Query request of SNS's version in the URL. */
export function isSnsRequest(req: IncomingMessage): boolean {
  if (credentialService(req) === 'sns') return true;
  const query = new URL(req.url ?? '/', 'http://local').searchParams;
  return query.get('Version') === SNS_VERSION && query.has('Action');
}

/** A form body or URL query into the nested Query input; a bad parameter name is InvalidParameter. */
export function parseSnsQuery(text: string): QueryInput {
  try {
    return parseQuery(text);
  } catch (err) {
    if (err instanceof ElbError) throw invalidParameter(err.message);
    throw err;
  }
}

export function str(input: QueryInput, name: string, required = false): string | undefined {
  const v = input[name];
  if (v === undefined || (v === '' && required)) {
    if (required) throw invalidParameter(`${name} is required`);
    return undefined;
  }
  if (typeof v !== 'string') throw invalidParameter(`${name} must be a single value`);
  return v;
}

/** An SNS map (`Name.entry.N.key` / `Name.entry.N.value`), at most `max` entries. */
export function entryMap(input: QueryInput, name: string, max = 50): Map<string, string> {
  const out = new Map<string, string>();
  const holder = input[name];
  if (holder === undefined) return out;
  if (typeof holder !== 'object' || Array.isArray(holder)) throw invalidParameter(`${name} must be a map (${name}.entry.N.key/value)`);
  const entries = holder['entry'];
  if (entries === undefined) return out;
  if (typeof entries !== 'object' || Array.isArray(entries)) throw invalidParameter(`${name} must be a map (${name}.entry.N.key/value)`);
  const indexes = Object.keys(entries)
    .map(Number)
    .filter((n) => Number.isInteger(n) && n >= 1)
    .sort((a, b) => a - b);
  if (indexes.length > max) throw invalidParameter(`${name} has ${indexes.length} entries; at most ${max} are allowed`);
  for (const i of indexes) {
    const e = entries[String(i)];
    if (e === undefined || typeof e !== 'object' || Array.isArray(e))
      throw invalidParameter(`${name}.entry.${i} must have a key and a value`);
    const key = str(e, 'key', true) as string;
    out.set(key, str(e, 'value') ?? '');
  }
  return out;
}

/** An XML value: text, nested elements, a `member` list, or an SNS map. */
export type SnsXml = string | number | boolean | undefined | SnsXml[] | Map<string, string> | { [key: string]: SnsXml };

export function snsXml(value: { [key: string]: SnsXml }): string {
  let out = '';
  for (const [key, v] of Object.entries(value)) {
    if (v === undefined) continue;
    out += `<${key}>${content(v)}</${key}>`;
  }
  return out;
}

function content(v: SnsXml): string {
  if (v === undefined) return '';
  if (Array.isArray(v)) return v.map((m) => `<member>${content(m)}</member>`).join('');
  if (v instanceof Map)
    return [...v].map(([k, val]) => `<entry><key>${escapeXml(k)}</key><value>${escapeXml(val)}</value></entry>`).join('');
  if (typeof v === 'object') return snsXml(v);
  return escapeXml(String(v));
}

/** `<XResponse><XResult>…</XResult><ResponseMetadata>…` (no Result element when `result` is undefined, as DeleteTopic answers). */
export function snsResultXml(action: string, result: { [key: string]: SnsXml } | undefined, requestId: string): string {
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n<${action}Response xmlns="${SNS_NAMESPACE}">` +
    (result ? `<${action}Result>${snsXml(result)}</${action}Result>` : '') +
    `<ResponseMetadata><RequestId>${escapeXml(requestId)}</RequestId></ResponseMetadata></${action}Response>`
  );
}

export function snsErrorXml(code: string, message: string, requestId: string, type: 'Sender' | 'Receiver' = 'Sender'): string {
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n<ErrorResponse xmlns="${SNS_NAMESPACE}">` +
    `<Error><Type>${type}</Type><Code>${escapeXml(code)}</Code><Message>${escapeXml(message)}</Message></Error>` +
    `<RequestId>${escapeXml(requestId)}</RequestId></ErrorResponse>`
  );
}
