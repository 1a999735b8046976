/**
 * The diagnostics "log" of a lifecycle event: the last ~2048 characters of whole scripts.log
 * entries, without timestamps ("LifecycleEvent - X\n", "Script - loc\n", "[stdout]line\n"), like
 * the official ScriptLog buffer (docs/reference.md section 7.5).
 *
 * Differences on purpose (the official trimming has an off-by-one):
 * - the kept entries never exceed the limit in total: old entries are dropped while the total is
 *   over it, so five 10-char entries then a 2040-char one keep only the 2040-char one;
 * - a newest single entry longer than the limit does not empty the buffer: it is kept alone,
 *   TRUNCATED to its start plus a marker, "<start>…[truncated N chars]" (plus its newline if it
 *   had one), exactly `limit` characters long. The start is kept because it says which stream and
 *   what kind of line it was (a JSON blob, a stack trace header); N counts the characters removed.
 * Memory is bounded by the limit, whatever the volume pushed.
 */

export const DEFAULT_TAIL_LIMIT = 2048;

export class TailBuffer {
  /** Kept entries are entries[head..]; dropped ones are compacted away now and then. */
  private entries: string[] = [];
  private head = 0;
  private total = 0;

  constructor(private readonly limit: number = DEFAULT_TAIL_LIMIT) {}

  push(entry: string): void {
    if (entry.length === 0) return;
    if (entry.length > this.limit) {
      const kept = truncate(entry, this.limit);
      this.entries = [kept];
      this.head = 0;
      this.total = kept.length;
      return;
    }
    this.entries.push(entry);
    this.total += entry.length;
    while (this.total > this.limit) {
      this.total -= this.entries[this.head]?.length ?? 0;
      this.entries[this.head] = '';
      this.head++;
    }
    if (this.head >= 256 && this.head * 2 >= this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
  }

  /** The kept entries, joined. */
  text(): string {
    return this.entries.slice(this.head).join('');
  }

  /** Characters kept. */
  get length(): number {
    return this.total;
  }

  /** Entries kept. */
  get count(): number {
    return this.entries.length - this.head;
  }
}

function truncate(entry: string, limit: number): string {
  const newline = entry.endsWith('\n') ? '\n' : '';
  const marker = (removed: number): string => `…[truncated ${removed} chars]`;
  /** Characters before the newline; N in the marker counts those removed (the newline is kept). */
  const body = entry.length - newline.length;
  // The marker's length depends on how much is removed: shrink until everything fits.
  let keep = Math.min(body, limit - newline.length);
  for (;;) {
    keep = Math.max(0, keep);
    // Never split a UTF-16 surrogate pair.
    const code = entry.charCodeAt(keep - 1);
    if (keep > 0 && code >= 0xd800 && code <= 0xdbff) keep--;
    const fits = limit - marker(body - keep).length - newline.length;
    if (fits >= keep || keep === 0) break;
    keep = fits;
  }
  return `${entry.slice(0, keep)}${marker(body - keep)}${newline}`;
}
