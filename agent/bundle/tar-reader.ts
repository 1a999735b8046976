/**
 * A lean streaming reader of the tar format: chunks of the (already decompressed) archive go in, one
 * call per entry comes out, and an entry's data is handed on as sub-arrays of the chunks it arrived in
 * (never copied; only a header split across two chunks is, at most 511 bytes).
 *
 * node-tar decodes every header (`Header`: ustar, GNU base-256 numbers, the checksum, pax and global
 * pax overrides) and pax records (`Pax`); this file only walks the blocks. node-tar's own Parser is not
 * used: a stream object and several events per entry, plus a copy of every chunk that does not end on
 * a block boundary, cost more than writing the files (measured: 10,000 small files, ~2x the time).
 *
 * The rules, which follow node-tar's Parser in strict mode and GNU tar:
 * - a header with a bad checksum, without a name, a link without a target or a non-link with one
 *   fails the read (the archive is corrupt or not a tar archive); so does input that ends inside an
 *   entry or a header, or holds no entry at all;
 * - two zero blocks end the archive; what follows is read (a compressor checks its trailer) and ignored;
 * - pax (`x`, `g`) and GNU long name (`L`, `K`) records apply to the next entry only (global ones to
 *   every later entry, never to its name); one larger than MAX_META_SIZE fails the read;
 * - an entry's data length is the header's size (or its pax `size`), padded to whole blocks.
 */
import { Header } from 'tar/header';
import { Pax } from 'tar/pax';
import { name as typeNames } from 'tar/types';

const BLOCK = 512;
/** The largest pax or GNU long-name record accepted (node-tar's default as well). */
export const MAX_META_SIZE = 1024 * 1024;

/** One entry: node-tar's type name ('File', 'Directory', 'SymbolicLink', ...) and its decoded fields. */
export interface TarEntry {
  type: string;
  path: string;
  linkpath: string | undefined;
  mode: number | undefined;
  uid: number | undefined;
  gid: number | undefined;
  mtime: Date | undefined;
  atime: Date | undefined;
  /** Data bytes that follow the header. */
  size: number;
}

/** Where an entry's data goes; a returned promise holds the reader until it settles. */
export interface TarBody {
  write(chunk: Buffer): void | Promise<void>;
  end(): void | Promise<void>;
}

/** Called once per entry; returns where its data goes, or undefined to skip the data. */
export type TarEntryHandler = (entry: TarEntry) => TarBody | undefined;

/** The archive is not a valid tar archive; the message says where and why. */
export class TarFormatError extends Error {}

type MetaType =
  'ExtendedHeader' | 'OldExtendedHeader' | 'GlobalExtendedHeader' | 'NextFileHasLongPath' | 'OldGnuLongPath' | 'NextFileHasLongLinkpath';
const META_TYPES = new Set<string>([
  'ExtendedHeader',
  'OldExtendedHeader',
  'GlobalExtendedHeader',
  'NextFileHasLongPath',
  'OldGnuLongPath',
  'NextFileHasLongLinkpath',
]);
type Overrides = ConstructorParameters<typeof Header>[2];

export class TarReader {
  /** A header split across chunks. */
  private readonly headerBuf = Buffer.allocUnsafe(BLOCK);
  private headerFill = 0;
  private state: 'header' | 'data' | 'meta' | 'padding' | 'eof' = 'header';
  /** Data bytes left in the current entry (state data/meta), or padding bytes left (state padding). */
  private remain = 0;
  private padding = 0;
  private body: TarBody | undefined;
  private metaType: MetaType | undefined;
  private metaChunks: Buffer[] = [];
  private ex: Overrides;
  private gex: Overrides;
  private sawZeroBlock = false;
  private sawEntry = false;
  /** Offset in the decompressed archive of the next byte to read. */
  private offset = 0;

  constructor(private readonly onEntry: TarEntryHandler) {}

  /** Read one chunk; the promise settles once every body write it started has. */
  async write(chunk: Buffer): Promise<void> {
    let pos = 0;
    const length = chunk.length;
    while (pos < length) {
      switch (this.state) {
        case 'header': {
          if (this.headerFill === 0 && length - pos >= BLOCK) {
            this.offset += BLOCK;
            const ended = this.header(chunk, pos);
            pos += BLOCK;
            if (ended) await ended;
            break;
          }
          const n = Math.min(BLOCK - this.headerFill, length - pos);
          chunk.copy(this.headerBuf, this.headerFill, pos, pos + n);
          this.headerFill += n;
          pos += n;
          this.offset += n;
          if (this.headerFill === BLOCK) {
            this.headerFill = 0;
            const ended = this.header(this.headerBuf, 0);
            if (ended) await ended;
          }
          break;
        }
        case 'data':
        case 'meta': {
          const n = Math.min(this.remain, length - pos);
          const part = n === length ? chunk : chunk.subarray(pos, pos + n);
          pos += n;
          this.offset += n;
          this.remain -= n;
          if (this.state === 'meta') this.metaChunks.push(Buffer.from(part));
          else if (this.body) {
            const wrote = this.body.write(part);
            if (wrote) await wrote;
          }
          if (this.remain === 0) await this.endData();
          break;
        }
        case 'padding': {
          const n = Math.min(this.padding, length - pos);
          pos += n;
          this.offset += n;
          this.padding -= n;
          if (this.padding === 0) this.state = 'header';
          break;
        }
        case 'eof':
          this.offset += length - pos;
          return;
      }
    }
  }

