/**
 * The `<DGID>-cleanup` list (reference 4.5): one absolute path per line for every file and directory
 * an install created, plus `semanage\0<realpath>` for every SELinux context it added. The next install
 * of the same group removes them (in reverse order) before it plans.
 *
 * Improvement over the official agent (reference 11.2 item 23): the recorder appends the paths of a
 * whole batch of upcoming changes and fsyncs BEFORE the batch runs, so after a crash every file on
 * disk is listed and the next install removes it. Temp files are listed too.
 *
 * Reading: an empty file means nothing; a final line without "\n" is a torn write and is dropped.
 * Only the line break is stripped (the official agent strips all surrounding whitespace, which breaks
 * paths ending in spaces); blank and non-absolute lines are skipped.
 */
import { lstatSync, rmdirSync, unlinkSync } from 'node:fs';
import { open, readFile, unlink, type FileHandle } from 'node:fs/promises';
import { dirname, isAbsolute } from 'node:path';
import type { Logger } from 'pino';
import { AgentError, ErrorCodes, errnoCode, toError } from '../errors.js';
import { isTempPath } from './file-copier.js';
import * as msg from './install-messages.js';
import { TimeSlice } from './time-slice.js';
import type { ToolRunner } from './tool-runner.js';
import { syncDir } from '../platform/atomic-file.js';

export type CleanupEntry = { kind: 'path'; path: string } | { kind: 'semanage'; path: string };

const SEMANAGE_PREFIX = 'semanage\0';

/** The entries of a cleanup list in EXECUTION order (the reverse of the file's order). */
export function parseCleanupList(text: string): CleanupEntry[] {
  if (text.length === 0) return [];
  const lines = text.split('\n');
  // After split, the last element is "" when the text ends with "\n", else the torn final line.
  lines.pop();
  const entries: CleanupEntry[] = [];
  for (const line of lines) {
    if (line.startsWith(SEMANAGE_PREFIX)) {
      const path = line.slice(SEMANAGE_PREFIX.length);
      if (path.length > 0) entries.push({ kind: 'semanage', path });
    } else if (isAbsolute(line)) {
      entries.push({ kind: 'path', path: line });
    }
  }
  return entries.reverse();
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
  const slice = new TimeSlice();
  const directories: string[] = [];
  let removed = 0;
  for (const entry of entries) {
    if (entry.kind !== 'path') continue;
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
  for (const entry of entries) {
    if (entry.kind !== 'semanage') continue;
    const result = await options.tools.run('semanage', ['fcontext', '-d', entry.path]);
    if (result.exitCode === 0) removed++;
    else options.logger.debug({ path: entry.path, exitCode: result.exitCode }, 'cleanup: semanage fcontext -d failed');
  }
  return removed;
}

/** Step 1 of Install: run the previous install's cleanup list, then delete it. 0 when there is none. */
export async function runCleanupFile(file: string, options: CleanupOptions): Promise<number> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return 0;
    throw new AgentError(ErrorCodes.DEPLOYMENT_ROOT, `Cannot read the cleanup list ${file}: ${toError(err).message}`, {
      cause: err,
    });
  }
  const entries = parseCleanupList(text);
  const removed = await executeCleanup(entries, options);
  await unlink(file);
  options.logger.debug({ file, entries: entries.length, removed }, 'cleanup list executed');
  return removed;
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
    return this.append(entries.map((e) => `${formatCleanupLine(e)}\n`).join(''));
  }

  /** record() for plain paths (no newline in any: the planner rejects those). */
  recordPaths(paths: readonly string[]): Promise<void> {
    if (paths.length === 0) return this.tail;
    return this.append(`${paths.join('\n')}\n`);
  }

  private append(text: string): Promise<void> {
    const next = this.tail.then(async () => {
      await this.handle.write(text);
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
