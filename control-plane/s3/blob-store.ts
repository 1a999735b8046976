/**
 * Object and part bytes on disk: `<dataDir>/s3/objects/<uuid>`, never named after a bucket or key
 * (keys are untrusted bytes; `..` or `/` in them mean nothing here). A blob is written to
 * `<dataDir>/s3/tmp/`, fsynced, then renamed into objects/ (and the directory fsynced) only when
 * the caller commits it, so no reader ever sees a partial file, and the metadata row that makes it
 * visible is written after that. Blobs are immutable once committed, so a copy is a hard link.
 *
 * On startup `sweep` empties tmp/ and removes blobs no metadata row names (a crash between the
 * rename and the row, or between a row's deletion and the unlink).
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync, rmSync, unlinkSync } from 'node:fs';
import { copyFile, link, open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { syncDir } from '../../common/atomic-file.js';

export interface StagedBlob {
  tempPath: string;
  bytes: number;
}

export interface BlobStore {
  readonly objectsDir: string;
  /** Writes `chunks` to a temp file and fsyncs it. The caller commits or discards it. */
  stage(chunks: AsyncIterable<Uint8Array>): Promise<StagedBlob>;
  /** Streams blobs one after another into a temp file (multipart completion). */
  stageConcat(ids: readonly string[]): Promise<StagedBlob>;
  /** Moves a staged blob into objects/ under a new id and returns the id. */
  commit(staged: StagedBlob): Promise<string>;
  discard(staged: StagedBlob): Promise<void>;
  /** A new id holding the same bytes as `id` (hard link; a copy where links are impossible). */
  duplicate(id: string): Promise<string>;
  /** Opens a blob for reading; ENOENT when it was removed meanwhile. */
  open(id: string): Promise<FileHandle>;
  /** Removes blobs; missing ones are ignored. */
  remove(ids: Iterable<string>): Promise<void>;
  /** Startup cleanup: empties tmp/ and deletes object files not in `referenced`. */
  sweep(referenced: ReadonlySet<string>): { removed: number };
  /**
   * Shutdown: closes the temp files of uploads still being written (their requests fail), so no
   * file handle is left to the garbage collector, which Node 26 turns into an uncaught error.
   */
  closeAll(): Promise<void>;
}

const BLOB_ID = /^[0-9a-f-]{36}$/;
const BATCH_BYTES = 1024 * 1024;

/** What is left of `buffers` after the first `written` bytes (a short writev). */
function dropWritten(buffers: Uint8Array[], written: number): Uint8Array[] {
  let left = written;
  let i = 0;
  while (i < buffers.length && left >= buffers[i]!.length) left -= buffers[i++]!.length;
  const rest = buffers.slice(i);
  if (rest.length > 0 && left > 0) rest[0] = rest[0]!.subarray(left);
  return rest;
}

export function createBlobStore(root: string): BlobStore {
  const objectsDir = join(root, 'objects');
  const tmpDir = join(root, 'tmp');
  mkdirSync(objectsDir, { recursive: true, mode: 0o700 });
  mkdirSync(tmpDir, { recursive: true, mode: 0o700 });

  const pathOf = (id: string): string => {
    if (!BLOB_ID.test(id)) throw new Error(`invalid blob id ${JSON.stringify(id)}`);
    return join(objectsDir, id);
  };

  const writing = new Set<FileHandle>();

  async function writeTemp(fill: (handle: FileHandle) => Promise<number>): Promise<StagedBlob> {
    const tempPath = join(tmpDir, randomUUID());
    const handle = await open(tempPath, 'wx', 0o600);
    writing.add(handle);
    try {
      const bytes = await fill(handle);
      await handle.sync();
      await handle.close();
      return { tempPath, bytes };
    } catch (err) {
      await handle.close().catch(() => undefined);
      await unlink(tempPath).catch(() => undefined);
      throw err;
    } finally {
      writing.delete(handle);
    }
  }

  /**
   * Writes chunks in batches of about 1 MiB (one writev each): socket chunks are often 16-64 KiB,
   * and a filesystem round trip per chunk would dominate. While a batch is written the source is
   * not read, so memory stays bounded by one batch plus the socket's buffers.
   */
  async function writeAll(handle: FileHandle, chunks: AsyncIterable<Uint8Array>): Promise<number> {
    let bytes = 0;
    let batch: Uint8Array[] = [];
    let batchBytes = 0;
    const flush = async (): Promise<void> => {
      let pending = batch;
      batch = [];
      batchBytes = 0;
      while (pending.length > 0) {
        const { bytesWritten } = await handle.writev(pending);
        pending = dropWritten(pending, bytesWritten);
      }
    };
    for await (const chunk of chunks) {
      // Kept by reference: sockets and file streams hand out a fresh buffer for every chunk.
      batch.push(chunk);
      batchBytes += chunk.length;
      bytes += chunk.length;
      if (batchBytes >= BATCH_BYTES || batch.length >= 512) await flush();
    }
    await flush();
    return bytes;
  }

  return {
    objectsDir,
    stage: (chunks) => writeTemp((handle) => writeAll(handle, chunks)),
    stageConcat: (ids) =>
      writeTemp(async (handle) => {
        let total = 0;
        for (const id of ids) {
          const source = await open(pathOf(id), 'r');
          try {
            total += await writeAll(handle, source.createReadStream({ highWaterMark: 1024 * 1024, autoClose: false }));
          } finally {
            await source.close();
          }
        }
        return total;
      }),
    async commit(staged) {
      const id = randomUUID();
      await rename(staged.tempPath, pathOf(id));
      await syncDir(objectsDir);
      return id;
    },
    async discard(staged) {
      await unlink(staged.tempPath).catch(() => undefined);
    },
    async duplicate(id) {
      const copy = randomUUID();
      try {
        await link(pathOf(id), pathOf(copy));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw err;
        const staged = join(tmpDir, copy);
        await copyFile(pathOf(id), staged);
        const handle = await open(staged, 'r+');
        await handle.sync().finally(() => handle.close());
        await rename(staged, pathOf(copy));
      }
      await syncDir(objectsDir);
      return copy;
    },
    open: (id) => open(pathOf(id), 'r'),
    async closeAll() {
      await Promise.all([...writing].map((h) => h.close().catch(() => undefined)));
      writing.clear();
    },
    async remove(ids) {
      for (const id of ids) await unlink(pathOf(id)).catch(() => undefined);
    },
    sweep(referenced) {
      let removed = 0;
      for (const name of readdirSync(tmpDir)) {
        rmSync(join(tmpDir, name), { force: true, recursive: true });
      }
      for (const name of readdirSync(objectsDir)) {
        if (referenced.has(name)) continue;
        try {
          unlinkSync(join(objectsDir, name));
          removed++;
        } catch {
          // Already gone, or a directory someone else put there: leave it.
        }
      }
      return { removed };
    },
  };
}
