/**
 * The agent log's text format, the official agent's line (docs/reference.md section 6.7):
 *
 *   2024-05-01T12:00:01 INFO  [codedeploy-agent(1234)]: Polling for commands hostIdentifier=arn:aws:...
 *
 * `%Y-%m-%dT%H:%M:%S` in local time, the level upper-case and left-justified to 5, the program name
 * (:program_name:) and pid, then the message. pino still builds every record (and redacts it, see
 * common/logger.ts); this module turns the JSON line pino produced into the text line, so what is
 * censored in JSON is censored here too.
 *
 * The record's structured fields follow the message as ` key=value`, one line per record whatever
 * the content (log shippers and grep see one record per line):
 * - a string is written bare when that cannot be misread: no whitespace, quote, backslash, `=` or
 *   control character, not starting with `{` or `[`, and not a JSON number, true, false or null;
 *   otherwise it is a JSON string ("a b", "42", "");
 * - numbers, booleans and null as JSON; objects and arrays as compact JSON;
 * - an error (`err`, as pino's serializer leaves it) as `err="Type: message"`, then its own fields
 *   (`err.code=…`), and its stack as `err.stack="…"` (one line, JSON-escaped) for fatal records and
 *   when the log is at debug level (:verbose:);
 * - a reader can therefore parse a value as JSON when it starts with `"`, `{` or `[` or is a JSON
 *   literal, and take it verbatim otherwise.
 * Line breaks and other control characters in the message are written as `\n`, `\r`, `\u001b`, …
 */
import { formatAgentLogTime } from './log-time.js';

export interface TextFormatOptions {
  /** The name in the brackets: :program_name: (codedeploy-agent), or codedeploy-local. */
  program: string;
  /** The pid in the brackets: the process that logs (the record itself carries no pid). */
  pid: number;
  /** Write error stacks on every record that has one (debug level), not only on fatal ones. */
  stacks: boolean;
}

const LEVEL_BY_NUMBER: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };
/** Keys of the record that are the line's own parts, not fields. */
const LINE_KEYS = new Set(['level', 'time', 'msg']);
/** Serialized error keys written in their own way. */
const ERROR_KEYS = new Set(['type', 'message', 'stack', 'name', 'raw']);

// Control characters (C0 but tab, DEL, C1) and the Unicode line and paragraph separators: never
// written raw, so a record stays one line and cannot move a terminal's cursor when the log is cat.
// eslint-disable-next-line no-control-regex
const UNSAFE_IN_MESSAGE = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u2028\u2029]/g;
// JSON.stringify escapes C0 but leaves these raw.
const UNSAFE_IN_JSON = /[\u007f-\u009f\u2028\u2029]/g;
// eslint-disable-next-line no-control-regex
const NOT_BARE = /[\s"\\=\u0000-\u001f\u007f-\u009f]/;
const JSON_LITERAL = /^(?:true|false|null|-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?)$/;
const BARE_KEY = /^[A-Za-z0-9_.\-@]+$/;

function unicodeEscape(c: string): string {
  return `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
}

/** The message on one line: \n, \r and \t-less control characters escaped, the rest verbatim. */
export function escapeMessage(text: string): string {
  return text.replace(UNSAFE_IN_MESSAGE, (c) => (c === '\n' ? '\\n' : c === '\r' ? '\\r' : unicodeEscape(c)));
}

/** Compact JSON that is safe on one line of a terminal. */
function safeJson(value: unknown): string {
  const text = JSON.stringify(value) ?? 'null';
  return text.replace(UNSAFE_IN_JSON, unicodeEscape);
}

/** A field value as written after `key=` (see the module comment). */
export function formatValue(value: unknown): string {
  if (typeof value === 'string') {
    const bare = value !== '' && !NOT_BARE.test(value) && !/^[{[]/.test(value) && !JSON_LITERAL.test(value);
    return bare ? value : safeJson(value);
  }
  return safeJson(value);
}

function formatKey(key: string): string {
  return BARE_KEY.test(key) ? key : safeJson(key);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** ` err="Type: message" err.code=X …` for an error serialized by pino (or a plain value). */
function formatError(key: string, value: unknown, withStack: boolean): string {
  if (!isRecord(value) || typeof value.message !== 'string') return ` ${formatKey(key)}=${formatValue(value)}`;
  const type = typeof value.name === 'string' && value.name !== '' ? value.name : typeof value.type === 'string' ? value.type : 'Error';
  let out = ` ${formatKey(key)}=${formatValue(`${type}: ${value.message}`)}`;
  for (const [k, v] of Object.entries(value)) {
    if (ERROR_KEYS.has(k) || v === undefined || (isRecord(v) && Object.keys(v).length === 0)) continue;
    out += ` ${formatKey(`${key}.${k}`)}=${formatValue(v)}`;
  }
  if (withStack && typeof value.stack === 'string') out += ` ${formatKey(`${key}.stack`)}=${safeJson(value.stack)}`;
  return out;
}

function levelLabel(level: unknown): string {
  const label = typeof level === 'number' ? (LEVEL_BY_NUMBER[level] ?? String(level)) : String(level ?? 'info');
  return label.toUpperCase().padEnd(5);
}

/**
 * Formats records as text lines, caching the time text while the second does not change.
 * The record is what pino wrote (parsed): `level` (label or number), `time` (epoch ms), `msg`, fields.
 */
export class AgentLogTextFormatter {
  private cachedSecond = Number.NaN;
  private cachedTime = '';

  constructor(private readonly options: TextFormatOptions) {}

  /** One record as one line, newline included. */
  format(record: Record<string, unknown>): string {
    const label = levelLabel(record.level);
    const fatal = label === 'FATAL';
    const msg = record.msg === undefined || record.msg === '' ? undefined : String(record.msg);
    let line = `${this.time(record.time)} ${label} [${this.options.program}(${this.options.pid})]: `;
    if (msg !== undefined) line += escapeMessage(msg);
    let fields = '';
    for (const [key, value] of Object.entries(record)) {
      if (LINE_KEYS.has(key) || value === undefined) continue;
      fields +=
        key === 'err' || key === 'error'
          ? formatError(key, value, this.options.stacks || fatal)
          : ` ${formatKey(key)}=${formatValue(value)}`;
    }
    // Without a message the fields start right after ": ".
    return `${msg === undefined ? line + fields.slice(1) : line + fields}\n`;
  }

  /** A JSON line from pino as a text line; a line that is not a JSON object is kept (escaped) rather than lost. */
  formatJsonLine(jsonLine: string): string {
    let record: unknown;
    try {
      record = JSON.parse(jsonLine);
    } catch {
      record = undefined;
    }
    if (!isRecord(record)) return this.format({ level: 'info', time: Date.now(), msg: jsonLine.replace(/\n$/, '') });
    return this.format(record);
  }

  private time(time: unknown): string {
    const ms = typeof time === 'number' ? time : typeof time === 'string' ? Date.parse(time) : Date.now();
    const safe = Number.isFinite(ms) ? ms : Date.now();
    const second = Math.floor(safe / 1000);
    if (second !== this.cachedSecond) {
      this.cachedSecond = second;
      this.cachedTime = formatAgentLogTime(new Date(safe));
    }
    return this.cachedTime;
  }
}
