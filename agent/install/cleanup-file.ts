/**
 * The `<DGID>-cleanup` list (docs/reference.md section 4.5): one absolute path per line for every file and directory
 * an install created, plus `semanage\0<realpath>` for every SELinux context it added. The next install
 * of the same group removes them (in reverse order) before it plans, reading the list from its end a
 * chunk at a time.
 *
 * Improvement over the official agent (docs/reference.md section 11.2 item 23): the recorder appends the paths of a
 * whole batch of upcoming changes and fsyncs BEFORE the batch runs, so after a crash every file on
 * disk is listed and the next install removes it. Temp files are listed too.
 *
 * Reading: an empty file means nothing; a final line without "\n" is a torn write and is dropped.
 * Only the line break is stripped (the official agent strips all surrounding whitespace, which breaks
 * paths ending in spaces); blank and non-absolute lines are skipped.
 */
import { closeSync, fstatSync, lstatSync, openSync, readSync, rmdirSync, unlinkSync } from 'node:fs';
import { open, unlink, type FileHandle } from 'node:fs/promises';
import { dirname, isAbsolute } from 'node:path';
import type { Logger } from 'pino';
import { AgentError, ErrorCodes } from '../errors.js';
import { errnoCode, toError } from '../../common/errors.js';
import { isTempPath } from './file-copier.js';
import * as msg from './install-messages.js';
import { TimeSlice } from '../platform/time-slice.js';
import type { ToolRunner } from '../platform/tool-runner.js';
import { syncDir } from '../../common/atomic-file.js';

export type CleanupEntry = { kind: 'path'; path: string } | { kind: 'semanage'; path: string };

const SEMANAGE_PREFIX = 'semanage\0';
/** Bytes read at a time when the list is read backwards. */
const READ_CHUNK = 256 * 1024;
/**
 * No line the recorder writes comes near this (a path is at most PATH_MAX); a longer run without a
 * line break is damage (a list filled with NUL bytes) and is skipped as a line that names no path.
 */
const MAX_LINE = 1024 * 1024;

/** The entries of a cleanup list in EXECUTION order (the reverse of the file's order). */
export function parseCleanupList(text: string): CleanupEntry[] {
  if (text.length === 0) return [];
  const lines = text.split('\n');
  // After split, the last element is "" when the text ends with "\n", else the torn final line.
  lines.pop();
  const entries: CleanupEntry[] = [];
  for (const line of lines) {
    const entry = parseLine(line);
    if (entry) entries.push(entry);
  }
  return entries.reverse();
}

function parseLine(line: string): CleanupEntry | undefined {
  if (line.startsWith(SEMANAGE_PREFIX)) {
    const path = line.slice(SEMANAGE_PREFIX.length);
    return path.length > 0 ? { kind: 'semanage', path } : undefined;
  }
  return isAbsolute(line) ? { kind: 'path', path: line } : undefined;
}

export function formatCleanupLine(entry: CleanupEntry): string {
  return entry.kind === 'semanage' ? `${SEMANAGE_PREFIX}${entry.path}` : entry.path;
}

export interface CleanupOptions {
  tools: ToolRunner;
  logger: Logger;
}

/**
 * Execute entries (in execution order): files and symlinks are unlinked, directories rmdir'ed with
 * ENOTEMPTY ignored (someone else put files there), missing paths ignored, contexts removed with
 * `semanage fcontext -d` (failures ignored, as official). Every path is first unlinked (one call per
 * entry; unlink refuses directories with EISDIR); the directories then follow in list order, which
 * puts children before their parents. The calls are synchronous, in time slices that yield to the
 * event loop (time-slice.ts): a thread-pool round trip per path costs more than the unlink itself.
 * Returns the number of entries actually removed.
 */
export async function executeCleanup(entries: readonly CleanupEntry[], options: CleanupOptions): Promise<number> {
  return (await executeEntries(() => entries, options)).removed;
}

/**
 * executeCleanup() over entries read as it goes; `entries` is called once more for the contexts when
 * there are any. Only the directories are kept in memory (for the rmdir pass), not the files.
 */
async function executeEntries(entries: () => Iterable<CleanupEntry>, options: CleanupOptions): Promise<{ removed: number; count: number }> {
  const slice = new TimeSlice();
  const directories: string[] = [];
  let removed = 0;
  let count = 0;
  let contexts = 0;
  for (const entry of entries()) {
    count++;
    if (entry.kind !== 'path') {
      contexts++;
      continue;
    }
    // The temp names of an install that finished are gone: a non-throwing lstat is much cheaper
    // than the ENOENT exception of unlink (and, unlike exists, sees a dangling temp symlink).
    if (isTempPath(entry.path) && surelyMissing(entry.path)) continue;
    try {
      unlinkSync(entry.path);
      removed++;
    } catch (err) {
      const code = errnoCode(err);
      if (code === 'EISDIR' || code === 'EPERM') directories.push(entry.path);
      else if (code !== 'ENOENT' && code !== 'ENOTDIR') throw removalError(entry.path, err);
    }
    if (slice.spent()) await slice.next();
  }
  for (const path of directories) {
    try {
      rmdirSync(path);
      removed++;
    } catch (err) {
      const code = errnoCode(err);
      if (code === 'ENOTEMPTY' || code === 'EEXIST' || code === 'ENOENT') {
        options.logger.debug({ path, code }, 'cleanup: directory left in place');
      } else {
        throw removalError(path, err);
      }
    }
    if (slice.spent()) await slice.next();
  }
  if (contexts === 0) return { removed, count };
  for (const entry of entries()) {
    if (entry.kind !== 'semanage') continue;
    const result = await options.tools.run('semanage', ['fcontext', '-d', entry.path]);
    if (result.exitCode === 0) removed++;
    else options.logger.debug({ path: entry.path, exitCode: result.exitCode }, 'cleanup: semanage fcontext -d failed');
  }
  return { removed, count };
}

