/**
 * `<DGID>-install.json`: {"instructions":[...]} with one object per operation, in the official
 * shapes of install_instruction.rb to_h (docs/reference.md section 4.5). Informational: nothing reads it back.
 * installJson() builds the whole text (small plans, tests); InstructionsWriter streams it to disk.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fsync, openSync, writeSync } from 'node:fs';
import { rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { promisify } from 'node:util';
import { formatAce, formatRange } from '../../appspec/format.js';
import { syncDir } from '../../common/atomic-file.js';
import type { InstallOp } from './operations.js';

export function instructionObject(op: InstallOp): Record<string, unknown> {
  switch (op.type) {
    case 'copy':
      return { type: 'copy', source: op.source, destination: op.destination };
    case 'mkdir':
      return { type: 'mkdir', directory: op.directory };
    case 'chmod':
      return { type: 'chmod', mode: op.mode.text, file: op.file };
    case 'setfacl':
      return { type: 'setfacl', acl: op.acl.map(formatAce), file: op.file };
    case 'semanage':
      return {
        type: 'semanage',
        context: {
          user: op.context.user ?? null,
          role: null,
          type: op.context.type,
          range: op.context.range ? formatRange(op.context.range) : null,
        },
        file: op.file,
      };
    case 'chown':
      return { type: 'chown', owner: op.owner ?? null, group: op.group ?? null, file: op.file };
  }
}

export function installJson(ops: readonly InstallOp[]): string {
  return JSON.stringify({ instructions: ops.map(instructionObject) });
}

/** Under V8's large-object size, so the buffered text dies young (see op-spool.ts). */
const FLUSH_AT = 32 * 1024;

/**
 * Writes `<DGID>-install.json` one operation at a time, with the same bytes as installJson(): to a
 * temp file beside it, fsynced and renamed into place by commit() (readers see the old file or the
 * new one, never a torn one, as writeFileAtomic does), removed by abort(). A million operations
 * never make one string.
 */
export class InstructionsWriter {
  private parts: string[] = ['{"instructions":['];
  private buffered = 0;
  private first = true;
  private done = false;

  private constructor(
    readonly path: string,
    private readonly temp: string,
    private readonly fd: number,
  ) {}

  static create(path: string): InstructionsWriter {
    const temp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
    return new InstructionsWriter(path, temp, openSync(temp, 'wx', 0o644));
  }

  add(op: InstallOp): void {
    // The two shapes of nearly every operation, spelled out: the same bytes as instructionObject()'s
    // JSON without an object per operation (a tenth of the plan's time for small files).
    const text =
      op.type === 'copy'
        ? `{"type":"copy","source":${JSON.stringify(op.source)},"destination":${JSON.stringify(op.destination)}}`
        : op.type === 'mkdir'
          ? `{"type":"mkdir","directory":${JSON.stringify(op.directory)}}`
          : JSON.stringify(instructionObject(op));
    this.parts.push(this.first ? text : `,${text}`);
    this.first = false;
    this.buffered += text.length + 1;
    if (this.buffered >= FLUSH_AT) this.flush();
  }

  /** Finish the document and move it into place durably. */
  async commit(): Promise<void> {
    this.parts.push(']}');
    try {
      this.flush();
      await promisify(fsync)(this.fd);
    } catch (err) {
      await this.abort();
      throw err;
    }
    this.done = true;
    closeSync(this.fd);
    try {
      await rename(this.temp, this.path);
    } catch (err) {
      await unlink(this.temp).catch(() => undefined);
      throw err;
    }
    await syncDir(dirname(this.path));
  }

  /** Drop the temp file; the previous install.json stays. */
  async abort(): Promise<void> {
    if (this.done) return;
    this.done = true;
    closeSync(this.fd);
    await unlink(this.temp).catch(() => undefined);
  }

  private flush(): void {
    const data = Buffer.from(this.parts.join(''));
    this.parts = [];
    this.buffered = 0;
    let offset = 0;
    while (offset < data.length) offset += writeSync(this.fd, data, offset, data.length - offset);
  }
}
