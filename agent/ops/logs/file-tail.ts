/**
 * Reads what was appended to one file since the last call, by name, like `tail -F` does for one
 * file: it keeps the file open and its position; when the name points to another file (rotated or
 * replaced: a new inode) it reads the old one to its end, then starts the new one from byte 0;
 * when the file got shorter than the position (truncated) it starts again from byte 0; a missing
 * file is waited for. Lines are split by the agent's one LineSplitter (platform/line-splitter.ts):
 * on "\n", decoded as UTF-8 across chunk boundaries; an unterminated last line is held until its
 * newline comes (or takePartial() is called), and one longer than maxLineChars is passed on in
 * pieces of maxLineChars so memory stays bounded.
 */
import { open, stat, type FileHandle } from 'node:fs/promises';
import { errnoCode } from '../../../common/errors.js';
import { LineSplitter } from '../../platform/line-splitter.js';
import { readError } from '../access.js';

export type TailEvent = 'opened' | 'truncated' | 'replaced';
export type LinesSink = (lines: string[]) => void | Promise<void>;

export interface FileTailOptions {
  chunkBytes?: number;
  maxLineChars?: number;
}

export class FileTail {
  private handle: FileHandle | undefined;
  private ino: number | undefined;
  private position = 0;
  private readonly chunkBytes: number;
  private readonly maxLineChars: number;
  private splitter: LineSplitter;
  /** Lines the splitter emitted that the sink has not had yet (without their newlines). */
  private lines: string[] = [];

  constructor(
    readonly path: string,
    options: FileTailOptions = {},
  ) {
    this.chunkBytes = options.chunkBytes ?? 64 * 1024;
    this.maxLineChars = options.maxLineChars ?? 1024 * 1024;
    this.splitter = this.newSplitter();
  }

  /** Whether the file has been opened (it existed at some poll). */
  get isOpen(): boolean {
    return this.handle !== undefined;
  }

  /**
   * Pass every complete line appended since the last call to `sink` (without newlines). Returns
   * what happened to the file, if anything. Throws OpsReadError when the file cannot be read.
   */
  async poll(sink: LinesSink): Promise<TailEvent | undefined> {
    let event: TailEvent | undefined;
    let current: { ino: number } | undefined;
    try {
      current = await stat(this.path);
    } catch (err) {
      const code = errnoCode(err);
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw readError(this.path, err);
    }
    if (this.handle) {
      if (current && current.ino !== this.ino) {
        await this.readToEnd(sink);
        const rest = this.takePartial();
        if (rest !== undefined) await sink([rest]);
        await this.close();
        event = 'replaced';
      } else if ((await this.handle.stat()).size < this.position) {
        this.position = 0;
        this.splitter = this.newSplitter();
        event = 'truncated';
      }
    }
    if (!this.handle) {
      if (!current) return event;
      try {
        this.handle = await open(this.path, 'r');
      } catch (err) {
        const code = errnoCode(err);
        if (code === 'ENOENT') return event;
        throw readError(this.path, err);
      }
      this.ino = (await this.handle.stat()).ino;
      this.position = 0;
      event ??= 'opened';
    }
    await this.readToEnd(sink);
    return event;
  }

  /** The held unterminated line, if any (then forgotten). */
  takePartial(): string | undefined {
    this.splitter.end();
    const rest = this.lines.join('');
    this.lines = [];
    return rest === '' ? undefined : rest;
  }

  async close(): Promise<void> {
    const handle = this.handle;
    this.handle = undefined;
    this.ino = undefined;
    this.position = 0;
    await handle?.close().catch(() => undefined);
  }

  private newSplitter(): LineSplitter {
    return new LineSplitter((line) => this.lines.push(line.endsWith('\n') ? line.slice(0, -1) : line), this.maxLineChars);
  }

  private async readToEnd(sink: LinesSink): Promise<void> {
    const handle = this.handle;
    if (!handle) return;
    const buffer = Buffer.allocUnsafe(this.chunkBytes);
    for (;;) {
      let bytesRead: number;
      try {
        ({ bytesRead } = await handle.read(buffer, 0, buffer.length, this.position));
      } catch (err) {
        throw readError(this.path, err);
      }
      if (bytesRead === 0) return;
      this.position += bytesRead;
      this.splitter.push(buffer.subarray(0, bytesRead));
      if (this.lines.length === 0) continue;
      const lines = this.lines;
      this.lines = [];
      await sink(lines);
    }
  }
}