  /** The input ended: fail unless it ended between entries. */
  end(): void {
    if (this.state === 'data' || this.state === 'meta' || this.state === 'padding') {
      throw new TarFormatError(`the archive is truncated: it ends inside an entry's data (at byte ${this.offset})`);
    }
    if (this.headerFill !== 0) {
      throw new TarFormatError(`the archive is truncated: it ends inside an entry header (at byte ${this.offset})`);
    }
    if (!this.sawEntry) throw new TarFormatError('no tar entries found: the file is empty or not a tar archive');
  }

  /** Decode the header block at buf[at]; `offset` is already past it. Returns a promise only when an empty entry's end() did. */
  private header(buf: Buffer, at: number): void | Promise<void> {
    const start = this.offset - BLOCK;
    // The fast decoder covers plain ASCII headers without pending pax records; node-tar does the rest.
    const h: DecodedHeader =
      (this.ex === undefined && this.gex === undefined && decodeAsciiHeader(buf, at)) || new Header(buf, at, this.ex, this.gex);
    if (h.nullBlock) {
      if (this.sawZeroBlock) this.state = 'eof';
      this.sawZeroBlock = true;
      return;
    }
    this.sawZeroBlock = false;
    const bad = (why: string): TarFormatError =>
      new TarFormatError(`invalid tar header at byte ${start}: ${why}; the archive is corrupt or not a tar archive`);
    if (!h.cksumValid) throw bad('checksum mismatch');
    if (!h.path) throw bad('the entry has no name');
    const type = h.type as string;
    const isLink = type === 'Link' || type === 'SymbolicLink';
    if (isLink && !h.linkpath) throw bad(`the link "${h.path}" has no target`);
    if (!isLink && h.linkpath && type !== 'ExtendedHeader' && type !== 'GlobalExtendedHeader') {
      throw bad(`the entry "${h.path}" is not a link but has a link target`);
    }
    this.sawEntry = true;
    const size = h.size ?? 0;
    this.padding = (BLOCK - (size % BLOCK)) % BLOCK;
    this.remain = size;

    if (META_TYPES.has(type)) {
      if (size > MAX_META_SIZE) {
        throw bad(`a ${type} record of ${size} bytes is larger than the ${MAX_META_SIZE} bytes accepted`);
      }
      this.metaType = type as MetaType;
      this.metaChunks = [];
      this.state = 'meta';
      if (size === 0) this.endMeta();
      return;
    }
    // An entry: pending pax and long-name records were for it and end here.
    const entry: TarEntry = {
      type,
      path: h.path,
      // Header takes the name from a pax or GNU long-name record but not the link target.
      linkpath: this.ex?.linkpath ?? (h.linkpath || undefined),
      mode: h.mode,
      uid: h.uid,
      gid: h.gid,
      mtime: h.mtime,
      atime: h.atime,
      size,
    };
    this.ex = undefined;
    const body = this.onEntry(entry);
    if (size > 0) {
      this.body = body;
      this.state = 'data';
      return;
    }
    return body?.end();
  }

  private async endData(): Promise<void> {
    if (this.state === 'meta') {
      this.endMeta();
      return;
    }
    const body = this.body;
    this.body = undefined;
    this.state = this.padding > 0 ? 'padding' : 'header';
    if (body) {
      const ended = body.end();
      if (ended) await ended;
    }
  }

  private endMeta(): void {
    const text = Buffer.concat(this.metaChunks).toString('utf8');
    this.metaChunks = [];
    this.state = this.padding > 0 ? 'padding' : 'header';
    switch (this.metaType) {
      case 'ExtendedHeader':
      case 'OldExtendedHeader':
        this.ex = Pax.parse(text, this.ex, false);
        break;
      case 'GlobalExtendedHeader':
        this.gex = Pax.parse(text, this.gex, true);
        break;
      case 'NextFileHasLongPath':
      case 'OldGnuLongPath':
        this.ex = { ...this.ex, path: text.replace(/\0.*/s, '') };
        break;
      case 'NextFileHasLongLinkpath':
        this.ex = { ...this.ex, linkpath: text.replace(/\0.*/s, '') };
        break;
      default:
        break;
    }
  }
}

/** The fields of a header block that TarReader uses: node-tar's Header has them, and so does decodeAsciiHeader's result. */
export interface DecodedHeader {
  nullBlock: boolean;
  cksumValid: boolean;
  type: string;
  path?: string;
  linkpath?: string;
  mode?: number;
  uid?: number;
  gid?: number;
  size?: number;
  mtime?: Date;
  atime?: Date;
}

