/**
 * The Install step (docs/reference.md sections 4.3 and 5.3): run the previous install's cleanup list, check the
 * sources, plan (install-plan.ts, pure) while writing `<DGID>-install.json`, then execute:
 *   1. every mkdir, in plan order;
 *   2. every copy, in plan order, each landing atomically (file-copier.ts);
 *   3. the permission operations, per path in plan order (paths concurrently, semanage serialised).
 * Every created path (temp names included) is appended to `<DGID>-cleanup` and fsynced before it is
 * created, a batch at a time, so a crash never leaves an untracked file. No rollback on failure:
 * the next install of the group removes what the cleanup list names (official semantics).
 *
 * Memory does not grow with the number of files (docs/design.md section 8): the plan is made and checked
 * in full before anything is written, as before, but streamed: the planner walks the revision and
 * yields one operation at a time; install.json is written as they come (and renamed into place only
 * when the whole plan is valid); the copies and permission targets go to an unlinked spool file
 * (op-spool.ts) that the execution reads back in batches; the cleanup list is read from its end a
 * chunk at a time. What stays in memory is bounded by the directories: the mkdir targets and the
 * facts about destination directories.
 *
 * Speed: the per-path fs calls (cleanup, listing, facts, mkdir, copies of small files) are
 * synchronous, run on the main thread in time slices of about 10 ms that yield to the event loop
 * between them (time-slice.ts), so a daemon stays responsive to its other work while it installs.
 * For thousands of small files this is several times faster than one async call per step: the
 * thread-pool round trips, promises and garbage cost more than the system calls. The fsync of each
 * batch's cleanup lines runs in the thread pool while the previous batch copies. Files larger than
 * SYNC_COPY_MAX_BYTES are copied asynchronously (up to req.concurrency at once) alongside.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, unlinkSync, type Stats } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import pLimit from 'p-limit';
import type { Permission } from '../../appspec/model.js';
import { AgentError, ErrorCodes } from '../errors.js';
import { errnoCode, toError } from '../../common/errors.js';
import { createAccountLookup } from './accounts.js';
import { CleanupRecorder, runCleanupFile } from './cleanup-file.js';
import { CopyPool } from './copy-pool.js';
import { copyAtomically, copyAtomicallySync, tempPathFor, type CopyOptions } from './file-copier.js';
import { checkSources, createSourceTree, DestinationFacts } from './fs-facts.js';
import { FilePlanner } from './file-planner.js';
import { effectiveFileExistsBehavior, resolveMappings } from './mappings.js';
import * as msg from './install-messages.js';
import { InstructionsWriter } from './instructions-json.js';
import { OpSpool } from './op-spool.js';
import type { CopyOp, PermissionTarget } from './operations.js';
import { applyPermission, type PermissionContext } from './permission-applier.js';
import { permissionOps, planPermissionTargets } from './permission-plan.js';
import { TaskWindow } from '../platform/task-window.js';
import { TimeSlice } from '../platform/time-slice.js';
import { createToolRunner } from '../platform/tool-runner.js';
import type { InstallRequest, InstallSummary } from './types.js';

/** Copies (or directories) whose paths are recorded (and fsynced) together. */
const RECORD_BATCH = 1024;

/**
 * Plans with at least this many copies land them in worker threads (copy-pool.ts), started while
 * the plan is being made. Below it the start-up (about 45 ms of a core, 8 MiB a thread) costs more
 * than the threads save: about 16 µs a file on two cores.
 */
export const PARALLEL_COPY_MIN_FILES = 2000;

/**
 * Consecutive copies a thread claims at a time: consecutive copies mostly land in one directory,
 * whose lock serialises creating names in it, so threads on different chunks rarely wait on each
 * other; small enough that the threads finish a batch together.
 */
const POOL_CHUNK = 32;

/** The default number of copy worker threads: one a core beside the main thread's, up to 3. */
export function defaultCopyThreads(cores = availableParallelism()): number {
  return Math.max(0, Math.min(cores, 4) - 1);
}