/**
 * Step 1 of Install: run the previous install's cleanup list, then delete it. 0 when there is none.
 * The list (two lines per file installed: a million-file install leaves ~100 MB) is read backwards a
 * chunk at a time, never whole.
 */
export async function runCleanupFile(file: string, options: CleanupOptions): Promise<number> {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return 0;
    throw new AgentError(ErrorCodes.DEPLOYMENT_ROOT, `Cannot read the cleanup list ${file}: ${toError(err).message}`, {
      cause: err,
    });
  }
  let result;
  try {
    const size = fstatSync(fd).size;
    result = await executeEntries(() => entriesBackward(fd, size, file), options);
  } finally {
    closeSync(fd);
  }
  await unlink(file);
  options.logger.debug({ file, entries: result.count, removed: result.removed }, 'cleanup list executed');
  return result.removed;
}

/** parseCleanupList() of a file, read from its end: the same entries in the same order. */
function* entriesBackward(fd: number, size: number, file: string): Generator<CleanupEntry, void, undefined> {
  for (const line of linesBackward(fd, size, file)) {
    const entry = parseLine(line);
    if (entry) yield entry;
  }
}

/** The complete lines of a file, last first; the bytes after the last line break (a torn write) are not a line. */
function* linesBackward(fd: number, size: number, file: string): Generator<string, void, undefined> {
  const chunk = Buffer.allocUnsafe(READ_CHUNK);
  // Bytes of the line that continues into the part already read (it ends where that part began).
  let tail = Buffer.alloc(0);
  let tailTooLong = false;
  let sawBreak = false;
  for (let pos = size; pos > 0;) {
    const n = Math.min(READ_CHUNK, pos);
    pos -= n;
    let got = 0;
    while (got < n) {
      let read: number;
      try {
        read = readSync(fd, chunk, got, n - got, pos + got);
      } catch (err) {
        throw new AgentError(ErrorCodes.DEPLOYMENT_ROOT, `Cannot read the cleanup list ${file}: ${toError(err).message}`, { cause: err });
      }
      if (read === 0) throw new AgentError(ErrorCodes.DEPLOYMENT_ROOT, `Cannot read the cleanup list ${file}: it shrank while being read`);
      got += read;
    }
    let end = n;
    // Line breaks of this chunk, from the last: each one ends the line that `tail` finishes.
    for (let at = chunk.lastIndexOf(0x0a, end - 1); at >= 0 && end > 0; at = at > 0 ? chunk.lastIndexOf(0x0a, at - 1) : -1) {
      const line = tailTooLong ? undefined : Buffer.concat([chunk.subarray(at + 1, end), tail]);
      if (sawBreak && line !== undefined) yield line.toString('utf8');
      sawBreak = true;
      tail = Buffer.alloc(0);
      tailTooLong = false;
      end = at;
    }
    if (!tailTooLong) {
      tail = Buffer.concat([chunk.subarray(0, end), tail]);
      if (tail.length > MAX_LINE) {
        tail = Buffer.alloc(0);
        tailTooLong = true;
      }
    }
  }
  // The first line of the file (no line break before it) is complete if any line break follows it.
  if (sawBreak && !tailTooLong) yield tail.toString('utf8');
}

/**
 * Appends entries to a fresh cleanup list, durably: every record() call writes its lines and
 * fdatasyncs before it resolves. Calls are serialised in call order.
 */
export class CleanupRecorder {
  private tail: Promise<void> = Promise.resolve();

  private constructor(
    private readonly handle: FileHandle,
    readonly file: string,
  ) {}

  /** Create (truncate) the list and make its directory entry durable. */
  static async create(file: string): Promise<CleanupRecorder> {
    const handle = await open(file, 'w', 0o644);
    await handle.sync();
    await syncDir(dirname(file));
    return new CleanupRecorder(handle, file);
  }

  record(entries: readonly CleanupEntry[]): Promise<void> {
    if (entries.length === 0) return this.tail;
    return this.append(lines(entries.map(formatCleanupLine)));
  }

  /** record() for plain paths (no newline in any: the planner rejects those). */
  recordPaths(paths: readonly string[]): Promise<void> {
    if (paths.length === 0) return this.tail;
    return this.append(lines(paths));
  }

  private append(data: Buffer): Promise<void> {
    const next = this.tail.then(async () => {
      await this.handle.write(data);
      await this.handle.datasync();
    });
    // A failed write fails this call; later calls still run (and fail on their own if the disk is gone).
    this.tail = next.catch(() => undefined);
    return next;
  }

  async close(): Promise<void> {
    await this.tail;
    await this.handle.close();
  }
}

/**
 * The lines as bytes, encoded one by one: a batch of a thousand paths joined into one string would be
 * a large V8 object, allocated in the old generation for every batch.
 */
function lines(texts: readonly string[]): Buffer {
  let size = 0;
  for (const text of texts) size += Buffer.byteLength(text) + 1;
  const data = Buffer.allocUnsafe(size);
  let at = 0;
  for (const text of texts) {
    at += data.write(text, at);
    data[at++] = 0x0a;
  }
  return data;
}

function surelyMissing(path: string): boolean {
  try {
    return lstatSync(path, { throwIfNoEntry: false }) === undefined;
  } catch {
    return false; // let unlink report (or ignore) the problem
  }
}

function removalError(path: string, err: unknown): AgentError {
  return new AgentError(ErrorCodes.INSTALL_FAILED, msg.operationFailed('remove', path, toError(err).message), {
    cause: err,
  });
}
