/**
 * Runs every script of one lifecycle event, in order, stopping at the first failure (docs/reference.md
 * section 7.1). Returns the outcome as a HookResult value; it does not throw for script outcomes.
 *
 * scripts.log gets "LifecycleEvent - <event>", then per script "Script - <location>" and its
 * output; the same entries (without timestamps) and the runner's own notes feed the diagnostics
 * tail (TailBuffer), which is the HookResult log of a failed event.
 */
import { ScriptErrorCode } from '../errors.js';
import { toError } from '../../common/errors.js';
import { createToolRunner } from '../platform/tool-runner.js';
import type { OutputStream, ScriptLogWriter } from '../log/types.js';
import { runScript, type HookOutputSink } from './hook-runner.js';
import { prepareRunasAccess, type RunasAccessContext } from './runas-access.js';
import { findScript, makeExecutable } from './script-path.js';
import { TailBuffer } from './tail-buffer.js';
import { stopCause, type HookResult, type LifecycleEventRequest } from './types.js';
import { lookupUser } from './user-lookup.js';

const SUCCESS: HookResult = { errorCode: ScriptErrorCode.SUCCEEDED, scriptName: '', message: '', log: '' };

/** With a writer that has no backpressure of its own, flush after this many characters. */
const FLUSH_EVERY_CHARS = 1024 * 1024;

/** Told when each script starts and ends (the daemon's status file); must not throw. */
export type ScriptObserver = (e: { phase: 'start' | 'end'; event: string; script: string }) => void;

export async function runLifecycleEvent(req: LifecycleEventRequest & { onScript?: ScriptObserver }): Promise<HookResult> {
  if (req.scripts.length === 0) return SUCCESS;
  const tail = new TailBuffer();
  const sink = createSink(req.log, tail);
  const fail = (errorCode: HookResult['errorCode'], scriptName: string, message: string): HookResult => ({
    errorCode,
    scriptName,
    message,
    log: tail.text(),
  });

  const access = accessContext(req, sink);

  req.log.lifecycleEvent(req.event);
  tail.push(`LifecycleEvent - ${req.event}\n`);
  try {
    for (const script of req.scripts) {
      req.log.script(script.location);
      tail.push(`Script - ${script.location}\n`);
      if (req.signal?.aborted) {
        return fail(
          ScriptErrorCode.UNKNOWN_ERROR,
          script.location,
          `Script at specified location: ${script.location} was stopped because ${stopCause(req.signal)}`,
        );
      }

      const found = await findScript(req.archiveDir, script.location);
      if (!found.ok) {
        req.logger.error({ script: script.location }, found.message);
        return fail(found.errorCode, script.location, found.message);
      }
      if (!found.executable) {
        const msg = `Script at specified location: ${script.location} is not executable.  Trying to make it executable.`;
        req.logger.warn({ script: script.location }, msg);
        sink.note(msg);
        if (!(await makeExecutable(found.path))) {
          const message = `Unable to set script at specified location: ${script.location} as executable`;
          req.logger.error({ script: script.location }, message);
          return fail(ScriptErrorCode.SCRIPT_NOT_EXECUTABLE, script.location, message);
        }
      }

      const user = access && script.runas !== undefined ? await prepareRunasAccess(access, script.runas, req.archiveDir) : undefined;
      req.onScript?.({ phase: 'start', event: req.event, script: script.location });
      const outcome = await runScript({
        location: script.location,
        scriptPath: found.path,
        ...(script.runas !== undefined ? { runas: script.runas } : {}),
        ...(user ? { lookupUser: () => Promise.resolve(user) } : {}),
        sudo: script.sudo,
        timeoutSeconds: script.timeoutSeconds,
        env: req.env,
        cwd: req.cwd,
        killGraceMs: req.killGraceMs,
        outputDrainMs: req.outputDrainMs,
        sink,
        logger: req.logger,
        ...(req.signal ? { signal: req.signal } : {}),
      }).finally(() => req.onScript?.({ phase: 'end', event: req.event, script: script.location }));
      if (outcome.errorCode !== ScriptErrorCode.SUCCEEDED) {
        req.logger.error({ script: script.location, errorCode: outcome.errorCode }, outcome.message);
        return fail(outcome.errorCode, script.location, outcome.message);
      }
    }
    return SUCCESS;
  } catch (err) {
    // Not a script outcome (e.g. the revision directory became unreadable): unknown error, code 5.
    const error = toError(err);
    req.logger.error({ err: error }, `lifecycle event ${req.event} failed: ${error.message}`);
    return fail(ScriptErrorCode.UNKNOWN_ERROR, '', error.message);
  } finally {
    await req.log.flush().catch((err: unknown) => req.logger.warn({ err: toError(err) }, 'could not flush scripts.log'));
  }
}

/** Only with root_dir known and a script that has runas does the runner touch permissions. */
function accessContext(req: LifecycleEventRequest, sink: HookOutputSink): RunasAccessContext | undefined {
  if (req.rootDir === undefined || !req.scripts.some((s) => s.runas !== undefined)) return undefined;
  return {
    rootDir: req.rootDir,
    tools: req.aclTools ?? createToolRunner({ timeoutMs: 30_000 }),
    lookupUser,
    agentUid: process.geteuid?.() ?? 0,
    logger: req.logger,
    note: (message) => sink.note(message),
    done: new Set(),
  };
}

interface Drainable {
  readonly needDrain: boolean;
  waitDrain(): Promise<void>;
}

function isDrainable(log: ScriptLogWriter): log is ScriptLogWriter & Drainable {
  const candidate = log as Partial<Drainable>;
  return typeof candidate.waitDrain === 'function' && typeof candidate.needDrain === 'boolean';
}

/** scripts.log plus the tail; backpressure from the writer when it has some, else periodic flushes. */
function createSink(log: ScriptLogWriter, tail: TailBuffer): HookOutputSink {
  let sinceFlush = 0;
  const drainable = isDrainable(log) ? log : undefined;
  return {
    output(stream: OutputStream, line: string) {
      log.output(stream, line);
      tail.push(`[${stream}]${line}`);
      sinceFlush += line.length;
    },
    note(message: string) {
      log.note(message);
      tail.push(`[agent]${message}\n`);
    },
    get needDrain() {
      return drainable ? drainable.needDrain : sinceFlush >= FLUSH_EVERY_CHARS;
    },
    async waitDrain() {
      if (drainable) return drainable.waitDrain();
      sinceFlush = 0;
      await log.flush();
    },
  };
}