export function cleanupFilePath(instructionsDir: string, deploymentGroupId: string): string {
  return join(instructionsDir, `${deploymentGroupId}-cleanup`);
}

export function installJsonPath(instructionsDir: string, deploymentGroupId: string): string {
  return join(instructionsDir, `${deploymentGroupId}-install.json`);
}

export async function install(req: InstallRequest): Promise<InstallSummary> {
  const logger = req.logger;
  const tools = req.tools ?? createToolRunner();
  const concurrency = Math.max(1, req.concurrency ?? 32);
  const archiveDir = resolve(req.archiveDir);
  const baseDir = resolve(req.baseDir);
  const cleanupFile = cleanupFilePath(req.instructionsDir, req.deploymentGroupId);

  // Reject escaping sources before anything is touched (the previous install's files stay listed).
  const mappings = resolveMappings(req.appspec, archiveDir, baseDir);

  let phaseStart = performance.now();
  const elapsed = (): number => {
    const now = performance.now();
    const ms = Math.round(now - phaseStart);
    phaseStart = now;
    return ms;
  };

  await mkdir(req.instructionsDir, { recursive: true });
  const stopIfAborted = (): void => {
    if (req.signal?.aborted) throw stoppedError(req.signal);
  };
  stopIfAborted();
  const cleanedUp = await runCleanupFile(cleanupFile, { tools, logger });
  stopIfAborted();
  logger.debug({ removed: cleanedUp, ms: elapsed() }, 'previous install cleaned up');

  const roots = await checkSources(req.appspec, archiveDir, mappings);
  const facts = new DestinationFacts();
  const files = new FilePlanner({
    appspec: req.appspec,
    mappings,
    roots,
    sources: createSourceTree(),
    facts,
    behavior: effectiveFileExistsBehavior(req.appspec, req.specFileExistsBehavior),
  });
  const runId = randomBytes(6).toString('hex');
  const spool = createSpool(req.instructionsDir, `.${req.deploymentGroupId}-install-plan-${runId}`);
  const threads = req.copyThreads ?? defaultCopyThreads();
  let pool: CopyPool | undefined;
  const startPool = (): void => {
    pool = new CopyPool(threads, (err) =>
      logger.warn({ err: err.message }, 'a copy worker thread could not start; the other threads copy'),
    );
  };
  const poolAt = threads > 0 ? { copies: Math.max(1, req.parallelCopyMinFiles ?? PARALLEL_COPY_MIN_FILES), start: startPool } : undefined;
  let permissionTargets: number;
  try {
    permissionTargets = await writePlan(req, files, facts, spool, stopIfAborted, poolAt);
    logger.debug(
      { copies: files.copies, directories: files.mkdirTargets.size, permissionTargets, ms: elapsed() },
      'install plan ready, install.json written',
    );

    const recorder = await CleanupRecorder.create(cleanupFile);
    try {
      await makeDirectories(files.mkdirTargets, recorder, stopIfAborted);
      logger.debug({ directories: files.mkdirTargets.size, ms: elapsed() }, 'directories created');
      const run: CopyRun = {
        concurrency,
        runId,
        preserveOwner: process.geteuid?.() === 0,
        uid: process.geteuid?.() ?? -1,
        gid: process.getegid?.() ?? -1,
        parentSetgid: (destination) => facts.setgidAbove(destination),
        stopIfAborted,
        signal: req.signal,
      };
      const threadsUsed = pool
        ? await copyFilesInPool(spool, recorder, run, pool, req.waitForCopyThreads === true)
        : await copyFiles(spool, recorder, run);
      stopIfAborted();
      logger.debug({ files: files.copies, threads: threadsUsed, ms: elapsed() }, 'files copied');
      const permissionContext = { tools, accounts: createAccountLookup(tools), recorder, semanageLock: pLimit(1) };
      await applyPermissions(spool.targets(), req.appspec.permissions, permissionContext, concurrency);
      logger.debug({ targets: permissionTargets, ms: elapsed() }, 'permissions applied');
    } finally {
      await recorder.close();
    }
  } finally {
    spool.close();
    await pool?.terminate();
  }

  const summary: InstallSummary = {
    filesCopied: files.copies,
    directoriesCreated: files.mkdirTargets.size,
    filesRetained: files.retained,
    permissionsApplied: permissionTargets,
    cleanedUp,
  };
  logger.info({ deploymentGroupId: req.deploymentGroupId, ...summary }, 'install finished');
  return summary;
}

