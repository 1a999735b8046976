/**
 * The source of a copy worker thread (copy-pool.ts). It is a string run with
 * `new Worker(source, { eval: true })` because the release's single executable has no .js file on
 * disk a worker could load; so it may only require node: built-ins, and it is plain JavaScript
 * that the type checker does not see: test/unit/install/copy-pool.test.ts runs it against the
 * main thread's copier on the same trees and failures.
 *
 * landSync() repeats file-copier.ts's copyAtomicallySync step for step (same system calls in the
 * same order, same errors): keep the two in step. A regular file over `syncCopyMaxBytes` is not
 * touched: the worker hands it back to the main thread, which copies it asynchronously.
 *
 * Protocol: the main thread posts one message per batch of copies and copies from the same batch
 * itself; the threads claim chunks of `chunk` consecutive copies from the batch's shared counter
 * (consecutive copies mostly share a directory, whose lock serialises the creation of names in
 * it: threads working on different chunks rarely wait for each other). The worker answers each
 * message when the batch has no chunk left, in order.
 *   in:  { first, ops, counter, chunk, preserveOwner, uid, gid }: `ops` holds 4 NUL-separated fields
 *        per copy: flags (`f`|`l` file or symlink, `0`|`1` overwrite, `0`|`1` the directory has the
 *        setgid bit), source, temp path, destination; copy k has plan index first + k. `counter`:
 *        a SharedArrayBuffer with the Int32 count of the batch's copies claimed so far.
 *   out: { large, failure }: `large` lists [index, flags, source, temp, destination] of every file
 *        left to the main thread; `failure` is { index, destination, message, code, claiming } or null.
 * Shared memory for the whole run (workerData.shared): a BigInt64 at byte 0, the smallest plan
 * index that failed (every thread skips the copies at or after it, so the earliest failure in plan
 * order is the one a serial run reports), and an Int32 at byte 8, non-zero when the install is
 * told to stop.
 */
import { NOT_REGULAR } from './file-copier.js';

export const COPY_WORKER_SOURCE = `'use strict';
const { parentPort, workerData } = require('node:worker_threads');
const fs = require('node:fs');
const failedAt = new BigInt64Array(workerData.shared, 0, 1);
const stopped = new Int32Array(workerData.shared, 8, 1);
const syncCopyMaxBytes = workerData.syncCopyMaxBytes;
const NOT_REGULAR = ${JSON.stringify(NOT_REGULAR)};

function noteFailure(index) {
  const at = BigInt(index);
  for (;;) {
    const current = Atomics.load(failedAt, 0);
    if (current <= at || Atomics.compareExchange(failedAt, 0, current, at) === current) return;
  }
}

// Returns true when the file is left to the main thread (larger than syncCopyMaxBytes).
function landSync(flags, source, temp, destination, options) {
  let claiming = false;
  try {
    if (flags[0] === 'l') {
      fs.symlinkSync(fs.readlinkSync(source), temp);
      if (options.preserveOwner) {
        const st = fs.lstatSync(source);
        fs.lchownSync(temp, st.uid, st.gid);
      }
    } else {
      const st = fs.lstatSync(source);
      if (!st.isFile()) throw new Error(source + NOT_REGULAR);
      if (st.size > syncCopyMaxBytes) return true;
      fs.copyFileSync(source, temp, fs.constants.COPYFILE_EXCL);
      fs.utimesSync(temp, st.atime, st.mtime);
      if (options.preserveOwner && (flags[2] === '1' || st.uid !== options.uid || st.gid !== options.gid)) {
        fs.chownSync(temp, st.uid, st.gid);
        if ((st.mode & 0o6000) !== 0) fs.chmodSync(temp, st.mode & 0o7777);
      }
    }
    if (flags[1] === '1') {
      fs.renameSync(temp, destination);
    } else {
      claiming = true;
      fs.linkSync(temp, destination);
      claiming = false;
      fs.unlinkSync(temp);
    }
    return false;
  } catch (err) {
    try {
      fs.unlinkSync(temp);
    } catch {
      // Not created (or already gone).
    }
    throw { error: err, claiming };
  }
}

parentPort.on('message', (batch) => {
  const fields = batch.ops.length === 0 ? [] : batch.ops.split('\\0');
  const count = fields.length / 4;
  const counter = new Int32Array(batch.counter);
  const large = [];
  let failure = null;
  claim: for (;;) {
    const start = Atomics.add(counter, 0, batch.chunk);
    if (start >= count) break;
    const end = Math.min(start + batch.chunk, count);
    for (let k = start; k < end; k++) {
      const index = batch.first + k;
      if (Atomics.load(stopped, 0) !== 0 || index >= Atomics.load(failedAt, 0)) break claim;
      const at = 4 * k;
      const flags = fields[at], source = fields[at + 1], temp = fields[at + 2], destination = fields[at + 3];
      try {
        if (landSync(flags, source, temp, destination, batch)) large.push(index, flags, source, temp, destination);
      } catch (thrown) {
        noteFailure(index);
        const error = thrown.error instanceof Error ? thrown.error : new Error(String(thrown.error));
        failure = {
          index,
          destination,
          message: error.message,
          code: typeof error.code === 'string' ? error.code : undefined,
          claiming: thrown.claiming === true,
        };
        break claim;
      }
    }
  }
  parentPort.postMessage({ large, failure });
});
`;
