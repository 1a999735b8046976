/**
 * A yauzl RandomAccessReader over a file descriptor that serves small reads from a few cached
 * blocks. yauzl reads the central directory and every local header with separate small reads; with
 * one thread-pool round trip each, listing 10,000 entries alone takes half a second. Entries lie in
 * file order, so two cursors (central directory, local data) each hit one cached block almost always.
 * Memory stays bounded: at most CACHE_BLOCKS x BLOCK_SIZE bytes, whatever the archive size.
 */
import { close, createReadStream, fstat, open, read } from 'node:fs';
import { promisify } from 'node:util';
import { PassThrough, type Readable } from 'node:stream';
import yauzl from 'yauzl';

const BLOCK_SIZE = 1024 * 1024;
const CACHE_BLOCKS = 4;

interface Block {
  start: number;
  buf: Buffer;
}

export class CachedFileReader extends yauzl.RandomAccessReader {
  private blocks: Block[] = [];

  private constructor(
    private readonly fd: number,
    readonly size: number,
  ) {
    super();
  }

  /** Open `path`; the reader owns the descriptor, and yauzl closes it through close(). */
  static async open(path: string): Promise<CachedFileReader> {
    const fd = await promisify(open)(path, 'r');
    try {
      const { size } = await promisify(fstat)(fd);
      return new CachedFileReader(fd, size);
    } catch (err) {
      await promisify(close)(fd);
      throw err;
    }
  }

  override read(buffer: Buffer, offset: number, length: number, position: number, callback: (err: Error | null) => void): void {
    const cached = this.find(position, length);
    if (cached) {
      cached.buf.copy(buffer, offset, position - cached.start, position - cached.start + length);
      process.nextTick(callback, null);
      return;
    }
    if (length > BLOCK_SIZE) {
      readFully(this.fd, buffer, offset, length, position, callback);
      return;
    }
    const blockLength = Math.min(BLOCK_SIZE, this.size - position);
    const block: Block = { start: position, buf: Buffer.allocUnsafe(Math.max(blockLength, length)) };
    readFully(this.fd, block.buf, 0, blockLength, position, (err) => {
      if (err) return callback(err);
      if (blockLength < length) return callback(new Error('unexpected EOF'));
      this.blocks.unshift(block);
      if (this.blocks.length > CACHE_BLOCKS) this.blocks.pop();
      block.buf.copy(buffer, offset, 0, length);
      callback(null);
    });
  }

  override _readStreamForRange(start: number, end: number): Readable {
    const cached = this.find(start, end - start);
    if (cached) {
      const out = new PassThrough();
      out.end(cached.buf.subarray(start - cached.start, end - cached.start));
      return out;
    }
    if (end <= start) {
      const out = new PassThrough();
      out.end();
      return out;
    }
    return createReadStream('', { fd: this.fd, start, end: end - 1, autoClose: false, highWaterMark: 256 * 1024 });
  }

  override close(callback: (err: Error | null) => void): void {
    this.blocks = [];
    close(this.fd, (err) => callback(err ?? null));
  }

  private find(position: number, length: number): Block | undefined {
    for (const block of this.blocks) {
      if (position >= block.start && position + length <= block.start + block.buf.length) return block;
    }
    return undefined;
  }
}

function readFully(
  fd: number,
  buffer: Buffer,
  offset: number,
  length: number,
  position: number,
  callback: (err: Error | null) => void,
): void {
  if (length === 0) {
    process.nextTick(callback, null);
    return;
  }
  read(fd, buffer, offset, length, position, (err, bytesRead) => {
    if (err) return callback(err);
    if (bytesRead === 0) return callback(new Error('unexpected EOF'));
    readFully(fd, buffer, offset + bytesRead, length - bytesRead, position + bytesRead, callback);
  });
}