/**
 * Plan everything before anything is written: the file operations, then the permission targets,
 * each written to install.json (a temp file until the whole plan is valid) and to the spool as it
 * comes. A failed plan leaves the previous install.json in place. Returns the number of paths that
 * receive permission operations.
 */
async function writePlan(
  req: InstallRequest,
  files: FilePlanner,
  facts: DestinationFacts,
  spool: OpSpool,
  stopIfAborted: () => void,
  poolAt?: { copies: number; start: () => void },
): Promise<number> {
  const permissions = req.appspec.permissions;
  const writer = InstructionsWriter.create(installJsonPath(req.instructionsDir, req.deploymentGroupId));
  try {
    const slice = new TimeSlice();
    let copies = 0;
    for (const op of files.ops()) {
      if (op) {
        writer.add(op);
        if (op.type === 'copy') {
          spool.addCopy(op);
          // Enough files to pay for the copy workers: they start now, on other cores, while the plan is finished.
          if (++copies === poolAt?.copies) poolAt.start();
        }
      }
      if (slice.spent()) {
        stopIfAborted();
        await slice.next();
      }
    }
    spool.endCopies();
    let targets = 0;
    const planned = planPermissionTargets({ permissions, baseDir: resolve(req.baseDir), files, facts, copies: () => spool.copies() });
    for (const target of planned) {
      const ops = target ? permissionOps(target, permissions) : [];
      if (target && ops.length > 0) {
        targets++;
        for (const op of ops) writer.add(op);
        spool.addTarget(target);
      }
      if (slice.spent()) {
        stopIfAborted();
        await slice.next();
      }
    }
    spool.endTargets();
    await writer.commit();
    return targets;
  } catch (err) {
    await writer.abort();
    throw err;
  }
}

function createSpool(dir: string, name: string): OpSpool {
  try {
    return OpSpool.create(dir, name);
  } catch (err) {
    throw new AgentError(ErrorCodes.DEPLOYMENT_ROOT, `Cannot create the install plan spool in ${dir}: ${toError(err).message}`, {
      cause: err,
    });
  }
}

/** The mkdirs in plan order, each batch recorded in the cleanup list before it is created. */
async function makeDirectories(directories: Iterable<string>, recorder: CleanupRecorder, stopIfAborted: () => void): Promise<void> {
  const slice = new TimeSlice();
  for (const batch of batches(directories[Symbol.iterator](), RECORD_BATCH)) {
    stopIfAborted();
    await recorder.recordPaths(batch);
    for (const directory of batch) {
      try {
        mkdirSync(directory);
      } catch (err) {
        if (errnoCode(err) === 'EEXIST') {
          throw new AgentError(ErrorCodes.INSTALL_FAILED, `${msg.fileAlreadyExists(directory)}.`, { cause: err });
        }
        throw new AgentError(ErrorCodes.INSTALL_FAILED, msg.operationFailed('create the directory', directory, toError(err).message), {
          cause: err,
        });
      }
      if (slice.spent()) await slice.next();
    }
  }
}

/** Consecutive arrays of up to `size` items. */
function* batches<T>(items: Iterator<T>, size: number): Generator<T[], void, undefined> {
  for (;;) {
    const batch: T[] = [];
    for (let next = items.next(); next.done !== true; next = items.next()) {
      batch.push(next.value);
      if (batch.length === size) break;
    }
    if (batch.length === 0) return;
    yield batch;
  }
}

