/**
 * zip unpacking with yauzl: the central directory is read entry by entry (lazyEntries) and each
 * entry's data is streamed from the file (random access, zip64 supported), never loading the archive.
 *
 * Unix metadata comes from the external attributes when the archive was made on a Unix host
 * (Info-ZIP's rule): the upper 16 bits are st_mode, so the exec bits are kept, S_IFLNK entries
 * (whose data is the link target) become symbolic links and S_IFDIR entries directories.
 *
 * The archive's fd belongs to CachedFileReader and is closed once, before unpackZip settles, whatever
 * happened; no yauzl error can reach the process as an uncaught exception (see OpenZip).
 */
import type { Readable } from 'node:stream';
import { crc32, inflateRawSync } from 'node:zlib';
import yauzl from 'yauzl';
import { AgentError, ErrorCodes } from '../errors.js';
import { ASYNC_WRITE_THRESHOLD, type EntryMeta, type ExtractTarget, type FileSink } from './extract-target.js';
import { CachedFileReader } from './zip-reader.js';

const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const SPECIAL_TYPES = new Map([
  [0o010000, 'FIFO'],
  [0o020000, 'character device'],
  [0o060000, 'block device'],
  [0o140000, 'socket'],
]);
/** "version made by" host systems whose external attributes carry a Unix mode: Unix, OS X. */
const UNIX_HOSTS = new Set([3, 19]);
const MAX_SYMLINK_TARGET = 4096;
/** Entries up to this size (compressed and uncompressed) are read whole and inflated synchronously. */
const SMALL_ENTRY = 256 * 1024;
/** yauzl's own file name checks; their messages end with the entry name. */
const YAUZL_NAME_ERROR = /^(?:absolute path|invalid relative path): ([\s\S]*)$/;

export async function unpackZip(archivePath: string, target: ExtractTarget): Promise<void> {
  const reader = await CachedFileReader.open(archivePath);
  try {
    await extractAll(reader, target);
  } catch (err) {
    await reader.dispose().catch(() => undefined);
    throw err;
  }
  // The archive is done: close the fd now, not whenever yauzl's reference count allows.
  await reader.dispose();
}

async function extractAll(reader: CachedFileReader, target: ExtractTarget): Promise<void> {
  const archive = await openZip(reader);
  try {
    for (;;) {
      const entry = await nextEntry(archive, target);
      if (!entry) return;
      await extractEntry(archive.zip, reader, entry, target);
    }
  } finally {
    archive.zip.close();
  }
}

/**
 * yauzl reports some failures as 'error' events outside any request (a failed close of the fd, a bad
 * central directory record); with no listener an EventEmitter throws them, which would take the whole
 * daemon down. The first one is kept here and handed to the next nextEntry().
 */
interface OpenZip {
  zip: yauzl.ZipFile;
  error: Error | undefined;
}

async function openZip(reader: CachedFileReader): Promise<OpenZip> {
  const zip = await new Promise<yauzl.ZipFile>((resolve, reject) => {
    yauzl.fromRandomAccessReader(
      reader,
      reader.size,
      { lazyEntries: true, autoClose: true, decodeStrings: true, validateEntrySizes: true, strictFileNames: false },
      (err, zipfile) => (err ? reject(err) : resolve(zipfile)),
    );
  });
  const archive: OpenZip = { zip, error: undefined };
  zip.on('error', (err: Error) => {
    archive.error ??= err;
  });
  return archive;
}

function nextEntry({ zip, error }: OpenZip, target: ExtractTarget): Promise<yauzl.Entry | undefined> {
  // yauzl emits one error per archive and then goes quiet: waiting for another event would hang.
  if (error) return Promise.reject(entryError(error, target));
  return new Promise((resolve, reject) => {
    const cleanup = (): void => {
      zip.off('entry', onEntry);
      zip.off('end', onEnd);
      zip.off('error', onError);
    };
    const onEntry = (entry: yauzl.Entry): void => {
      cleanup();
      resolve(entry);
    };
    const onEnd = (): void => {
      cleanup();
      resolve(undefined);
    };
    const onError = (err: Error): void => {
      cleanup();
      reject(entryError(err, target));
    };
    zip.on('entry', onEntry);
    zip.on('end', onEnd);
    zip.on('error', onError);
    zip.readEntry();
  });
}

function entryError(err: Error, target: ExtractTarget): Error {
  const bad = YAUZL_NAME_ERROR.exec(err.message);
  if (!bad) return err;
  return new AgentError(
    ErrorCodes.PATH_ESCAPE,
    `Archive entry "${bad[1]}" in ${target.archivePath} would be written outside the deployment archive directory`,
    { cause: err, details: { entry: bad[1], archive: target.archivePath } },
  );
}

