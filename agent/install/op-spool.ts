/**
 * The plan's per-entry operations on disk between planning and applying. The whole plan is made
 * (and checked) before anything is written, as the official agent does; holding a million operations
 * in memory until then cost about 500 bytes each. Instead the copies, then the permission targets,
 * are appended to an unlinked temp file (gone with the process, even after a crash) and read back in
 * order, a chunk at a time, as often as needed. The mkdir operations are not spooled: the planner
 * keeps them anyway (a set of directories).
 *
 * Records are NUL-separated fields (a path never holds a NUL; it may hold a line break): a copy is
 * `<f|l><0|1>`, source, destination; a permission target is `<index>,<0|1>`, path.
 */
import { closeSync, openSync, readSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { CopyOp, PermissionTarget } from './operations.js';

/**
 * Kept well under V8's large-object size (128 KiB): bigger strings are allocated straight in the old
 * generation, and a stream of them makes the heap swell between full collections.
 */
const WRITE_CHUNK = 32 * 1024;
const READ_CHUNK = 32 * 1024;

interface Region {
  start: number;
  end: number;
}

export class OpSpool {
  private end = 0;
  private parts: string[] = [];
  private buffered = 0;
  private copyRegion: Region | undefined;
  private targetRegion: Region | undefined;
  private closed = false;

  private constructor(private readonly fd: number) {}

  /** A new spool in `dir` (unlinked at once: only this descriptor reaches it). */
  static create(dir: string, name: string): OpSpool {
    const path = join(dir, name);
    const fd = openSync(path, 'wx+', 0o600);
    try {
      unlinkSync(path);
    } catch (err) {
      closeSync(fd);
      throw err;
    }
    return new OpSpool(fd);
  }

  addCopy(op: CopyOp): void {
    this.append(`${op.kind === 'symlink' ? 'l' : 'f'}${op.overwrite ? '1' : '0'}\0${op.source}\0${op.destination}\0`);
  }

  /** The copies are all written: copies() may read them back. */
  endCopies(): void {
    this.copyRegion = this.seal(0);
  }

  addTarget(target: PermissionTarget): void {
    this.append(`${target.index},${target.isSymlink ? '1' : '0'}\0${target.path}\0`);
  }

  endTargets(): void {
    this.targetRegion = this.seal(this.copyRegion?.end ?? 0);
  }

  /** The copies in the order they were added. */
  *copies(): Generator<CopyOp, void, undefined> {
    const region = this.copyRegion;
    if (!region) throw new Error('the copies are not complete');
    for (const [flags, source, destination] of this.records(region, 3)) {
      yield {
        type: 'copy',
        source: source as string,
        destination: destination as string,
        kind: flags?.[0] === 'l' ? 'symlink' : 'file',
        overwrite: flags?.[1] === '1',
      };
    }
  }

  /** The permission targets in the order they were added. */
  *targets(): Generator<PermissionTarget, void, undefined> {
    const region = this.targetRegion;
    if (!region) throw new Error('the permission targets are not complete');
    for (const [head, path] of this.records(region, 2)) {
      const [index, symlink] = (head as string).split(',');
      yield { path: path as string, index: Number(index), isSymlink: symlink === '1' };
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
  }

  private append(record: string): void {
    this.parts.push(record);
    this.buffered += record.length;
    if (this.buffered >= WRITE_CHUNK) this.flush();
  }

  private flush(): void {
    if (this.parts.length === 0) return;
    const data = Buffer.from(this.parts.join(''));
    this.parts = [];
    this.buffered = 0;
    let offset = 0;
    while (offset < data.length) offset += writeSync(this.fd, data, offset, data.length - offset, this.end + offset);
    this.end += data.length;
  }

  private seal(start: number): Region {
    this.flush();
    return { start, end: this.end };
  }

  /** Records of `fields` fields each, read a chunk at a time. */
  private *records(region: Region, fields: number): Generator<string[], void, undefined> {
    const chunk = Buffer.allocUnsafe(READ_CHUNK);
    let carry = Buffer.alloc(0);
    let pending: string[] = [];
    for (let pos = region.start; pos < region.end;) {
      const n = readSync(this.fd, chunk, 0, Math.min(READ_CHUNK, region.end - pos), pos);
      if (n === 0) throw new Error('the install plan spool ended early');
      pos += n;
      const data = carry.length > 0 ? Buffer.concat([carry, chunk.subarray(0, n)]) : chunk.subarray(0, n);
      // A NUL never occurs inside a UTF-8 sequence: cutting after the last one keeps characters whole.
      const cut = data.lastIndexOf(0);
      carry = Buffer.from(data.subarray(cut + 1));
      if (cut < 0) continue;
      const values = data.toString('utf8', 0, cut).split('\0');
      for (const value of values) {
        pending.push(value);
        if (pending.length === fields) {
          yield pending;
          pending = [];
        }
      }
    }
  }
}
