/**
 * Runs ONE hook script process and reports its outcome as a value (docs/reference.md sections 7.2-7.4,
 * docs/design.md section 7).
 *
 * We use node:child_process spawn directly rather than execa: we need the script to lead its own
 * process group (detached) so a timeout can signal its grandchildren, we handle "exit" and
 * stdio "close" as separate events (a daemon started by the script may hold stdout forever), we
 * pass uid/gid changes through setpriv, and we apply backpressure from the log writer to the
 * script's pipes chunk by chunk; execa hides or buffers all of these.
 *
 * - stdin is closed ('ignore'); stdout/stderr are split into lines and streamed to the sink.
 * - Timeout / cancellation: SIGTERM to everything the script started (its process group, its
 *   descendants, and every process carrying its CODEDEPLOY_HOOK_RUN_ID marker; hook-killer.ts),
 *   up to killGraceMs for them to exit, then SIGKILL. Only a process that left the tree and
 *   cleared its environment escapes.
 * - After the script exits, stdout/stderr get outputDrainMs to close (time spent waiting for our
 *   own log writes does not count). If a background child still holds them we stop reading, note
 *   it in scripts.log, and let the exit code decide; the child itself is left running.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { constants as fsConstants } from 'node:fs';
import { access } from 'node:fs/promises';
import { constants as osConstants } from 'node:os';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import { ScriptErrorCode, type ScriptErrorCodeValue } from '../errors.js';
import { errnoCode, toError } from '../../common/errors.js';
import type { OutputStream } from '../log/types.js';
import { planCommand } from './command-plan.js';
import { LineSplitter } from '../platform/line-splitter.js';
import { PausableTimer } from './pausable-timer.js';
import { killHookProcesses } from './hook-killer.js';
import { HOOK_RUN_ID_VARIABLE, newHookRunId } from './hook-run-id.js';
import { groupMembers } from './process-group.js';
import { processStartTime } from './process-tree.js';
import { isValidUserName, lookupUser as defaultLookupUser, type PasswdEntry, type UserLookup } from './user-lookup.js';
import { stopCause } from './types.js';

/** Where one script's output and the runner's notes go (scripts.log plus the diagnostics tail). */
export interface HookOutputSink {
  output(stream: OutputStream, line: string): void;
  note(message: string): void;
  /** True while the writer wants the producer to wait. */
  readonly needDrain: boolean;
  waitDrain(): Promise<void>;
}

export interface RunScriptOptions {
  /** As written in the appspec (used in messages). */
  location: string;
  /** Absolute path of the script (already checked to exist and be executable). */
  scriptPath: string;
  runas?: string;
  sudo: boolean;
  timeoutSeconds: number;
  env: Readonly<Record<string, string>>;
  cwd: string;
  killGraceMs: number;
  outputDrainMs: number;
  sink: HookOutputSink;
  logger: Logger;
  signal?: AbortSignal;
  /** Defaults: process.geteuid(), getent, setpriv from /usr/bin (or /bin, /usr/sbin, /sbin, PATH), 64 KiB. */
  agentUid?: number;
  lookupUser?: UserLookup;
  setprivPath?: string;
  maxLineLength?: number;
}

export interface ScriptOutcome {
  errorCode: ScriptErrorCodeValue;
  message: string;
}

/** setTimeout's ceiling; longer delays would fire at once. */
const MAX_TIMER_MS = 2_147_483_647;

