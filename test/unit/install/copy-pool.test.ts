/**
 * The copy worker (copy-worker-source.ts, plain JavaScript run by worker threads) against the main
 * thread's copyAtomicallySync: the same trees (content, mode with setuid/setgid/sticky bits,
 * owner, mtime, symlinks), the same errors word for word, no temp file left, and the shared
 * failure index and stop flag honoured.
 */
import {
  chmodSync,
  chownSync,
  existsSync,
  lchownSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CopyPool, type PoolBatch, type WorkerResult } from '../../../agent/install/copy-pool.js';
import { copyAtomicallySync, SYNC_COPY_MAX_BYTES, tempPathFor, type CopyOptions } from '../../../agent/install/file-copier.js';
import type { CopyOp } from '../../../agent/install/operations.js';
import { tempDir } from '../../helpers/temp.js';

const isRoot = process.geteuid?.() === 0;
const RUN = 'testrun';
const options: CopyOptions = { preserveOwner: isRoot, uid: process.geteuid?.() ?? -1, gid: process.getegid?.() ?? -1, parentSetgid: false };

let pools: CopyPool[] = [];
afterEach(async () => {
  await Promise.all(pools.map((pool) => pool.terminate()));
  pools = [];
});

async function startedPool(threads = 1): Promise<CopyPool> {
  const pool = new CopyPool(threads, (err) => {
    throw err;
  });
  pools.push(pool);
  await pool.started();
  return pool;
}

/** The batch as the installer builds it; the test thread claims nothing, so the workers copy it all. */
function batchOf(ops: CopyOp[], first = 0, chunk = 1): PoolBatch {
  const fields: string[] = [];
  ops.forEach((op, k) => {
    fields.push(
      `${op.kind === 'symlink' ? 'l' : 'f'}${op.overwrite ? '1' : '0'}0`,
      op.source,
      tempPathFor(op.destination, first + k, RUN),
      op.destination,
    );
  });
  return {
    first,
    ops: fields.join('\0'),
    counter: new SharedArrayBuffer(4),
    chunk,
    preserveOwner: options.preserveOwner,
    uid: options.uid,
    gid: options.gid,
  };
}

async function runBatch(pool: CopyPool, batch: PoolBatch): Promise<WorkerResult[]> {
  const settled = await pool.settle(pool.share(batch));
  return settled.map((result) => {
    if (result.status === 'rejected') throw result.reason;
    return result.value;
  });
}

/** The main thread's copies of the same operations, stopping at the first failure like the installer. */
function copySerially(ops: CopyOp[]): { large: number[]; failure?: { index: number; error: Error } } {
  const large: number[] = [];
  for (const [index, op] of ops.entries()) {
    try {
      if (copyAtomicallySync(op, tempPathFor(op.destination, index, RUN), options)) large.push(index);
    } catch (err) {
      return { large, failure: { index, error: err as Error } };
    }
  }
  return { large };
}

interface Revision {
  root: string;
  source: string;
  names: string[];
}

/** Files with every mode bit pattern the copier treats specially, owners, times, symlinks, a large file. */
async function revision(): Promise<Revision> {
  const root = await tempDir('cda-copy-pool-');
  const source = join(root, 'source');
  mkdirSync(source);
  const names: string[] = [];
  const file = (name: string, content: string | Buffer, mode: number, owner?: [number, number]): void => {
    const path = join(source, name);
    writeFileSync(path, content);
    if (owner && isRoot) chownSync(path, owner[0], owner[1]);
    chmodSync(path, mode);
    utimesSync(path, new Date('2019-03-04T05:06:07.891Z'), new Date(Date.UTC(2020, 0, 2, 3, 4, 5) + names.length));
    names.push(name);
  };
  file('plain.txt', 'plain\n', 0o644);
  file('secret', 'key\n', 0o600);
  file('run.sh', '#!/bin/sh\n', 0o755);
  file('setuid', 'su\n', 0o4755, [1234, 2345]);
  file('setgid', 'sg\n', 0o2750, [0, 2345]);
  file('sticky', 'st\n', 0o1644);
  file('none', 'none\n', 0o000);
  file('owned', 'o\n', 0o640, [4321, 5432]);
  file('empty', '', 0o644);
  file('name with spaces\nand a line break', 'odd\n', 0o644);
  file('файл', 'utf8\n', 0o644);
  file('big.bin', Buffer.alloc(SYNC_COPY_MAX_BYTES + 1, 7), 0o644);
  for (const [name, target] of [
    ['relative-link', 'plain.txt'],
    ['absolute-link', '/etc/hostname'],
    ['dangling-link', 'missing/target'],
  ] as const) {
    symlinkSync(target, join(source, name));
    if (isRoot) lchownSync(join(source, name), 1234, 2345);
    names.push(name);
  }
  return { root, source, names };
}

