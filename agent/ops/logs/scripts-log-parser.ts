/**
 * Reads the official logs/scripts.log format (docs/reference.md section 6.7) back into records, for
 * `codedeploy-agent logs --json` and for the "last event" column of `status`. Pure.
 *
 *   2024-05-01 12:00:01 LifecycleEvent - BeforeInstall
 *   2024-05-01 12:00:01 Script - scripts/before_install.sh
 *   2024-05-01 12:00:01 [stdout]installing deps
 *   2024-05-01 12:00:02 [agent]<a note of ours>
 *
 * The parser is stateful per file: output lines carry the event and script announced by the
 * lines before them. Times are local without an offset (as the official agent writes them);
 * they are turned into ISO 8601 with this host's offset, since the reader runs on the writer's host.
 */

export type ScriptsLogStream = 'stdout' | 'stderr' | 'agent' | 'event' | 'script' | 'raw';

export interface ScriptsLogRecord {
  /** ISO 8601 with the local offset, or null when the line has no timestamp. */
  time: string | null;
  deploymentId: string;
  event: string | null;
  script: string | null;
  stream: ScriptsLogStream;
  /** The text after the prefix, without its newline. For 'event' the event name, for 'script' the location. */
  message: string;
}

const LINE = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2}) (.*)$/s;
const OUTPUT = /^\[(stdout|stderr|agent)\](.*)$/s;

/** "YYYY-MM-DD HH:MM:SS" (local time) -> ISO 8601 with the local offset, e.g. 2024-05-01T12:00:01+02:00. */
export function localLogTimeToIso(y: number, mo: number, d: number, h: number, mi: number, s: number): string {
  const date = new Date(y, mo - 1, d, h, mi, s);
  const offset = -date.getTimezoneOffset();
  const sign = offset >= 0 ? '+' : '-';
  const abs = Math.abs(offset);
  const pad = (n: number): string => String(n).padStart(2, '0');
  const zone = offset === 0 ? 'Z' : `${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
  return `${String(y).padStart(4, '0')}-${pad(mo)}-${pad(d)}T${pad(h)}:${pad(mi)}:${pad(s)}${zone}`;
}

export class ScriptsLogParser {
  private event: string | null = null;
  private script: string | null = null;

  constructor(readonly deploymentId: string) {}

  /** The lifecycle event announced last (null before any). */
  get currentEvent(): string | null {
    return this.event;
  }

  get currentScript(): string | null {
    return this.script;
  }

  /** One line of the file, with or without its trailing newline. */
  parse(rawLine: string): ScriptsLogRecord {
    const line = rawLine.endsWith('\n') ? rawLine.slice(0, rawLine.endsWith('\r\n') ? -2 : -1) : rawLine;
    const m = LINE.exec(line);
    if (!m) return this.record(null, 'raw', line);
    const [, y, mo, d, h, mi, s, rest = ''] = m;
    const time = localLogTimeToIso(Number(y), Number(mo), Number(d), Number(h), Number(mi), Number(s));
    if (rest.startsWith('LifecycleEvent - ')) {
      this.event = rest.slice('LifecycleEvent - '.length);
      this.script = null;
      return this.record(time, 'event', this.event);
    }
    if (rest.startsWith('Script - ')) {
      this.script = rest.slice('Script - '.length);
      return this.record(time, 'script', this.script);
    }
    const out = OUTPUT.exec(rest);
    if (out) return this.record(time, out[1] as 'stdout' | 'stderr' | 'agent', out[2] ?? '');
    return this.record(time, 'raw', rest);
  }

  private record(time: string | null, stream: ScriptsLogStream, message: string): ScriptsLogRecord {
    return { time, deploymentId: this.deploymentId, event: this.event, script: this.script, stream, message };
  }
}

/** The last "LifecycleEvent - X" in a chunk of scripts.log text (e.g. its tail), or undefined. */
export function lastLifecycleEvent(text: string): string | undefined {
  const marker = ' LifecycleEvent - ';
  let end = text.length;
  for (;;) {
    const at = text.lastIndexOf(marker, end);
    if (at < 0) return undefined;
    const lineStart = text.lastIndexOf('\n', at) + 1;
    const lineEnd = text.indexOf('\n', at);
    const line = text.slice(lineStart, lineEnd < 0 ? text.length : lineEnd);
    // Only a real record line (timestamp first), not a script that printed the words.
    if (/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} LifecycleEvent - /.test(line)) return line.slice(20 + 'LifecycleEvent - '.length).trim();
    end = lineStart - 1;
    if (end < 0) return undefined;
  }
}