export async function runScript(o: RunScriptOptions): Promise<ScriptOutcome> {
  const subject = `Script at specified location: ${o.location}${o.runas !== undefined ? ` run as user ${o.runas}` : ''}`;
  const cancelled = (): ScriptOutcome => ({
    errorCode: ScriptErrorCode.UNKNOWN_ERROR,
    message: `Script at specified location: ${o.location} was stopped because ${stopCause(o.signal)}`,
  });
  if (o.signal?.aborted) return cancelled();

  let user: PasswdEntry | undefined;
  if (o.runas !== undefined) {
    if (!isValidUserName(o.runas)) {
      return {
        errorCode: ScriptErrorCode.SCRIPT_FAILED,
        message: `${subject} failed with error InvalidUser with message "${o.runas}" is not a valid user name`,
      };
    }
    user = await (o.lookupUser ?? defaultLookupUser)(o.runas);
  }
  const plan = planCommand({
    scriptPath: o.scriptPath,
    location: o.location,
    ...(o.runas !== undefined ? { runas: o.runas } : {}),
    ...(user ? { user } : {}),
    sudo: o.sudo,
    agentUid: o.agentUid ?? process.geteuid?.() ?? 0,
    setprivPath: o.setprivPath ?? (user ? await findSetpriv() : 'setpriv'),
  });
  if (!plan.ok) return { errorCode: ScriptErrorCode.SCRIPT_FAILED, message: plan.message };

  const spawnFailed = (err: unknown): ScriptOutcome => {
    const e = toError(err);
    return {
      errorCode: ScriptErrorCode.SCRIPT_FAILED,
      message: `${subject} failed with error ${errnoCode(e) ?? e.name} with message ${e.message}`,
    };
  };

  const runId = newHookRunId();
  let child: ChildProcess;
  try {
    child = spawn(plan.file, plan.args, {
      cwd: o.cwd,
      env: { ...o.env, ...plan.env, [HOOK_RUN_ID_VARIABLE]: runId },
      detached: true, // own process group: timeouts signal the whole tree
      stdio: ['ignore', 'pipe', 'pipe'],
      windowsHide: true,
    });
  } catch (err) {
    return spawnFailed(err);
  }

  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null } | { error: Error }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    child.once('error', (error) => resolve({ error }));
  });

  // Runs only after the script exits: bounded wait for stdout/stderr to close.
  const drainTimer = new PausableTimer();
  const open = { stdout: true, stderr: true };
  const readers = Promise.all([
    readStream(child.stdout, 'stdout', o, drainTimer).finally(() => (open.stdout = false)),
    readStream(child.stderr, 'stderr', o, drainTimer).finally(() => (open.stderr = false)),
  ]);

  const pid = child.pid;
  // Read now, while the script surely runs: it tells the script's later processes from older ones.
  const startTime = pid === undefined ? Promise.resolve(undefined) : processStartTime(pid);
  let stopReason: 'timeout' | 'cancel' | undefined;
  let stopping: Promise<void> | undefined;
  const stop = (reason: 'timeout' | 'cancel'): void => {
    if (stopReason || pid === undefined) return;
    stopReason = reason;
    if (reason === 'timeout') {
      const msg = `Script at specified location: ${o.location} timed out`;
      o.logger.warn({ script: o.location, scriptPid: pid }, msg);
      o.sink.note(msg);
    } else {
      o.logger.warn(
        { script: o.location, scriptPid: pid },
        `Script at specified location: ${o.location}: ${stopCause(o.signal)}, stopping the script`,
      );
      o.sink.note(`Script at specified location: ${o.location} is being stopped because ${stopCause(o.signal)}`);
    }
    stopping = terminate({ pid, startTime, runId }, o);
  };
  const timer = setTimeout(() => stop('timeout'), Math.min(MAX_TIMER_MS, Math.max(0, o.timeoutSeconds * 1000)));
  const onAbort = (): void => stop('cancel');
  o.signal?.addEventListener('abort', onAbort, { once: true });
  if (o.signal?.aborted) stop('cancel'); // aborted while we were looking the user up

  const exit = await exited;
  clearTimeout(timer);
  o.signal?.removeEventListener('abort', onAbort);

  if ('error' in exit) {
    // The process never started (ENOENT, EACCES, ...): the pipes close at once.
    await readers;
    return spawnFailed(exit.error);
  }
  if (stopping) await stopping;

  drainTimer.start(Math.max(0, o.outputDrainMs));
  const drained = await Promise.race([readers.then(() => true), drainTimer.fired.then(() => false)]);
  drainTimer.cancel();
  if (!drained) await abandonOutput(child, pid, open, o);

  if (stopReason === 'timeout') {
    return {
      errorCode: ScriptErrorCode.SCRIPT_TIMED_OUT,
      message: `Script at specified location: ${o.location} failed to complete in ${o.timeoutSeconds} seconds`,
    };
  }
  if (stopReason === 'cancel') return cancelled();
  if (exit.code === 0) return { errorCode: ScriptErrorCode.SUCCEEDED, message: '' };
  o.logger.debug({ script: o.location, scriptPid: pid, exitCode: exit.code, signal: exit.signal }, 'Script failed');
  if (exit.code !== null) return { errorCode: ScriptErrorCode.SCRIPT_FAILED, message: `${subject} failed with exit code ${exit.code}` };
  // Killed by a signal we did not send: report it the way shells do (128 + n), naming the signal.
  const signo = exit.signal ? (osConstants.signals[exit.signal] ?? 0) : 0;
  return {
    errorCode: ScriptErrorCode.SCRIPT_FAILED,
    message: `${subject} failed with exit code ${128 + signo} (killed by signal ${exit.signal ?? 'unknown'})`,
  };
}

