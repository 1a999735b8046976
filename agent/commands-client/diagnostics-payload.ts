/**
 * The Diagnostics the commands client sends with PutHostCommandComplete and PostHostCommandUpdate
 * (docs/reference.md section 7.5): {"error_code":N,"script_name":"...","message":"...","log":"..."}, key
 * order as shown, and at most 8192 characters in all (the API limit): the log is cut first, from
 * its start, at a line boundary, then the message. What a command's outcome is lives in
 * deployment/diagnostics.ts.
 */
import type { ScriptErrorCodeValue } from '../errors.js';

export interface Diagnostics {
  error_code: ScriptErrorCodeValue;
  script_name: string;
  message: string;
  log: string;
}

export const MAX_DIAGNOSTICS_PAYLOAD = 8192;

export function diagnosticsPayload(d: Diagnostics, limit = MAX_DIAGNOSTICS_PAYLOAD): string {
  const render = (x: Diagnostics): string =>
    JSON.stringify({ error_code: x.error_code, script_name: x.script_name, message: x.message, log: x.log });
  let current = { ...d };
  let out = render(current);
  // Drop the oldest log lines first (the end of the log is what explains a failure).
  while (out.length > limit && current.log.length > 0) {
    const nl = current.log.indexOf('\n');
    const cut = nl >= 0 && nl < current.log.length - 1 ? nl + 1 : Math.max(1, Math.ceil(current.log.length / 10));
    current = { ...current, log: current.log.slice(cut) };
    out = render(current);
  }
  while (out.length > limit && current.message.length > 0) {
    current = { ...current, message: `${current.message.slice(0, Math.floor(current.message.length * 0.9))}` };
    out = render(current);
  }
  return out;
}
