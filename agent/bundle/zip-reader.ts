/**
 * A yauzl RandomAccessReader over one file descriptor, which it alone owns.
 *
 * Descriptor ownership: the fd is closed exactly once, by close() (yauzl calls it when its reference
 * count drops to zero) or dispose() (the unpacker, when the archive is done or failed), whichever comes
 * first; the other is a no-op. The range streams handed to yauzl read through this reader and never
 * touch the fd's lifetime. (fs.createReadStream over a shared fd does: yauzl destroys the stream at
 * the end of each entry and ReadStream's destroy() closes the fd whatever `autoClose` says, so a later
 * close() hit a number the process may already have reused for something else.) A close waits for reads
 * in flight, and a read after the close fails instead of reaching whatever now has that number.
 *
 * Speed: small reads are served from a few cached blocks. yauzl reads the central directory and every
 * local header with separate small reads; with one thread-pool round trip each, listing 10,000 entries
 * alone takes half a second. Entries lie in file order, so two cursors (central directory, local data)
 * each hit one cached block almost always. Memory stays bounded: CACHE_BLOCKS x BLOCK_SIZE for the cache
 * plus STREAM_CHUNK per open stream, whatever the archive size.
 */
import * as nodeFs from 'node:fs';
import { PassThrough, Readable } from 'node:stream';
import yauzl from 'yauzl';

const BLOCK_SIZE = 1024 * 1024;
const CACHE_BLOCKS = 4;
const STREAM_CHUNK = 256 * 1024;

/** The file system calls the reader makes; a port so tests can count opens and closes. */
export interface ReaderFs {
  open: typeof nodeFs.open;
  fstat: typeof nodeFs.fstat;
  read: typeof nodeFs.read;
  close: typeof nodeFs.close;
}

export interface CachedFileReaderOptions {
  fs?: ReaderFs;
}

type ReadCallback = (err: Error | null, bytesRead: number) => void;

interface Block {
  start: number;
  buf: Buffer;
}

export class CachedFileReader extends yauzl.RandomAccessReader {
  private blocks: Block[] = [];
  /** The descriptor until the close starts; undefined afterwards. */
  private fd: number | undefined;
  private reading = 0;
  private closing = false;
  private closeDone: Promise<void> | undefined;
  private finishClose: (() => void) | undefined;

  private constructor(
    private readonly fs: ReaderFs,
    fd: number,
    readonly size: number,
  ) {
    super();
    this.fd = fd;
  }

  static async open(path: string, options: CachedFileReaderOptions = {}): Promise<CachedFileReader> {
    const fs = options.fs ?? nodeFs;
    const fd = await new Promise<number>((resolve, reject) => fs.open(path, 'r', (err, fd) => (err ? reject(err) : resolve(fd))));
    try {
      const { size } = await new Promise<nodeFs.Stats>((resolve, reject) => fs.fstat(fd, (err, st) => (err ? reject(err) : resolve(st))));
      return new CachedFileReader(fs, fd, size);
    } catch (err) {
      fs.close(fd, () => undefined);
      throw err;
    }
  }

  /** True once close() or dispose() has been called: no read reaches the fd after that. */
  get closed(): boolean {
    return this.closing;
  }

  override read(buffer: Buffer, offset: number, length: number, position: number, callback: ReadCallback): void {
    const cached = this.find(position, length);
    if (cached) {
      cached.buf.copy(buffer, offset, position - cached.start, position - cached.start + length);
      process.nextTick(callback, null, length);
      return;
    }
    if (length > BLOCK_SIZE) {
      this.readFully(buffer, offset, length, position, callback);
      return;
    }
    const blockLength = Math.max(0, Math.min(BLOCK_SIZE, this.size - position));
    if (blockLength < length) {
      process.nextTick(callback, new Error('unexpected end of file'), 0);
      return;
    }
    const block: Block = { start: position, buf: Buffer.allocUnsafe(blockLength) };
    this.readFully(block.buf, 0, blockLength, position, (err) => {
      if (err) return callback(err, 0);
      this.blocks.unshift(block);
      if (this.blocks.length > CACHE_BLOCKS) this.blocks.pop();
      block.buf.copy(buffer, offset, 0, length);
      callback(null, length);
    });
  }

  override _readStreamForRange(start: number, end: number): Readable {
    const cached = this.find(start, end - start);
    if (cached || end <= start) {
      const out = new PassThrough();
      out.end(cached ? cached.buf.subarray(start - cached.start, end - cached.start) : Buffer.alloc(0));
      return out;
    }
    return new RangeStream(this, start, end);
  }

  /** yauzl's hook, called when its reference count drops to zero. */
  override close(callback: (err: Error | null) => void): void {
    // Called outside the promise chain: yauzl's callback emits events whose listeners may throw.
    this.dispose().then(
      () => process.nextTick(callback, null),
      (err: unknown) => process.nextTick(callback, err),
    );
  }

  /** Close the descriptor once no read is in flight; every call returns the same outcome. */
  dispose(): Promise<void> {
    if (!this.closeDone) {
      this.closing = true;
      this.blocks = [];
      this.closeDone = new Promise<void>((resolve, reject) => {
        this.finishClose = () => {
          const fd = this.fd;
          this.fd = undefined;
          if (fd === undefined) return resolve();
          this.fs.close(fd, (err) => (err ? reject(err) : resolve()));
        };
      });
      if (this.reading === 0) this.finishClose?.();
    }
    return this.closeDone;
  }

  /** One read(2) at most; every access to the fd goes through here. */
  readSome(buffer: Buffer, offset: number, length: number, position: number, callback: ReadCallback): void {
    const fd = this.fd;
    if (this.closing || fd === undefined) {
      process.nextTick(callback, new Error('the zip archive is already closed'), 0);
      return;
    }
    this.reading++;
    this.fs.read(fd, buffer, offset, length, position, (err, bytesRead) => {
      this.reading--;
      if (this.closing && this.reading === 0) this.finishClose?.();
      callback(err, bytesRead);
    });
  }

  private readFully(buffer: Buffer, offset: number, length: number, position: number, callback: ReadCallback): void {
    let done = 0;
    const step = (): void => {
      if (done === length) return callback(null, length);
      this.readSome(buffer, offset + done, length - done, position + done, (err, bytesRead) => {
        if (err) return callback(err, done);
        if (bytesRead === 0) return callback(new Error('unexpected end of file'), done);
        done += bytesRead;
        step();
      });
    };
    step();
  }

  private find(position: number, length: number): Block | undefined {
    for (const block of this.blocks) {
      if (position >= block.start && position + length <= block.start + block.buf.length) return block;
    }
    return undefined;
  }
}

/** The bytes [start, end) of the archive; destroying it releases nothing but itself. */
class RangeStream extends Readable {
  constructor(
    private readonly reader: CachedFileReader,
    private position: number,
    private readonly end: number,
  ) {
    super({ highWaterMark: STREAM_CHUNK });
  }

  override _read(): void {
    const length = Math.min(STREAM_CHUNK, this.end - this.position);
    if (length <= 0) {
      this.push(null);
      return;
    }
    const buf = Buffer.allocUnsafe(length);
    this.reader.readSome(buf, 0, length, this.position, (err, bytesRead) => {
      if (this.destroyed) return;
      if (err) return void this.destroy(err);
      if (bytesRead === 0) return void this.destroy(new Error('unexpected end of file: the archive is truncated'));
      this.position += bytesRead;
      this.push(bytesRead < length ? buf.subarray(0, bytesRead) : buf);
    });
  }
}
