/**
 * The XML of S3's REST protocol: a small writer for responses (escaped text, the 2006-03-01
 * namespace) and a small tolerant reader for the few request documents S3 takes
 * (CreateBucketConfiguration, VersioningConfiguration, CompleteMultipartUpload, Delete). The reader
 * keeps element names (namespace prefixes dropped) and text; attributes, comments, processing
 * instructions and DOCTYPE are skipped, and entities are the five predefined ones plus numeric ones.
 * Bad documents are MalformedXML errors.
 */
import { S3Error } from './s3-error.js';

export const S3_NAMESPACE = 'http://s3.amazonaws.com/doc/2006-03-01/';

export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);
}

export type XmlContent = string | number | boolean | undefined | XmlContent[];

/** `<name>content</name>`; string content is escaped, nested elements come from el(); undefined drops. */
export function el(name: string, ...content: XmlContent[]): string {
  return `<${name}>${flatten(content)}</${name}>`;
}

/** An element whose text is escaped (content from el() is already markup). */
export function text(name: string, value: string | number | boolean | undefined): string {
  if (value === undefined) return '';
  return `<${name}>${escapeXml(String(value))}</${name}>`;
}

function flatten(content: XmlContent[]): string {
  let out = '';
  for (const c of content) {
    if (c === undefined) continue;
    out += Array.isArray(c) ? flatten(c) : String(c);
  }
  return out;
}

/** A whole response document with the S3 namespace on its root. */
export function xmlDocument(root: string, ...content: XmlContent[]): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<${root} xmlns="${S3_NAMESPACE}">${flatten(content)}</${root}>`;
}

export interface XmlElement {
  name: string;
  children: XmlElement[];
  text: string;
}

const malformed = (why: string): S3Error =>
  new S3Error('MalformedXML', `The XML you provided was not well-formed or did not validate against our published schema: ${why}`);

function decodeEntities(s: string): string {
  return s.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-z]+);/g, (whole, ent: string) => {
    if (ent.startsWith('#')) {
      const code = ent.startsWith('#x') ? Number.parseInt(ent.slice(2), 16) : Number.parseInt(ent.slice(1), 10);
      if (!(code >= 0 && code <= 0x10ffff)) throw malformed(`invalid character reference ${whole}`);
      return String.fromCodePoint(code);
    }
    const named: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
    const v = named[ent];
    if (v === undefined) throw malformed(`unknown entity ${whole}`);
    return v;
  });
}

/** Parses a document into its root element. */
export function parseXml(source: string): XmlElement {
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;
  let i = 0;
  while (i < source.length) {
    const lt = source.indexOf('<', i);
    const chunk = lt === -1 ? source.slice(i) : source.slice(i, lt);
    if (chunk.length > 0) {
      const top = stack[stack.length - 1];
      if (top) top.text += decodeEntities(chunk);
      else if (chunk.trim() !== '') throw malformed('text outside the root element');
    }
    if (lt === -1) break;
    if (source.startsWith('<?', lt)) {
      const end = source.indexOf('?>', lt);
      if (end === -1) throw malformed('unterminated processing instruction');
      i = end + 2;
    } else if (source.startsWith('<!--', lt)) {
      const end = source.indexOf('-->', lt);
      if (end === -1) throw malformed('unterminated comment');
      i = end + 3;
    } else if (source.startsWith('<![CDATA[', lt)) {
      const end = source.indexOf(']]>', lt);
      if (end === -1) throw malformed('unterminated CDATA');
      const top = stack[stack.length - 1];
      if (!top) throw malformed('CDATA outside the root element');
      top.text += source.slice(lt + 9, end);
      i = end + 3;
    } else if (source.startsWith('<!', lt)) {
      const end = source.indexOf('>', lt);
      if (end === -1) throw malformed('unterminated declaration');
      i = end + 1;
    } else {
      const end = source.indexOf('>', lt);
      if (end === -1) throw malformed('unterminated tag');
      const tag = source.slice(lt + 1, end);
      i = end + 1;
      if (tag.startsWith('/')) {
        const name = localName(tag.slice(1).trim());
        const open = stack.pop();
        if (!open || open.name !== name) throw malformed(`unexpected closing tag </${name}>`);
        continue;
      }
      const selfClosing = tag.endsWith('/');
      const m = /^([A-Za-z_][\w.:-]*)/.exec(tag);
      if (!m) throw malformed(`invalid tag <${tag.slice(0, 40)}>`);
      const element: XmlElement = { name: localName(m[1]!), children: [], text: '' };
      const parent = stack[stack.length - 1];
      if (parent) parent.children.push(element);
      else if (root) throw malformed('more than one root element');
      else root = element;
      if (!selfClosing) stack.push(element);
    }
  }
  if (stack.length > 0) throw malformed(`element <${stack[stack.length - 1]!.name}> is not closed`);
  if (!root) throw malformed('the document is empty');
  return root;
}

function localName(name: string): string {
  const colon = name.indexOf(':');
  return colon === -1 ? name : name.slice(colon + 1);
}

export function child(element: XmlElement, name: string): XmlElement | undefined {
  return element.children.find((c) => c.name === name);
}

export function childText(element: XmlElement, name: string): string | undefined {
  return child(element, name)?.text.trim();
}

export function children(element: XmlElement, name: string): XmlElement[] {
  return element.children.filter((c) => c.name === name);
}
