/**
 * The daemon's writer of <pid_dir>/<program_name>.status.json (schema and reasons: status-file.ts).
 *
 * It is told about command starts and ends (the poller's CommandObserver) and hook script starts
 * and ends (the executor's HookScriptObserver) and rewrites the file atomically (temp, fsync,
 * rename). Writes are coalesced: a change schedules one write at most every minIntervalMs, so a
 * deployment of many short scripts costs a handful of writes, and nothing is ever written per
 * output line. A bundle download's progress (told at most once a second by the fetcher) causes at
 * most one write per progressIntervalMs, never one per chunk. A failed write is logged once (warn) and never reaches the deployment.
 *
 * At start it carries over the previous file's `recent` list; commands the previous file still
 * showed as running (a crash or kill -9) are added to it as failed with code 7, which is what the
 * poller reports for them to the control plane.
 */
import { chmod } from 'node:fs/promises';
import type { Logger } from 'pino';
import { writeFileAtomic } from '../../common/atomic-file.js';
import { ScriptErrorCode } from '../errors.js';
import { toError } from '../../common/errors.js';
import type { CommandObserver, ObservedCommand } from '../poller/poller.js';
import { RESTART_FAILURE_MESSAGE } from '../poller/poller.js';
import type { HookScriptEvent } from '../deployment/command-executor.js';
import type { CommandOutcome } from '../deployment/diagnostics.js';
import {
  MAX_RECENT_COMMANDS,
  readStatusFile,
  STATUS_SCHEMA_VERSION,
  type CommandRecord,
  type DaemonStatus,
  type RunningCommandStatus,
} from './status-file.js';

export interface StatusPublisherOptions {
  file: string;
  logger: Logger;
  version: string;
  identityKind: string;
  hostIdentifier: string;
  region: string;
  endpoint: string;
  pid?: number;
  now?: () => Date;
  /** At most one write per this many ms (default 200). */
  minIntervalMs?: number;
  /** A download's progress alone causes at most one write per this many ms (default 1000). */
  progressIntervalMs?: number;
}

export interface StatusPublisher extends CommandObserver {
  hookScript(event: HookScriptEvent): void;
  /** How the command's bundle download goes; `done` clears it. */
  downloadProgress(command: { deploymentId: string }, progress: DownloadProgressUpdate): void;
  /** Polling has stopped; running commands are being waited for. */
  stopping(): void;
  /** Mark the daemon stopped and write the file one last time. */
  stop(): Promise<void>;
  /** Resolves once every change so far is in the file (tests). */
  flush(): Promise<void>;
}

const MAX_MESSAGE_CHARS = 300;

/** What the fetchers report (agent/bundle/download-progress.ts DownloadProgress). */
export interface DownloadProgressUpdate {
  bytes: number;
  totalBytes: number | null;
  percent: number | null;
  bytesPerSecond: number;
  done: boolean;
}