interface CopyRun {
  /** Upper bound on concurrent async copies of large files. */
  concurrency: number;
  runId: string;
  preserveOwner: boolean;
  uid: number;
  gid: number;
  /** Whether the directory a copy lands in has the setgid bit. */
  parentSetgid: (destination: string) => boolean;
  /** Throws when the install is to stop; checked before each batch. */
  stopIfAborted: () => void;
  /** Aborted when the install is to stop (the copy workers then stop at once). */
  signal: AbortSignal | undefined;
}

interface RecordedBatch {
  /** Plan index after the batch's last copy. */
  end: number;
  /** Settles when the batch's temp and final paths are in the cleanup list, fsynced. */
  done: Promise<void>;
}

/**
 * The recording cursor over the spool's copies: each call appends the temp and final paths of the
 * next RECORD_BATCH copies to the cleanup list and starts their fsync (in the thread pool).
 */
function recordAhead(
  spool: OpSpool,
  recorder: CleanupRecorder,
  runId: string,
): { next: () => RecordedBatch | undefined; close: () => void } {
  const toRecord = spool.copies();
  let recordedUpTo = 0;
  const next = (): RecordedBatch | undefined => {
    const paths: string[] = [];
    for (let op = toRecord.next(); op.done !== true; op = toRecord.next()) {
      paths.push(tempPathFor(op.value.destination, recordedUpTo + paths.length / 2, runId), op.value.destination);
      if (paths.length === 2 * RECORD_BATCH) break;
    }
    if (paths.length === 0) return undefined;
    recordedUpTo += paths.length / 2;
    const done = recorder.recordPaths(paths);
    // Awaited before its batch runs; if a failure ends the copy first, the rejection is not unhandled.
    done.catch(() => undefined);
    return { end: recordedUpTo, done };
  };
  return { next, close: () => void toRecord.return() };
}

/**
 * Copies in plan order, read from the spool: before a batch of RECORD_BATCH copies starts, its temp
 * and final paths are in the cleanup list, fsynced; the next batch's lines are written and fsynced
 * (in the thread pool) while this batch copies. The spool is read twice, by one cursor that writes
 * the lines and one that copies, so no batch of operations is held in memory (objects that live
 * that long are promoted to V8's old generation and swell it). Small files and symlinks land
 * synchronously in time slices; large files are handed to async copies (at most run.concurrency at
 * once) that run alongside. On a failure no new copy starts, the running ones finish, and the
 * earliest failure in plan order is reported.
 */
async function copyFiles(spool: OpSpool, recorder: CleanupRecorder, run: CopyRun): Promise<number> {
  const recording = recordAhead(spool, recorder, run.runId);
  const recordBatch = recording.next;
  const toCopy = spool.copies();
  const options: CopyOptions = { preserveOwner: run.preserveOwner, uid: run.uid, gid: run.gid, parentSetgid: false };
  const large = new TaskWindow(run.concurrency);
  const slice = new TimeSlice();
  let index = 0;
  for (let batch = recordBatch(); batch && !large.failed;) {
    try {
      run.stopIfAborted();
      await batch.done;
    } catch (err) {
      // Told to stop, or the batch's lines are not durable: none of its copies may start.
      large.fail(index, err);
      break;
    }
    const following = recordBatch();
    for (; index < batch.end && !large.failed; index++) {
      const op = toCopy.next().value as CopyOp;
      const temp = tempPathFor(op.destination, index, run.runId);
      if (run.preserveOwner) options.parentSetgid = run.parentSetgid(op.destination);
      try {
        const largeSource = copyAtomicallySync(op, temp, options);
        if (largeSource) {
          const largeOptions = { ...options };
          await large.add(index, () => copyAtomically(op, temp, largeOptions, largeSource));
        }
      } catch (err) {
        large.fail(index, err);
      }
      if (slice.spent()) await slice.next();
    }
    batch = following;
  }
  recording.close();
  toCopy.return();
  try {
    await large.drain();
  } catch (err) {
    throw asInstallError(err);
  }
  return 0;
}

