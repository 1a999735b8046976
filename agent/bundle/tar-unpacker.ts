/**
 * tar and tar.gz unpacking: node-tar's streaming Parser reads the format (ustar, pax, GNU long names;
 * gzip is recognised by its magic bytes, as GNU tar does), and every entry is written by an
 * ExtractTarget, which enforces the path rules. node-tar's own Unpack is not used: it rewrites
 * absolute symlink targets, skips bad entries with a warning instead of failing, and is an order of
 * magnitude slower on many small files.
 */
import { createReadStream } from 'node:fs';
import { Parser, type ReadEntry } from 'tar';
import { toError } from '../../common/errors.js';
import { ASYNC_WRITE_THRESHOLD, type EntryMeta, type ExtractTarget, type FileSink } from './extract-target.js';

/** Entry types whose contents would be lost if skipped. */
const UNSUPPORTED_TYPES = new Set(['SparseFile', 'ContinuationFile']);

export async function unpackTar(archivePath: string, target: ExtractTarget): Promise<void> {
  const input = createReadStream(archivePath, { highWaterMark: 256 * 1024 });
  // strict: a bad header or truncated archive is an error, not a warning. No decompression-ratio
  // limit: GNU tar has none, and a bundle holding a large file of zeros is legitimate.
  const parser = new Parser({ strict: true, maxDecompressionRatio: Infinity });

  let failure: Error | undefined;
  let pending: Promise<void> = Promise.resolve();
  let settle: { resolve: () => void; reject: (err: Error) => void } | undefined;
  const done = new Promise<void>((resolve, reject) => {
    settle = { resolve, reject };
  });

  const fail = (err: unknown): void => {
    if (failure) return;
    failure = toError(err);
    target.abort();
    input.destroy();
    parser.abort(failure);
    // Let an asynchronous write in flight finish before the caller removes the directory.
    const reject = (): void => settle?.reject(failure as Error);
    pending.then(reject, reject);
  };

  parser.on('entry', (entry: ReadEntry) => {
    if (failure) {
      entry.resume();
      return;
    }
    try {
      onEntry(entry);
    } catch (err) {
      entry.resume();
      fail(err);
    }
  });
  parser.on('ignoredEntry', (entry: ReadEntry) => {
    if (UNSUPPORTED_TYPES.has(entry.type)) fail(target.unpackError(entry.path, `unsupported entry type ${entry.type}`));
  });
  parser.on('error', (err: unknown) => fail(err));
  parser.on('end', () => {
    if (!failure) void pending.then(() => settle?.resolve(), fail);
  });
  input.on('error', fail);
  input.pipe(parser);

  function onEntry(entry: ReadEntry): void {
    const name = entry.path;
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
      case 'ContiguousFile':
        writeFile(entry, target.file(name, rel, meta));
        return;
      case 'Directory':
      case 'GNUDumpDir':
        target.directory(name, rel, meta);
        entry.resume();
        return;
      case 'SymbolicLink':
        target.symlink(name, rel, entry.linkpath ?? '', meta);
        entry.resume();
        return;
      case 'Link':
        target.hardLink(name, rel, entry.linkpath ?? '');
        entry.resume();
        return;
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

  function writeFile(entry: ReadEntry, sink: FileSink): void {
    if (entry.size <= ASYNC_WRITE_THRESHOLD) {
      entry.on('data', (chunk: Buffer) => {
        if (failure) return;
        try {
          sink.writeSync(chunk);
        } catch (err) {
          fail(err);
        }
      });
      entry.on('end', () => {
        if (failure) return;
        try {
          sink.close();
        } catch (err) {
          fail(err);
        }
      });
      return;
    }
    // Large file: one asynchronous write at a time; pausing the entry stalls the parser and the input.
    entry.on('data', (chunk: Buffer) => {
      if (failure) return;
      entry.pause();
      pending = sink.write(chunk).then(() => entry.resume());
      pending.catch(fail);
    });
    entry.on('end', () => {
      pending = pending.then(() => {
        if (!failure) sink.close();
      });
      pending.catch(fail);
    });
  }

  return done;
}
