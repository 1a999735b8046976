/**
 * The Install step (reference 4.3 and 5.3): run the previous install's cleanup list, gather facts
 * (archive listing, one lstat per destination path), plan (install-plan.ts, pure), write
 * `<DGID>-install.json` atomically, then execute:
 *   1. every mkdir, in plan order;
 *   2. every copy, in plan order, each landing atomically (file-copier.ts);
 *   3. the permission operations, per path in plan order (paths concurrently, semanage serialised).
 * Every created path (temp names included) is appended to `<DGID>-cleanup` and fsynced before it is
 * created, a batch at a time, so a crash never leaves an untracked file. No rollback on failure:
 * the next install of the group removes what the cleanup list names (official semantics).
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
import { mkdirSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import pLimit from 'p-limit';
import { AgentError, ErrorCodes, errnoCode, toError } from '../errors.js';
import { createAccountLookup } from './accounts.js';
import { CleanupRecorder, runCleanupFile } from './cleanup-file.js';
import { copyAtomically, copyAtomicallySync, tempPathFor, type CopyOptions } from './file-copier.js';
import { gatherFacts, listSources } from './fs-facts.js';
import { planInstall, probePaths, resolveMappings } from './install-plan.js';
import * as msg from './install-messages.js';
import { installJson } from './instructions-json.js';
import type { CopyOp, MkdirOp, PathFact, PermissionOp } from './operations.js';
import { applyPermission, type PermissionContext } from './permission-applier.js';
import { writeFileAtomic } from '../platform/atomic-file.js';
import { TimeSlice } from './time-slice.js';
import { createToolRunner } from './tool-runner.js';
import type { InstallRequest, InstallSummary } from './types.js';

/** Copies whose paths are recorded (and fsynced) together. */
const RECORD_BATCH = 1024;

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
  const cleanedUp = await runCleanupFile(cleanupFile, { tools, logger });
  logger.debug({ removed: cleanedUp, ms: elapsed() }, 'previous install cleaned up');

  const sources = await listSources(req.appspec, archiveDir, mappings);
  logger.debug({ ms: elapsed() }, 'revision listed');
  const facts = await gatherFacts(probePaths(req.appspec, mappings, sources, baseDir));
  logger.debug({ existing: facts.size, ms: elapsed() }, 'destination facts gathered');
  const plan = planInstall({
    appspec: req.appspec,
    archiveDir,
    baseDir,
    ...(req.specFileExistsBehavior !== undefined ? { specFileExistsBehavior: req.specFileExistsBehavior } : {}),
    sources,
    facts,
  });
  logger.debug({ operations: plan.ops.length, ms: elapsed() }, 'install plan ready');

  const runId = randomBytes(6).toString('hex');
  await writeAtomically(installJsonPath(req.instructionsDir, req.deploymentGroupId), installJson(plan.ops));
  logger.debug({ ms: elapsed() }, 'install.json written');

  const mkdirs = plan.ops.filter((op): op is MkdirOp => op.type === 'mkdir');
  const copies = plan.ops.filter((op): op is CopyOp => op.type === 'copy');
  const permissions = plan.ops.filter((op): op is PermissionOp => op.type !== 'mkdir' && op.type !== 'copy');

  const recorder = await CleanupRecorder.create(cleanupFile);
  try {
    await makeDirectories(mkdirs, recorder);
    logger.debug({ directories: mkdirs.length, ms: elapsed() }, 'directories created');
    await copyFiles(copies, recorder, {
      concurrency,
      runId,
      preserveOwner: process.geteuid?.() === 0,
      uid: process.geteuid?.() ?? -1,
      gid: process.getegid?.() ?? -1,
      parentSetgid: setgidLookup(facts),
    });
    logger.debug({ files: copies.length, ms: elapsed() }, 'files copied');
    const permissionContext = { tools, accounts: createAccountLookup(tools), recorder, semanageLock: pLimit(1) };
    await applyPermissions(permissions, permissionContext, concurrency);
    logger.debug({ operations: permissions.length, ms: elapsed() }, 'permissions applied');
  } finally {
    await recorder.close();
  }

  const summary: InstallSummary = {
    filesCopied: copies.length,
    directoriesCreated: mkdirs.length,
    filesRetained: plan.retained,
    permissionsApplied: plan.permissionTargets,
    cleanedUp,
  };
  logger.info({ deploymentGroupId: req.deploymentGroupId, ...summary }, 'install finished');
  return summary;
}