function opsFor(rev: Revision, dest: string): CopyOp[] {
  return rev.names.map((name) => ({
    type: 'copy',
    source: join(rev.source, name),
    destination: join(dest, name),
    kind: lstatSync(join(rev.source, name)).isSymbolicLink() ? 'symlink' : 'file',
    overwrite: false,
  }));
}

function describeEntry(path: string): Record<string, unknown> {
  const st = lstatSync(path);
  return {
    mode: st.mode,
    uid: st.uid,
    gid: st.gid,
    ...(st.isSymbolicLink() ? { link: readlinkSync(path) } : { mtimeMs: st.mtimeMs, content: readFileSync(path).toString('base64') }),
  };
}

function describeTree(dir: string): Record<string, Record<string, unknown>> {
  return Object.fromEntries(
    readdirSync(dir)
      .sort()
      .map((name) => [name, describeEntry(join(dir, name))]),
  );
}

describe('copy worker threads', () => {
  it('land the same tree as the main thread: content, modes (setuid, setgid, sticky), owners, mtimes, symlinks', async () => {
    const rev = await revision();
    const serialDest = join(rev.root, 'serial');
    const poolDest = join(rev.root, 'pool');
    mkdirSync(serialDest);
    mkdirSync(poolDest);
    const pool = await startedPool(2);

    const serial = copySerially(opsFor(rev, serialDest));
    const results = await runBatch(pool, batchOf(opsFor(rev, poolDest)));

    expect(serial.failure).toBeUndefined();
    expect(results.every((r) => r.failure === undefined)).toBe(true);
    // The large file is left to the main thread by both (not copied, no temp file).
    const bigIndex = rev.names.indexOf('big.bin');
    expect(serial.large).toEqual([bigIndex]);
    const large = results.flatMap((r) => r.large);
    expect(large.map((l) => [l.index, l.op, l.temp])).toEqual([
      [bigIndex, opsFor(rev, poolDest)[bigIndex], tempPathFor(join(poolDest, 'big.bin'), bigIndex, RUN)],
    ]);
    const poolTree = describeTree(poolDest);
    expect(Object.keys(poolTree)).toEqual(rev.names.filter((n) => n !== 'big.bin').sort());
    expect(poolTree).toEqual(describeTree(serialDest));
    expect(poolTree['setuid']?.['mode']).toBe(0o104755);
    expect(poolTree['sticky']?.['mode']).toBe(0o101644);
    expect(poolTree['plain.txt']?.['mtimeMs']).toBe(Date.UTC(2020, 0, 2, 3, 4, 5));
    if (isRoot) expect([poolTree['owned']?.['uid'], poolTree['owned']?.['gid']]).toEqual([4321, 5432]);
  });

  it('replace an existing target under OVERWRITE (rename) like the main thread', async () => {
    const rev = await revision();
    const pool = await startedPool();
    for (const dest of ['serial', 'pool']) {
      mkdirSync(join(rev.root, dest));
      writeFileSync(join(rev.root, dest, 'plain.txt'), 'old\n');
      symlinkSync('elsewhere', join(rev.root, dest, 'relative-link'));
    }
    const overwriting = (dest: string): CopyOp[] =>
      opsFor(rev, join(rev.root, dest))
        .filter((op) => op.destination.endsWith('/plain.txt') || op.destination.endsWith('/relative-link'))
        .map((op) => ({ ...op, overwrite: true }));
    expect(copySerially(overwriting('serial')).failure).toBeUndefined();
    expect((await runBatch(pool, batchOf(overwriting('pool'))))[0]?.failure).toBeUndefined();
    expect(describeTree(join(rev.root, 'pool'))).toEqual(describeTree(join(rev.root, 'serial')));
    expect(readFileSync(join(rev.root, 'pool', 'plain.txt'), 'utf8')).toBe('plain\n');
  });

  it.each([
    ['a target that appeared meanwhile (link refuses it)', 'exists'],
    ['a source that disappeared', 'missing'],
    ['a source that became a directory', 'directory'],
    ['a temp name that is taken', 'temp'],
  ] as const)('fail on %s with the main thread message, stop there and leave no temp file', async (_, kind) => {
    const rev = await revision();
    const pool = await startedPool();
    const failAt = 3;
    const prepare = (dest: string): CopyOp[] => {
      mkdirSync(dest);
      const ops = opsFor(rev, dest).slice(0, 8);
      const op = ops[failAt] as CopyOp;
      if (kind === 'exists') writeFileSync(op.destination, 'there first\n');
      if (kind === 'temp') writeFileSync(tempPathFor(op.destination, failAt, RUN), 'taken\n');
      if (kind === 'missing') ops[failAt] = { ...op, source: join(rev.source, 'no-such-file') };
      if (kind === 'directory') ops[failAt] = { ...op, source: rev.root };
      return ops;
    };
    const serial = copySerially(prepare(join(rev.root, 'serial')));
    const [result] = await runBatch(pool, batchOf(prepare(join(rev.root, 'pool'))));

    expect(serial.failure?.index).toBe(failAt);
    expect(result?.failure?.index).toBe(failAt);
    expect(result?.failure?.error.message).toBe(serial.failure?.error.message.replaceAll('/serial/', '/pool/'));
    expect(result?.failure?.error.name).toBe(serial.failure?.error.name);
    const landed = readdirSync(join(rev.root, 'pool')).sort();
    expect(landed).toEqual(
      readdirSync(join(rev.root, 'serial'))
        .sort()
        .map((n) => n),
    );
    expect(landed.filter((n) => n.startsWith('.cda-') && !(kind === 'temp'))).toEqual([]);
    // Nothing after the failure was copied.
    expect(existsSync(join(rev.root, 'pool', rev.names[failAt + 1] as string))).toBe(false);
  });

  it('skip every copy at or after a failure reported by another thread, and everything once stopped', async () => {
    const rev = await revision();
    const pool = await startedPool();
    const dest = join(rev.root, 'dest');
    mkdirSync(dest);
    const ops = opsFor(rev, dest).filter((op) => !op.destination.endsWith('big.bin'));

    pool.fail(105);
    const [first] = await runBatch(pool, batchOf(ops.slice(0, 4), 100));
    expect(first?.failure).toBeUndefined();
    expect(readdirSync(dest).sort()).toEqual(rev.names.slice(0, 4).sort());

    pool.stop();
    await runBatch(pool, batchOf(ops.slice(4), 0));
    expect(readdirSync(dest)).toHaveLength(4);
  });

  it('share a batch with the main thread through its counter: every copy lands exactly once', async () => {
    const root = await tempDir('cda-copy-pool-');
    mkdirSync(join(root, 'src'));
    mkdirSync(join(root, 'dest'));
    const ops: CopyOp[] = [];
    for (let i = 0; i < 600; i++) {
      writeFileSync(join(root, 'src', `f${i}`), `${i}\n`);
      ops.push({
        type: 'copy',
        source: join(root, 'src', `f${i}`),
        destination: join(root, 'dest', `f${i}`),
        kind: 'file',
        overwrite: false,
      });
    }
    const pool = await startedPool(2);
    const batch = batchOf(ops, 0, 8);
    const sharing = pool.share(batch);
    const claimed = new Int32Array(batch.counter);
    let mine = 0;
    for (let start = Atomics.add(claimed, 0, 8); start < ops.length; start = Atomics.add(claimed, 0, 8)) {
      for (let k = start; k < Math.min(start + 8, ops.length); k++) {
        const op = ops[k] as CopyOp;
        copyAtomicallySync(op, tempPathFor(op.destination, k, RUN), options);
        mine++;
      }
    }
    const settled = await pool.settle(sharing);
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'fulfilled']);
    expect(mine).toBeLessThan(600);
    const landed = readdirSync(join(root, 'dest'));
    expect(landed).toHaveLength(600);
    for (let i = 0; i < 600; i += 97) expect(readFileSync(join(root, 'dest', `f${i}`), 'utf8')).toBe(`${i}\n`);
  });
});