const NUL = 0;
const SPACE = 0x20;
const USTAR_MAGIC = Buffer.from('ustar\u000000', 'latin1');

/**
 * The header block at buf[off], decoded exactly as node-tar's Header decodes it (without pax records),
 * when every byte is ASCII and the fields hold plain octal numbers; undefined otherwise (the caller
 * then uses Header). Header turns each of a dozen fields into a string and parses it with a regular
 * expression, which is most of the cost of reading an archive of small files; this reads the bytes.
 * test/unit/bundle/tar-reader.test.ts compares the two on real and mutated headers.
 *
 * Header's field rules, followed here: a string field ends at its first NUL (exactly: /\0.*\/ removes
 * the NUL and what follows up to a line break, so a field with a CR or LF after its NUL is left to
 * Header); a number is parseInt(field up to its NUL, trimmed, 8), undefined when NaN; a field whose
 * first byte has the high bit set is base-256 (left to Header).
 */
export function decodeAsciiHeader(buf: Buffer, off: number): DecodedHeader | undefined {
  let sum = 8 * SPACE;
  for (let i = off; i < off + 512; i++) {
    const b = buf[i] as number;
    if (b >= 0x80) return undefined;
    if (i < off + 148 || i >= off + 156) sum += b;
  }
  const cksum = octal(buf, off + 148, 12);
  if (cksum === null) return undefined;
  if (cksum === undefined && sum === 8 * SPACE) return { nullBlock: true, cksumValid: false, type: 'Unsupported' };
  const code = buf[off + 156] === NUL ? '' : String.fromCharCode(buf[off + 156] as number);
  let path = text(buf, off, 100);
  const linkpath = text(buf, off + 157, 100);
  const mode = octal(buf, off + 100, 8);
  const uid = octal(buf, off + 108, 8);
  const gid = octal(buf, off + 116, 8);
  let size = octal(buf, off + 124, 12);
  const mtime = octal(buf, off + 136, 12);
  if (path === null || linkpath === null || mode === null || uid === null || gid === null || size === null || mtime === null) {
    return undefined;
  }
  let atime: number | undefined;
  if (buf.compare(USTAR_MAGIC, 0, 8, off + 257, off + 265) === 0) {
    if (buf[off + 475] !== NUL) {
      const prefix = text(buf, off + 345, 155);
      if (prefix === null) return undefined;
      path = `${prefix}/${path}`;
    } else {
      const prefix = text(buf, off + 345, 130);
      const a = octal(buf, off + 476, 12);
      if (prefix === null || a === null) return undefined;
      if (prefix) path = `${prefix}/${path}`;
      atime = a;
    }
  }
  let typeCode = typeNames.has(code as never) ? code || '0' : 'Unsupported';
  if (typeCode === '0' && path.endsWith('/')) typeCode = '5';
  if (typeCode === '5') size = 0;
  if (size !== undefined && size < 0) size = undefined;
  return {
    nullBlock: false,
    cksumValid: sum === cksum,
    type: typeCode === 'Unsupported' ? typeCode : (typeNames.get(typeCode as never) as string),
    path,
    linkpath,
    mode,
    uid,
    gid,
    size,
    mtime: mtime === undefined ? undefined : new Date(mtime * 1000),
    atime: atime === undefined ? undefined : new Date(atime * 1000),
  };
}

/** The end of an ASCII string field (its first NUL), or -1 when a CR or LF follows that NUL in the field. */
function fieldEnd(buf: Buffer, off: number, size: number): number {
  const end = off + size;
  let i = off;
  while (i < end && buf[i] !== NUL) i++;
  for (let j = i + 1; j < end; j++) {
    if (buf[j] === 0x0a || buf[j] === 0x0d) return -1;
  }
  return i;
}

/** A string field; null when Header's rule needs the slow path. */
function text(buf: Buffer, off: number, size: number): string | null {
  const end = fieldEnd(buf, off, size);
  if (end < 0) return null;
  return end === off ? '' : buf.toString('latin1', off, end);
}

/** A number field as parseInt(trimmed, 8): undefined for no digits, null for the slow path (base-256, a sign). */
function octal(buf: Buffer, off: number, size: number): number | undefined | null {
  if ((buf[off] as number) & 0x80) return null;
  const end = fieldEnd(buf, off, size);
  if (end < 0) return null;
  let i = off;
  while (i < end && isSpace(buf[i] as number)) i++;
  if (i < end && (buf[i] === 0x2b || buf[i] === 0x2d)) return null; // '+' or '-'
  let value = 0;
  let digits = 0;
  for (; i < end; i++) {
    const d = (buf[i] as number) - 0x30;
    if (d < 0 || d > 7) break;
    value = value * 8 + d;
    digits++;
  }
  return digits === 0 ? undefined : value;
}

/** What String.prototype.trim() removes, among ASCII bytes. */
function isSpace(b: number): boolean {
  return b === SPACE || (b >= 0x09 && b <= 0x0d);
}
