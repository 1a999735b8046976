/**
 * A command's outcome: Succeeded or Failed, with the Diagnostics sent to the control plane
 * (their wire form and size limit: commands-client/diagnostics-payload.ts).
 */
import type { Diagnostics } from '../commands-client/diagnostics-payload.js';
import type { ScriptErrorCodeValue } from '../errors.js';

export type CommandStatus = 'Succeeded' | 'Failed';

export interface CommandOutcome {
  status: CommandStatus;
  diagnostics: Diagnostics;
}

export function succeeded(message = 'Succeeded: '): CommandOutcome {
  return { status: 'Succeeded', diagnostics: { error_code: 0, script_name: '', message, log: '' } };
}

export function failed(errorCode: ScriptErrorCodeValue, message: string, scriptName = '', log = ''): CommandOutcome {
  return { status: 'Failed', diagnostics: { error_code: errorCode, script_name: scriptName, message, log } };
}
