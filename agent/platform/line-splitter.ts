/**
 * Splits a byte stream into lines with bounded memory: a hook script's output (hooks/hook-runner.ts)
 * and a log file being followed (ops/logs/file-tail.ts). Bytes are decoded as UTF-8 across chunk
 * boundaries (invalid sequences become U+FFFD). Every emitted line keeps its "\n"; a line longer
 * than maxLineLength is emitted in pieces of at most that many characters (the pieces have no
 * newline, the last one keeps the line's), and a final partial line is emitted without one at
 * end(). After end() the splitter is empty and can take a new stream.
 */
import { StringDecoder } from 'node:string_decoder';

export const DEFAULT_MAX_LINE_LENGTH = 64 * 1024;

export class LineSplitter {
  private readonly decoder = new StringDecoder('utf8');
  private partial = '';

  constructor(
    private readonly emit: (line: string) => void,
    private readonly maxLineLength: number = DEFAULT_MAX_LINE_LENGTH,
  ) {}

  push(chunk: Buffer): void {
    this.feed(this.decoder.write(chunk));
  }

  end(): void {
    this.feed(this.decoder.end());
    if (this.partial.length > 0) this.emit(this.partial);
    this.partial = '';
  }

  private feed(text: string): void {
    if (text.length === 0) return;
    const data = this.partial.length > 0 ? this.partial + text : text;
    let start = 0;
    for (;;) {
      const nl = data.indexOf('\n', start);
      if (nl < 0) break;
      start = this.emitPieces(data, start, nl + 1, true);
    }
    this.partial = '';
    start = this.emitPieces(data, start, data.length, false);
    this.partial = data.slice(start);
  }

  /** Emits data[from, to) in pieces of at most maxLineLength; with whole=false it keeps back the last short piece. Returns where it stopped. */
  private emitPieces(data: string, from: number, to: number, whole: boolean): number {
    let s = from;
    while (to - s > this.maxLineLength) {
      let end = s + this.maxLineLength;
      const code = data.charCodeAt(end - 1);
      if (code >= 0xd800 && code <= 0xdbff) end--; // never split a surrogate pair
      this.emit(data.slice(s, end));
      s = end;
    }
    if (whole && s < to) {
      this.emit(data.slice(s, to));
      return to;
    }
    return s;
  }
}
