import type { Logger } from 'pino';
import type { HookScript } from '../../appspec/model.js';
import type { ScriptErrorCodeValue } from '../errors.js';
import type { ToolRunner } from '../platform/tool-runner.js';
import type { ScriptLogWriter } from '../log/types.js';

/** The outcome of one lifecycle event (all its scripts), as a value: never thrown. */
export interface HookResult {
  /** CodeDeploy host-command error code: 0 success, 1 missing, 2 not executable, 3 timed out, 4 failed, 5 unknown, 6 outputs left open. */
  errorCode: ScriptErrorCodeValue;
  /** The failing script's location as written in the appspec, or "". */
  scriptName: string;
  /** Official message text, e.g. "Script at specified location: x.sh failed with exit code 3". "" on success. */
  message: string;
  /** The last ~2 KB of whole output lines of this event (diagnostics "log"), "" on success. */
  log: string;
}

export interface LifecycleEventRequest {
  event: string;
  scripts: readonly HookScript[];
  /** The chosen revision's deployment-archive directory; script locations resolve (confined) inside it. */
  archiveDir: string;
  /** The complete environment for the scripts (see buildHookEnvironment). */
  env: Readonly<Record<string, string>>;
  /** Working directory of every script (default /opt/codedeploy-agent, from config). */
  cwd: string;
  /** After a timeout: SIGTERM to the process group, then SIGKILL after this many ms. */
  killGraceMs: number;
  /** After the script exits: how long to wait for stdout/stderr to close before moving on. */
  outputDrainMs: number;
  log: ScriptLogWriter;
  logger: Logger;
  /** Aborting stops the running script (TERM then KILL) and fails the event with code 5. */
  signal?: AbortSignal;
  /**
   * root_dir. When set, a `runas` user is given access from it down to archiveDir before its
   * script runs (runas-access.ts); without it the runner changes no permission.
   */
  rootDir?: string;
  /** Runs getfacl/setfacl for that grant (default: the installer's tool runner). */
  aclTools?: ToolRunner;
}

/**
 * An abort reason that says why hooks are stopped, in place of "the command was cancelled"
 * (codedeploy-local interrupted by SIGINT or SIGTERM). Its message completes "... because <message>".
 */
export class HookStopReason extends Error {
  override name = 'HookStopReason';
}

/** Why a script is stopped when `signal` aborts: the HookStopReason's text, else the command was cancelled. */
export function stopCause(signal: AbortSignal | undefined): string {
  const reason: unknown = signal?.reason;
  return reason instanceof HookStopReason ? reason.message : 'the command was cancelled';
}