/**
 * copyFiles() with worker threads (copy-pool.ts) copying alongside the main thread, in the same
 * order of record and copy: when a batch's paths are durable, it is posted to every worker, and the
 * main thread and the workers claim chunks of POOL_CHUNK consecutive copies from it until none is
 * left; then the next batch (whose paths were recorded meanwhile). The main thread's chunks land
 * as in copyFiles() (time slices, large files asynchronously); files over SYNC_COPY_MAX_BYTES that
 * a worker claims come back to the main thread, which copies them asynchronously too. The
 * earliest failure in plan order is reported: a failure at index i stops every copy after i, in
 * every thread, while those before it still run. An abort stops the workers before their next
 * file. Falls back to copyFiles() when the workers could not start. Returns the number of threads.
 */
async function copyFilesInPool(
  spool: OpSpool,
  recorder: CleanupRecorder,
  run: CopyRun,
  pool: CopyPool,
  waitForThreads: boolean,
): Promise<number> {
  // Tests make sure the workers take part; otherwise the main thread starts alone if they still boot.
  if (waitForThreads) await pool.started().catch(() => undefined);
  let failedAt = Infinity;
  let failure: unknown;
  const fail = (index: number, err: unknown): void => {
    pool.fail(index);
    if (index < failedAt) {
      failedAt = index;
      failure = err;
    }
  };
  const options: CopyOptions = { preserveOwner: run.preserveOwner, uid: run.uid, gid: run.gid, parentSetgid: false };
  const large = new Set<Promise<void>>();
  const copyLarge = async (index: number, op: CopyOp, temp: string, sourceStats?: Stats): Promise<void> => {
    while (large.size >= run.concurrency) await Promise.race(large);
    if (pool.failedBefore(index) || run.signal?.aborted === true) return;
    const largeOptions = { ...options, parentSetgid: run.preserveOwner && run.parentSetgid(op.destination) };
    const task: Promise<void> = copyAtomically(op, temp, largeOptions, sourceStats)
      .catch((err: unknown) => fail(index, err))
      .finally(() => large.delete(task));
    large.add(task);
  };
  const stopWorkers = (): void => pool.stop();
  run.signal?.addEventListener('abort', stopWorkers, { once: true });
  const toCopy = spool.copies();
  const slice = new TimeSlice();
  let workerDied: unknown;
  let copied = 0;
  /** Reads the next batch from the spool and records its paths (the fsync runs in the thread pool). */
  const prepare = (): PoolBatchPlan | undefined => {
    const first = copied;
    const fields: string[] = [];
    const paths: string[] = [];
    for (let next = toCopy.next(); next.done !== true; next = toCopy.next()) {
      const op = next.value;
      const temp = tempPathFor(op.destination, copied++, run.runId);
      const setgid = run.preserveOwner && run.parentSetgid(op.destination);
      fields.push(`${op.kind === 'symlink' ? 'l' : 'f'}${op.overwrite ? '1' : '0'}${setgid ? '1' : '0'}`, op.source, temp, op.destination);
      paths.push(temp, op.destination);
      if (fields.length === 4 * RECORD_BATCH) break;
    }
    if (fields.length === 0) return undefined;
    const done = recorder.recordPaths(paths);
    // Awaited before its batch runs; if a failure ends the copy first, the rejection is not unhandled.
    done.catch(() => undefined);
    return { first, fields, done };
  };
  try {
    let next = prepare();
    for (let batch = next; batch && failedAt === Infinity; batch = next) {
      const { first, fields } = batch;
      const count = fields.length / 4;
      try {
        run.stopIfAborted();
        await batch.done;
      } catch (err) {
        // Told to stop, or the batch's lines are not durable: none of its copies may start.
        fail(first, err);
        break;
      }
      const counter = new SharedArrayBuffer(4);
      const claimed = new Int32Array(counter);
      const sharing = pool.share({
        first,
        ops: fields.join('\0'),
        counter,
        chunk: POOL_CHUNK,
        preserveOwner: run.preserveOwner,
        uid: run.uid,
        gid: run.gid,
      });
      // The next batch's bookkeeping while the workers copy; then the main thread's share of this one.
      next = prepare();
      claim: for (;;) {
        const start = Atomics.add(claimed, 0, POOL_CHUNK);
        if (start >= count) break;
        for (let k = start; k < Math.min(start + POOL_CHUNK, count); k++) {
          const index = first + k;
          if (pool.failedBefore(index) || run.signal?.aborted === true) break claim;
          const flags = fields[4 * k] as string;
          const op = copyOpOf(flags, fields[4 * k + 1] as string, fields[4 * k + 3] as string);
          const temp = fields[4 * k + 2] as string;
          options.parentSetgid = flags[2] === '1';
          try {
            const largeSource = copyAtomicallySync(op, temp, options);
            if (largeSource) await copyLarge(index, op, temp, largeSource);
          } catch (err) {
            fail(index, err);
            break claim;
          }
          if (slice.spent()) await slice.next();
        }
      }
      for (const result of await pool.settle(sharing)) {
        if (result.status === 'rejected') {
          workerDied ??= result.reason;
          fail(first, result.reason);
          continue;
        }
        if (result.value.failure) fail(result.value.failure.index, result.value.failure.error);
        for (const file of result.value.large) await copyLarge(file.index, file.op, file.temp);
      }
      if (workerDied !== undefined) removeTemps(fields);
    }
    while (large.size > 0) await Promise.race(large);
  } finally {
    run.signal?.removeEventListener('abort', stopWorkers);
    toCopy.return();
  }
  if (failedAt !== Infinity) throw asInstallError(failure);
  // Stopped while the last batch was copying: some copies did not run.
  run.stopIfAborted();
  return pool.threadsUsed;
}

