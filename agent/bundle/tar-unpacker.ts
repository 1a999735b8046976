/**
 * tar and tar.gz unpacking: the archive is streamed from disk, decompressed when it starts with the
 * gzip (or zstd) magic bytes, as GNU tar does, read block by block by TarReader (node-tar decodes the
 * headers: ustar, pax, GNU long names) and every entry is written by an ExtractTarget, which enforces
 * the path rules. node-tar's own Unpack is not used: it rewrites absolute symlink targets, skips bad
 * entries with a warning instead of failing, and is an order of magnitude slower on many small files.
 *
 * Speed and memory: the archive is read ahead in two reused buffers; decompression runs on the libuv
 * thread pool (node:zlib's asynchronous streams), so it overlaps the file writes on the main thread;
 * a large file's data is written with asynchronous writes while the next chunks are read and
 * decompressed. What is in memory is bounded (READ_CHUNK x 2 + DECOMPRESS_AHEAD + a chunk being
 * written), whatever the archive holds.
 */
import { open, type FileHandle } from 'node:fs/promises';
import type { Transform } from 'node:stream';
import * as zlib from 'node:zlib';
import { ASYNC_WRITE_THRESHOLD, type EntryMeta, type ExtractTarget } from './extract-target.js';
import { TarReader, type TarBody, type TarEntry } from './tar-reader.js';

/** Bytes per read of the archive file (two buffers of this size are reused for the whole archive). */
const READ_CHUNK = 1024 * 1024;
/**
 * Bytes per decompressed chunk, and how far the decompressor may run ahead of the writes. node:zlib
 * allocates a new buffer per chunk, and dead buffers wait for the next garbage collection: larger
 * chunks are no faster on a 1 GB archive but raise the peak RSS (measured, 1 GB of random data in a
 * tgz: 256 KiB chunks 130 MiB, 64 KiB 98 MiB, 32 KiB 85 MiB).
 */
const DECOMPRESS_CHUNK = 32 * 1024;
const DECOMPRESS_AHEAD = 128 * 1024;

/** Entry types that would lose data if skipped: they fail the unpack. Other unknown types are skipped. */
const UNSUPPORTED_TYPES = new Set(['SparseFile', 'ContinuationFile']);
/** Types that carry no file system entry (vendor metadata): skipped, as node-tar and GNU tar do. */
const SKIPPED_TYPES = new Set(['Unsupported', 'SolarisACL', 'Inode', 'TapeVolumeHeader']);

const GZIP_MAGIC = [0x1f, 0x8b];
const ZSTD_MAGIC = [0x28, 0xb5, 0x2f, 0xfd];
/** node:zlib's zstd decompressor (Node 22.15 and later; not in the Node 20 type definitions). */
const createZstdDecompress = (zlib as { createZstdDecompress?: (options: zlib.ZlibOptions) => Transform }).createZstdDecompress;

export async function unpackTar(archivePath: string, target: ExtractTarget): Promise<void> {
  const handle = await open(archivePath, 'r');
  const reader = new TarReader((entry) => onEntry(entry, target));
  try {
    const input = readChunks(handle);
    const first = await input.next();
    const head = first.done ? Buffer.alloc(0) : first.value;
    const decompressor = decompressorFor(head);
    if (!decompressor) {
      if (!first.done) await reader.write(head);
      for await (const chunk of input) await reader.write(chunk);
    } else {
      // feed() never rejects: its errors reach the loop below through the decompressor.
      const feeding = feed(decompressor, first.done ? [] : [head], input);
      try {
        for await (const chunk of decompressor) await reader.write(chunk as Buffer);
      } finally {
        decompressor.destroy();
      }
      await feeding;
    }
    reader.end();
  } finally {
    await handle.close();
  }
}

/**
 * The archive file in chunks of READ_CHUNK, read ahead by one. Two buffers are used in turn, so the
 * chunks are not garbage for the GC to find (a 1 GB archive would otherwise leave tens of MiB of
 * dead buffers between collections): a chunk is valid until the next one is asked for.
 */
