/**
 * Streaming decoder for the `aws-chunked` content encoding that SDK v3 and aws CLI v2 use for
 * uploads (SigV4 streaming payloads, signed or unsigned, with or without trailing checksums):
 *
 *   <hex size>[;chunk-signature=<sig>]\r\n <size bytes> \r\n ... 0[;...]\r\n <name>:<value>\r\n ... \r\n
 *
 * Data is passed on as slices of the incoming buffers, so memory stays bounded by the socket's
 * chunks whatever the chunk sizes. Only size lines and trailer lines are buffered, each capped.
 * Chunk signatures are not verified (the local endpoint never checks secrets). A body that ends
 * before its final zero-size chunk is an IncompleteBody error; a missing blank line after the
 * trailers is tolerated.
 */
import { S3Error } from './s3-error.js';

const MAX_LINE = 8192;

export interface ChunkedResult {
  /** Trailer headers by lower-case name (x-amz-checksum-crc32, ...), x-amz-trailer-signature excluded. */
  trailers: Map<string, string>;
}

const malformed = (what: string): S3Error => new S3Error('InvalidRequest', `Malformed aws-chunked request body: ${what}`);

export async function* decodeAwsChunked(source: AsyncIterable<Buffer>, result: ChunkedResult): AsyncGenerator<Buffer> {
  type State = 'size' | 'data' | 'data-end' | 'trailer' | 'done';
  let state: State = 'size';
  let line: Buffer = Buffer.alloc(0);
  let remaining = 0;
  let crlfLeft = 0;

  // Appends bytes up to and including '\n' to `line`; returns the bytes consumed, or -1 when the
  // line is not complete yet (all of `buf` consumed).
  const takeLine = (buf: Buffer, from: number): number => {
    const nl = buf.indexOf(0x0a, from);
    const end = nl === -1 ? buf.length : nl + 1;
    line = line.length === 0 ? buf.subarray(from, end) : Buffer.concat([line, buf.subarray(from, end)]);
    if (line.length > MAX_LINE) throw malformed('a chunk header or trailer line is too long');
    return nl === -1 ? -1 : end - from;
  };
  const lineText = (): string => {
    const text = line.toString('latin1').replace(/\r?\n$/, '');
    line = Buffer.alloc(0);
    return text;
  };

  for await (const buf of source) {
    let pos = 0;
    while (pos < buf.length) {
      switch (state) {
        case 'size': {
          const used = takeLine(buf, pos);
          if (used === -1) {
            pos = buf.length;
            break;
          }
          pos += used;
          const header = lineText();
          const hex = header.split(';', 1)[0]!.trim();
          if (!/^[0-9a-fA-F]{1,16}$/.test(hex)) throw malformed(`invalid chunk size line ${JSON.stringify(header.slice(0, 80))}`);
          remaining = Number.parseInt(hex, 16);
          if (!Number.isSafeInteger(remaining)) throw malformed('chunk size too large');
          state = remaining === 0 ? 'trailer' : 'data';
          break;
        }
        case 'data': {
          const n = Math.min(remaining, buf.length - pos);
          yield buf.subarray(pos, pos + n);
          pos += n;
          remaining -= n;
          if (remaining === 0) {
            state = 'data-end';
            crlfLeft = 2;
          }
          break;
        }
        case 'data-end': {
          const expected = crlfLeft === 2 ? 0x0d : 0x0a;
          if (buf[pos] !== expected) throw malformed('chunk data is not followed by CRLF');
          pos++;
          if (--crlfLeft === 0) state = 'size';
          break;
        }
        case 'trailer': {
          const used = takeLine(buf, pos);
          if (used === -1) {
            pos = buf.length;
            break;
          }
          pos += used;
          const text = lineText();
          if (text === '') {
            state = 'done';
            break;
          }
          const colon = text.indexOf(':');
          if (colon <= 0) throw malformed(`invalid trailer line ${JSON.stringify(text.slice(0, 80))}`);
          const name = text.slice(0, colon).trim().toLowerCase();
          if (name !== 'x-amz-trailer-signature') result.trailers.set(name, text.slice(colon + 1).trim());
          break;
        }
        case 'done':
          // Bytes after the terminating blank line carry nothing; ignore them.
          pos = buf.length;
          break;
      }
    }
  }
  if (state === 'trailer' && line.length > 0) {
    // A last trailer line without its CRLF.
    const text = lineText();
    const colon = text.indexOf(':');
    if (colon > 0) {
      const name = text.slice(0, colon).trim().toLowerCase();
      if (name !== 'x-amz-trailer-signature') result.trailers.set(name, text.slice(colon + 1).trim());
    }
  }
  if (state !== 'trailer' && state !== 'done') {
    throw new S3Error('IncompleteBody', 'The aws-chunked request body ended before its final zero-length chunk');
  }
}