async function extractEntry(zip: yauzl.ZipFile, reader: CachedFileReader, entry: yauzl.Entry, target: ExtractTarget): Promise<void> {
  const name = entry.fileName;
  const rel = target.entryPath(name);
  const unixMode = UNIX_HOSTS.has(entry.versionMadeBy >>> 8) ? entry.externalFileAttributes >>> 16 : 0;
  const type = unixMode & S_IFMT;
  const meta: EntryMeta = { mtime: entry.getLastModDate() };
  if (unixMode & 0o7777) meta.mode = unixMode & 0o7777;

  if (name.endsWith('/') || type === S_IFDIR) {
    target.directory(name, rel, meta);
    return;
  }
  const special = SPECIAL_TYPES.get(type);
  if (special) target.special(name, special);
  if (type === S_IFLNK) {
    if (entry.uncompressedSize > MAX_SYMLINK_TARGET) {
      throw target.unpackError(name, `the symbolic link target is longer than ${MAX_SYMLINK_TARGET} bytes`);
    }
    const linkTarget = (await readSmallEntry(zip, reader, entry, target)).toString('utf8');
    target.symlink(name, rel, linkTarget, meta);
    return;
  }
  if (type !== 0 && type !== S_IFREG) throw target.unpackError(name, `unsupported file type 0o${type.toString(8)}`);
  if (entry.uncompressedSize <= SMALL_ENTRY && entry.compressedSize <= SMALL_ENTRY) {
    // Small entry: read it whole and inflate it here; the stream pipeline per entry costs more than the data.
    const data = await readSmallEntry(zip, reader, entry, target);
    const sink = target.file(name, rel, meta);
    sink.writeSync(data);
    sink.close();
    return;
  }
  const stream = await openStream(zip, entry);
  try {
    const sink = target.file(name, rel, meta);
    const crc = await writeStream(stream, sink, entry.uncompressedSize > ASYNC_WRITE_THRESHOLD);
    if (crc !== entry.crc32) throw target.unpackError(name, 'CRC-32 mismatch: the archive is corrupt');
    sink.close();
  } finally {
    // yauzl re-emits inner errors with emit('error'), which does not destroy the stream: only destroy()
    // releases its hold on the archive. A late re-emitted error must find a listener, not crash the process.
    stream.on('error', () => undefined);
    stream.destroy();
  }
}

/** Read a small entry whole, straight from the reader's cache (no stream per entry), and check it. */
async function readSmallEntry(zip: yauzl.ZipFile, reader: CachedFileReader, entry: yauzl.Entry, target: ExtractTarget): Promise<Buffer> {
  const deflated = entry.compressionMethod === 8;
  if (entry.compressedSize > SMALL_ENTRY) throw target.unpackError(entry.fileName, 'the entry is too large for its type');
  if (entry.isEncrypted()) throw target.unpackError(entry.fileName, 'encrypted entries are not supported');
  if (!deflated && entry.compressionMethod !== 0) {
    throw target.unpackError(entry.fileName, `unsupported compression method ${entry.compressionMethod}`);
  }
  const header = await new Promise<{ fileDataStart: number }>((resolve, reject) => {
    (zip as unknown as LocalHeaderReader).readLocalFileHeader(entry, { minimal: true }, (err, h) => (err ? reject(err) : resolve(h)));
  });
  if (header.fileDataStart + entry.compressedSize > reader.size) {
    throw target.unpackError(entry.fileName, 'the entry data overflows the file: the archive is truncated or corrupt');
  }
  const raw = Buffer.allocUnsafe(entry.compressedSize);
  await new Promise<void>((resolve, reject) => {
    reader.read(raw, 0, raw.length, header.fileDataStart, (err) => (err ? reject(err) : resolve()));
  });
  const data = deflated ? inflateRawSync(raw, { maxOutputLength: Math.max(entry.uncompressedSize, 1) }) : raw;
  if (data.length !== entry.uncompressedSize) {
    throw target.unpackError(entry.fileName, `expected ${entry.uncompressedSize} bytes, found ${data.length}: the archive is corrupt`);
  }
  if (crc32(data) !== entry.crc32) throw target.unpackError(entry.fileName, 'CRC-32 mismatch: the archive is corrupt');
  return data;
}

/** yauzl 3's readLocalFileHeader, missing from @types/yauzl 2. */
interface LocalHeaderReader {
  readLocalFileHeader(
    entry: yauzl.Entry,
    options: { minimal: boolean },
    callback: (err: Error | null, header: { fileDataStart: number }) => void,
  ): void;
}

function openStream(zip: yauzl.ZipFile, entry: yauzl.Entry, options: { decompress?: false } = {}): Promise<Readable> {
  return new Promise((resolve, reject) => {
    zip.openReadStream(entry, options as yauzl.ZipFileOptions, (err, stream) => (err ? reject(err) : resolve(stream)));
  });
}

/** Copy the entry's data into the sink; returns the CRC-32 of what was written. */
async function writeStream(stream: Readable, sink: FileSink, large: boolean): Promise<number> {
  let crc = 0;
  if (large) {
    for await (const chunk of stream) {
      crc = crc32(chunk as Buffer, crc);
      await sink.write(chunk as Buffer);
    }
    return crc;
  }
  return new Promise<number>((resolve, reject) => {
    stream.on('data', (chunk: Buffer) => {
      try {
        crc = crc32(chunk, crc);
        sink.writeSync(chunk);
      } catch (err) {
        stream.destroy();
        reject(err as Error);
      }
    });
    stream.on('error', reject);
    stream.on('end', () => resolve(crc));
  });
}