async function makeDirectories(mkdirs: readonly MkdirOp[], recorder: CleanupRecorder): Promise<void> {
  await recorder.recordPaths(mkdirs.map((op) => op.directory));
  const slice = new TimeSlice();
  for (const op of mkdirs) {
    try {
      mkdirSync(op.directory);
    } catch (err) {
      if (errnoCode(err) === 'EEXIST') {
        throw new AgentError(ErrorCodes.INSTALL_FAILED, `${msg.fileAlreadyExists(op.directory)}.`, { cause: err });
      }
      throw new AgentError(ErrorCodes.INSTALL_FAILED, msg.operationFailed('create the directory', op.directory, toError(err).message), {
        cause: err,
      });
    }
    if (slice.spent()) await slice.next();
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
}

/** A directory created by mkdir inherits setgid from its parent, so look up the nearest existing one. */
function setgidLookup(facts: ReadonlyMap<string, PathFact>): (destination: string) => boolean {
  const cache = new Map<string, boolean>();
  const lookup = (dir: string): boolean => {
    const known = cache.get(dir);
    if (known !== undefined) return known;
    const fact = facts.get(dir);
    const parent = dirname(dir);
    const result = fact ? fact.setgid === true : parent !== dir && lookup(parent);
    cache.set(dir, result);
    return result;
  };
  return (destination) => lookup(dirname(destination));
}

/**
 * Copies in plan order, a batch of RECORD_BATCH at a time: the batch's temp and final paths are in
 * the cleanup list, fsynced, before its first copy starts; the next batch's lines are written and
 * fsynced (in the thread pool) while this batch copies. Small files and symlinks land synchronously in
 * time slices; large files are handed to async copies (at most run.concurrency at once) that run
 * alongside. On a failure no new copy starts, the running ones finish, and the earliest failure in
 * plan order is reported.
 */
async function copyFiles(copies: readonly CopyOp[], recorder: CleanupRecorder, run: CopyRun): Promise<void> {
  const count = copies.length;
  const temps = new Array<string>(count);
  const recordBatch = (start: number): Promise<void> => {
    const end = Math.min(count, start + RECORD_BATCH);
    const lines: string[] = [];
    for (let i = start; i < end; i++) {
      const destination = (copies[i] as CopyOp).destination;
      const temp = tempPathFor(destination, i, run.runId);
      temps[i] = temp;
      lines.push(temp, destination);
    }
    const done = recorder.recordPaths(lines);
    // Awaited before its batch runs; if a failure ends the copy first, the rejection is not unhandled.
    done.catch(() => undefined);
    return done;
  };
  const options: CopyOptions = { preserveOwner: run.preserveOwner, uid: run.uid, gid: run.gid, parentSetgid: false };
  const failures = new FirstFailure();
  const largeLimit = pLimit(run.concurrency);
  const large: Promise<void>[] = [];
  const slice = new TimeSlice();
  let recorded = count > 0 ? recordBatch(0) : Promise.resolve();
  for (let start = 0; start < count && !failures.any; start += RECORD_BATCH) {
    try {
      await recorded;
    } catch (err) {
      // The batch's lines are not durable: none of its copies may start.
      failures.add(start, err);
      break;
    }
    const end = Math.min(count, start + RECORD_BATCH);
    if (end < count) recorded = recordBatch(end);
    for (let i = start; i < end && !failures.any; i++) {
      const op = copies[i] as CopyOp;
      const temp = temps[i] as string;
      if (run.preserveOwner) options.parentSetgid = run.parentSetgid(op.destination);
      try {
        const largeSource = copyAtomicallySync(op, temp, options);
        if (largeSource) {
          const largeOptions = { ...options };
          large.push(
            largeLimit(async () => {
              if (failures.any) return;
              await copyAtomically(op, temp, largeOptions, largeSource);
            }).catch((err: unknown) => failures.add(i, err)),
          );
        }
      } catch (err) {
        failures.add(i, err);
      }
      if (slice.spent()) await slice.next();
    }
  }
  await Promise.all(large);
  failures.throwIfAny();
}

async function applyPermissions(ops: readonly PermissionOp[], ctx: PermissionContext, concurrency: number): Promise<void> {
  // Each path's operations are consecutive in the plan and keep their order; paths run concurrently.
  const groups: PermissionOp[][] = [];
  for (const op of ops) {
    const last = groups[groups.length - 1];
    if (last && last[0]?.file === op.file) last.push(op);
    else groups.push([op]);
  }
  const limit = pLimit(concurrency);
  const failures = new FirstFailure();
  await Promise.all(
    groups.map((group, i) =>
      limit(async () => {
        for (const op of group) {
          if (failures.any) return;
          try {
            await applyPermission(op, ctx);
          } catch (err) {
            failures.add(i, err);
          }
        }
      }),
    ),
  );
  failures.throwIfAny();
}

/**
 * Failures of concurrent steps: once one fails no new step starts, the running ones finish, and the
 * failure reported is the earliest in plan order (deterministic, as a sequential run would report).
 */
class FirstFailure {
  private index = Infinity;
  private error: unknown;

  get any(): boolean {
    return this.index !== Infinity;
  }

  add(index: number, error: unknown): void {
    if (index < this.index) {
      this.index = index;
      this.error = error;
    }
  }

  throwIfAny(): void {
    if (this.any) throw asInstallError(this.error);
  }
}

async function writeAtomically(file: string, text: string): Promise<void> {
  try {
    await writeFileAtomic(file, text);
  } catch (err) {
    throw new AgentError(ErrorCodes.DEPLOYMENT_ROOT, `Cannot write ${file}: ${toError(err).message}`, { cause: err });
  }
}

function asInstallError(err: unknown): AgentError {
  if (err instanceof AgentError) return err;
  return new AgentError(ErrorCodes.INSTALL_FAILED, `The deployment failed because of an unexpected error: ${toError(err).message}`, {
    cause: err,
  });
}