export async function createStatusPublisher(o: StatusPublisherOptions): Promise<StatusPublisher> {
  const now = o.now ?? (() => new Date());
  const minIntervalMs = o.minIntervalMs ?? 200;
  const progressIntervalMs = o.progressIntervalMs ?? 1000;
  const pid = o.pid ?? process.pid;
  const startedAt = now().toISOString();
  const running = new Map<string, RunningCommandStatus>();
  const recent: CommandRecord[] = await previousRecords(o.file, pid, startedAt, o.logger);
  let state: DaemonStatus['state'] = 'running';
  let stoppedAt: string | null = null;

  let dirty = false;
  let timer: NodeJS.Timeout | undefined;
  let timerDue = 0;
  /** The shortest gap asked for by the changes not yet written. */
  let wantGap = Infinity;
  let writing: Promise<void> | undefined;
  let lastWrite = 0;
  let warned = false;

  const snapshot = (): DaemonStatus => ({
    schemaVersion: STATUS_SCHEMA_VERSION,
    state,
    pid,
    startedAt,
    updatedAt: now().toISOString(),
    stoppedAt,
    version: o.version,
    identityKind: o.identityKind,
    hostIdentifier: o.hostIdentifier,
    region: o.region,
    endpoint: o.endpoint,
    commands: [...running.values()],
    recent: recent.slice(-MAX_RECENT_COMMANDS),
  });

  const write = (): void => {
    timer = undefined;
    if (!dirty || writing) return;
    dirty = false;
    wantGap = Infinity;
    const text = `${JSON.stringify(snapshot(), null, 2)}\n`;
    writing = writeFileAtomic(o.file, text, { mode: 0o644 })
      // Readable without root whatever the daemon's umask.
      .then(() => chmod(o.file, 0o644))
      .catch((err: unknown) => {
        if (!warned)
          o.logger.warn(
            { err: toError(err), file: o.file },
            `Cannot write the status file ${o.file}; "codedeploy-agent status" will not show the current command`,
          );
        warned = true;
      })
      .finally(() => {
        writing = undefined;
        lastWrite = Date.now();
        if (dirty) scheduleAfter(wantGap);
      });
  };

  /** A write no sooner than `gapMs` after the last one; an earlier pending write is kept. */
  const scheduleAfter = (gapMs: number): void => {
    dirty = true;
    wantGap = Math.min(wantGap, gapMs);
    if (writing) return;
    const due = Math.max(Date.now(), lastWrite + gapMs);
    if (timer && timerDue <= due) return;
    if (timer) clearTimeout(timer);
    timerDue = due;
    timer = setTimeout(write, due - Date.now());
    timer.unref();
  };
  const schedule = (): void => scheduleAfter(minIntervalMs);
  // A download's progress alone waits longer, so a fast download is not a stream of renames.
  const scheduleProgress = (): void => scheduleAfter(Math.max(minIntervalMs, progressIntervalMs));

  const flush = async (): Promise<void> => {
    for (let i = 0; i < 3 && (dirty || writing); i++) {
      if (writing) await writing;
      if (dirty) {
        if (timer) clearTimeout(timer);
        write();
        await writing;
      }
    }
  };

  const key = (c: { deploymentId: string }): string => c.deploymentId;

  schedule();
  return {
    commandStarted(c: ObservedCommand) {
      running.set(key(c), {
        deploymentId: c.deploymentId,
        deploymentGroupId: c.deploymentGroupId,
        commandName: c.commandName,
        startedAt: now().toISOString(),
        event: null,
        script: null,
        scriptStartedAt: null,
        download: null,
      });
      schedule();
    },
    downloadProgress(c, p) {
      const entry = running.get(key(c));
      if (!entry) return;
      entry.download = p.done
        ? null
        : {
            bytes: p.bytes,
            totalBytes: p.totalBytes,
            percent: p.percent,
            bytesPerSecond: p.bytesPerSecond,
            updatedAt: now().toISOString(),
          };
      // Progress alone is written at most every progressIntervalMs; other changes keep their pace.
      if (p.done) schedule();
      else scheduleProgress();
    },
    commandEnded(c: ObservedCommand, outcome: CommandOutcome | undefined) {
      const entry = running.get(key(c));
      running.delete(key(c));
      const d = outcome?.diagnostics;
      recent.push({
        deploymentId: c.deploymentId,
        deploymentGroupId: c.deploymentGroupId,
        commandName: c.commandName,
        startedAt: entry?.startedAt ?? now().toISOString(),
        endedAt: now().toISOString(),
        status: outcome?.status ?? 'Failed',
        errorCode: d?.error_code ?? ScriptErrorCode.UNKNOWN_ERROR,
        scriptName: d?.script_name ?? '',
        message: (d?.message ?? 'the command ended without an outcome').slice(0, MAX_MESSAGE_CHARS),
      });
      if (recent.length > MAX_RECENT_COMMANDS) recent.splice(0, recent.length - MAX_RECENT_COMMANDS);
      schedule();
    },
    hookScript(e: HookScriptEvent) {
      const entry = running.get(key(e));
      if (!entry) return;
      if (e.phase === 'start') {
        entry.event = e.event;
        entry.script = e.script;
        entry.scriptStartedAt = now().toISOString();
      } else {
        entry.script = null;
        entry.scriptStartedAt = null;
      }
      schedule();
    },
    stopping() {
      state = 'stopping';
      schedule();
    },
    async stop() {
      state = 'stopped';
      stoppedAt = now().toISOString();
      running.clear();
      schedule();
      await flush();
    },
    flush,
  };
}

/** The previous run's records, plus its still-running commands as failed (code 7) after a crash. */
async function previousRecords(file: string, pid: number, startedAt: string, logger: Logger): Promise<CommandRecord[]> {
  const previous = await readStatusFile(file);
  if (previous.kind !== 'ok') {
    if (previous.kind !== 'missing') logger.debug({ file, reason: previous.kind }, 'Previous status file ignored');
    return [];
  }
  const records = [...previous.status.recent];
  if (previous.status.state !== 'stopped' && previous.status.pid !== pid) {
    for (const c of previous.status.commands) {
      records.push({
        deploymentId: c.deploymentId,
        deploymentGroupId: c.deploymentGroupId,
        commandName: c.commandName,
        startedAt: c.startedAt,
        endedAt: startedAt,
        status: 'Failed',
        errorCode: ScriptErrorCode.FAILED_AFTER_RESTART,
        scriptName: c.script ?? '',
        message: RESTART_FAILURE_MESSAGE,
      });
    }
  }
  return records.slice(-MAX_RECENT_COMMANDS);
}