async function* readChunks(handle: FileHandle): AsyncGenerator<Buffer, void, undefined> {
  const buffers = [Buffer.allocUnsafeSlow(READ_CHUNK), Buffer.allocUnsafeSlow(READ_CHUNK)] as const;
  let position = 0;
  let turn = 0;
  let pending = handle.read(buffers[0], 0, READ_CHUNK, 0);
  for (;;) {
    const { bytesRead, buffer } = await pending;
    if (bytesRead === 0) return;
    position += bytesRead;
    turn ^= 1;
    pending = handle.read(buffers[turn], 0, READ_CHUNK, position);
    // A read ahead that nobody awaits (the unpack failed meanwhile) must not be an unhandled rejection.
    pending.catch(() => undefined);
    yield buffer.subarray(0, bytesRead);
  }
}

/** Write the chunks into the decompressor, each once the previous one has been consumed; end it after the last. */
async function feed(decompressor: Transform, first: Buffer[], rest: AsyncIterable<Buffer>): Promise<void> {
  const write = (chunk: Buffer): Promise<void> =>
    new Promise((resolve, reject) => {
      decompressor.write(chunk, (err) => (err ? reject(err) : resolve()));
    });
  try {
    for (const chunk of first) await write(chunk);
    for await (const chunk of rest) {
      if (decompressor.destroyed) return;
      await write(chunk);
    }
    decompressor.end();
  } catch (err) {
    // The reader sees the error through the decompressor (or has already failed and destroyed it).
    decompressor.destroy(err as Error);
  }
}

/** A decompressor for the archive's first bytes, or undefined for a plain tar. */
function decompressorFor(head: Buffer): Transform | undefined {
  const starts = (bytes: number[]): boolean => head.length >= bytes.length && bytes.every((b, i) => head[i] === b);
  const options = { chunkSize: DECOMPRESS_CHUNK, highWaterMark: DECOMPRESS_AHEAD };
  if (starts(GZIP_MAGIC)) return zlib.createGunzip(options);
  // zstd is in node:zlib from Node 22.15; on older versions a zstd archive fails as "not a tar archive".
  if (starts(ZSTD_MAGIC) && createZstdDecompress) return createZstdDecompress(options);
  return undefined;
}

function onEntry(entry: TarEntry, target: ExtractTarget): TarBody | undefined {
  const name = entry.path;
  if (SKIPPED_TYPES.has(entry.type)) return undefined;
  if (UNSUPPORTED_TYPES.has(entry.type)) throw target.unpackError(name, `unsupported entry type ${entry.type}`);
  const rel = target.entryPath(name);
  const meta: EntryMeta = {
    mode: entry.mode === undefined ? undefined : entry.mode & 0o7777,
    mtime: entry.mtime,
    atime: entry.atime,
    uid: entry.uid,
    gid: entry.gid,
  };
  switch (entry.type) {
    case 'File':
    case 'OldFile':
    case 'ContiguousFile': {
      const sink = target.file(name, rel, meta);
      if (entry.size <= ASYNC_WRITE_THRESHOLD) return { write: (chunk) => sink.writeSync(chunk), end: () => sink.close() };
      // Large file: asynchronous writes; the decompressor keeps working meanwhile (up to its high-water mark).
      return { write: (chunk) => sink.write(chunk), end: () => sink.close() };
    }
    case 'Directory':
    case 'GNUDumpDir':
      target.directory(name, rel, meta);
      return undefined;
    case 'SymbolicLink':
      target.symlink(name, rel, entry.linkpath ?? '', meta);
      return undefined;
    case 'Link':
      target.hardLink(name, rel, entry.linkpath ?? '');
      return undefined;
    case 'CharacterDevice':
      return target.special(name, 'character device');
    case 'BlockDevice':
      return target.special(name, 'block device');
    case 'FIFO':
      return target.special(name, 'FIFO');
    default:
      throw target.unpackError(name, `unsupported entry type ${entry.type}`);
  }
}