interface PoolBatchPlan {
  /** Plan index of the batch's first copy. */
  first: number;
  /** What the workers get (copy-pool.ts PoolBatch.ops): flags, source, temp, destination per copy. */
  fields: string[];
  /** Settles when the batch's paths are in the cleanup list, fsynced. */
  done: Promise<void>;
}

/** The copy a batch's fields describe (the batch keeps only the fields: see PoolBatchPlan). */
function copyOpOf(flags: string, source: string, destination: string): CopyOp {
  return { type: 'copy', source, destination, kind: flags[0] === 'l' ? 'symlink' : 'file', overwrite: flags[1] === '1' };
}

/** A dead worker may have left the temp file of the copy it was making: remove the batch's temp names. */
function removeTemps(fields: readonly string[]): void {
  for (let at = 2; at < fields.length; at += 4) {
    try {
      unlinkSync(fields[at] as string);
    } catch {
      // Never created, or landed already.
    }
  }
}

/** Each target's operations in order; targets run concurrently, at most `concurrency` at once. */
async function applyPermissions(
  targets: Iterable<PermissionTarget>,
  permissions: readonly Permission[],
  ctx: PermissionContext,
  concurrency: number,
): Promise<void> {
  const window = new TaskWindow(concurrency);
  let index = 0;
  for (const target of targets) {
    if (window.failed) break;
    await window.add(index++, async () => {
      for (const op of permissionOps(target, permissions)) {
        if (window.failed) return;
        await applyPermission(op, ctx);
      }
    });
  }
  try {
    await window.drain();
  } catch (err) {
    throw asInstallError(err);
  }
}

/** Install was told to stop (signal aborted): what it did so far is in the cleanup list. */
function stoppedError(signal: AbortSignal): AgentError {
  const reason: unknown = signal.reason;
  const why = reason instanceof Error && reason.name !== 'AbortError' ? reason.message : 'it was cancelled';
  return new AgentError(ErrorCodes.INSTALL_FAILED, `Install was stopped before it finished because ${why}`);
}

function asInstallError(err: unknown): AgentError {
  if (err instanceof AgentError) return err;
  return new AgentError(ErrorCodes.INSTALL_FAILED, `The deployment failed because of an unexpected error: ${toError(err).message}`, {
    cause: err,
  });
}