const SETPRIV_CANDIDATES = ['/usr/bin/setpriv', '/bin/setpriv', '/usr/sbin/setpriv', '/sbin/setpriv'];

/** util-linux setpriv at its usual places, else "setpriv" looked up in the script's PATH. */
async function findSetpriv(): Promise<string> {
  for (const candidate of SETPRIV_CANDIDATES) {
    if (
      await access(candidate, fsConstants.X_OK).then(
        () => true,
        () => false,
      )
    )
      return candidate;
  }
  return 'setpriv';
}

/** Reads one pipe into the sink line by line; pauses (backpressure) while the sink is behind. */
async function readStream(stream: Readable | null, name: OutputStream, o: RunScriptOptions, drainTimer: PausableTimer): Promise<void> {
  if (!stream) return;
  const splitter = new LineSplitter((line) => o.sink.output(name, line), o.maxLineLength);
  try {
    for await (const chunk of stream) {
      splitter.push(chunk as Buffer);
      if (o.sink.needDrain) {
        drainTimer.pause();
        try {
          await o.sink.waitDrain();
        } finally {
          drainTimer.resume();
        }
      }
    }
  } catch {
    // Destroyed after the drain timeout: whatever was read is already in the splitter.
  } finally {
    splitter.end();
  }
}

/** The script exited but a descendant still holds stdout/stderr: stop reading and say who. */
async function abandonOutput(
  child: ChildProcess,
  pid: number | undefined,
  open: { stdout: boolean; stderr: boolean },
  o: RunScriptOptions,
): Promise<void> {
  const streams = [open.stdout ? 'stdout' : '', open.stderr ? 'stderr' : ''].filter((s) => s.length > 0).join(' and ');
  const members = pid === undefined ? undefined : await groupMembers(pid, 5);
  const who =
    members && members.length > 0
      ? ` Still running in its process group: ${members.map((m) => `${m.pid} (${m.command})`).join(', ')}.`
      : '';
  const msg =
    `Script at specified location: ${o.location} exited, but a child process kept its ${streams} open for more than ${o.outputDrainMs} ms;` +
    ` stopped reading its output and left that process running (redirect a background process's output, e.g. "cmd >/dev/null 2>&1 &").${who}`;
  o.logger.warn({ script: o.location, scriptPid: pid, heldBy: members }, msg);
  o.sink.note(msg);
  child.stdout?.destroy();
  child.stderr?.destroy();
}

/** SIGTERM to everything the script started, SIGKILL after killGraceMs to what is left; resolves when all is gone. */
async function terminate(t: { pid: number; startTime: Promise<number | undefined>; runId: string }, o: RunScriptOptions): Promise<void> {
  const outcome = await killHookProcesses(
    { pid: t.pid, startTime: await t.startTime, marker: { name: HOOK_RUN_ID_VARIABLE, value: t.runId } },
    o.killGraceMs,
  );
  if (!outcome.killed) return;
  o.logger.warn(
    { script: o.location, pid: t.pid, members: outcome.stubborn },
    `Script at specified location: ${o.location} did not stop within ${o.killGraceMs} ms of SIGTERM; sent SIGKILL to its process group and the processes it started`,
  );
  const shown = outcome.stubborn.slice(0, 5).join(', ') + (outcome.stubborn.length > 5 ? ` and ${outcome.stubborn.length - 5} more` : '');
  o.sink.note(
    `Sent SIGKILL to the process group of ${o.location} and the processes it started (still running ${o.killGraceMs} ms after SIGTERM: ${shown})`,
  );
  if (outcome.survivors.length > 0) {
    o.logger.error(
      { script: o.location, pid: t.pid, survivors: outcome.survivors },
      `processes started by ${o.location} survived SIGKILL: ${outcome.survivors.join(', ')}`,
    );
  }
}
