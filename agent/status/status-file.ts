/**
 * The daemon's status file, <pid_dir>/<program_name>.status.json: what `codedeploy-agent status`
 * reads to say what the daemon is doing, without root and without talking to it.
 *
 * Decisions:
 * - A file, not a socket: the reader needs no privileges and no running daemon, the file survives
 *   the daemon (state "stopped" on a clean exit, "running" with a dead pid after a crash), and the
 *   daemon never waits on a client.
 * - It also keeps the outcome of the last commands the daemon ran (`recent`, bounded). That is the
 *   only reliable record of results on the host: scripts.log and the deployments log hold output,
 *   not outcomes, and root_dir is not readable without root. The list carries over restarts.
 * - Nothing secret: ids, names, times, CodeDeploy's error code and message (never the log tail).
 *   Mode 0644, so the file is readable by anyone who can reach pid_dir.
 * This module is the schema and the reader; status-publisher.ts is the daemon's writer.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { errnoCode } from '../../common/errors.js';

export const STATUS_SCHEMA_VERSION = 1;
/** Completed commands kept in the file. */
export const MAX_RECENT_COMMANDS = 50;

export interface RunningCommandStatus {
  deploymentId: string;
  deploymentGroupId: string;
  commandName: string;
  /** ISO 8601. */
  startedAt: string;
  /** The lifecycle event whose script runs now (null between scripts, or for DownloadBundle/Install). */
  event: string | null;
  /** The running script's location as written in the appspec. */
  script: string | null;
  scriptStartedAt: string | null;
  /** The bundle download under way (DownloadBundle of an S3 or GitHub revision), else null. */
  download?: DownloadStatus | null;
}

/** How far the running command's bundle download is (updated at most once a second). */
export interface DownloadStatus {
  bytes: number;
  /** Null when the server did not say (a chunked GitHub archive). */
  totalBytes: number | null;
  percent: number | null;
  bytesPerSecond: number;
  /** ISO 8601: when these figures were taken. */
  updatedAt: string;
}

export interface CommandRecord {
  deploymentId: string;
  deploymentGroupId: string;
  commandName: string;
  startedAt: string;
  endedAt: string;
  status: 'Succeeded' | 'Failed';
  /** CodeDeploy's host-command error code (0 success ... 7 failed after restart). */
  errorCode: number;
  /** The failing script, or "". */
  scriptName: string;
  /** The outcome message (at most 300 characters), or "". */
  message: string;
}

export interface DaemonStatus {
  schemaVersion: number;
  state: 'running' | 'stopping' | 'stopped';
  pid: number;
  startedAt: string;
  updatedAt: string;
  stoppedAt: string | null;
  version: string;
  identityKind: string;
  hostIdentifier: string;
  region: string;
  endpoint: string;
  commands: RunningCommandStatus[];
  recent: CommandRecord[];
}

export function statusFilePath(pidDir: string, programName: string): string {
  return join(pidDir, `${programName}.status.json`);
}

export function pidFilePath(pidDir: string, programName: string): string {
  return join(pidDir, `${programName}.pid`);
}

export type StatusFileRead =
  | { kind: 'missing' }
  | { kind: 'unreadable'; error: string; errno?: string }
  | { kind: 'invalid'; error: string }
  | { kind: 'ok'; status: DaemonStatus };

export async function readStatusFile(path: string): Promise<StatusFileRead> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT') return { kind: 'missing' };
    return { kind: 'unreadable', error: err instanceof Error ? err.message : String(err), ...(code ? { errno: code } : {}) };
  }
  const status = parseStatus(text);
  return status ? { kind: 'ok', status } : { kind: 'invalid', error: `${path} is not a status file of this agent version` };
}

/** Validate the JSON shape; undefined when it is not a status file we understand. */
export function parseStatus(text: string): DaemonStatus | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isRecord(raw) || raw.schemaVersion !== STATUS_SCHEMA_VERSION) return undefined;
  const str = (v: unknown): v is string => typeof v === 'string';
  if (!str(raw.state) || !['running', 'stopping', 'stopped'].includes(raw.state)) return undefined;
  if (typeof raw.pid !== 'number' || !str(raw.startedAt) || !str(raw.updatedAt)) return undefined;
  const commands = Array.isArray(raw.commands) ? raw.commands.map(toRunningCommand).filter((c) => c !== undefined) : [];
  const recent = Array.isArray(raw.recent) ? raw.recent.map(toCommandRecord).filter((c) => c !== undefined) : [];
  return {
    schemaVersion: STATUS_SCHEMA_VERSION,
    state: raw.state as DaemonStatus['state'],
    pid: raw.pid,
    startedAt: raw.startedAt,
    updatedAt: raw.updatedAt,
    stoppedAt: str(raw.stoppedAt) ? raw.stoppedAt : null,
    version: str(raw.version) ? raw.version : '',
    identityKind: str(raw.identityKind) ? raw.identityKind : '',
    hostIdentifier: str(raw.hostIdentifier) ? raw.hostIdentifier : '',
    region: str(raw.region) ? raw.region : '',
    endpoint: str(raw.endpoint) ? raw.endpoint : '',
    commands,
    recent,
  };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const strOrNull = (v: unknown): string | null => (typeof v === 'string' ? v : null);

function toRunningCommand(v: unknown): RunningCommandStatus | undefined {
  if (!isRecord(v)) return undefined;
  const { deploymentId, deploymentGroupId, commandName, startedAt } = v;
  if (
    typeof deploymentId !== 'string' ||
    typeof deploymentGroupId !== 'string' ||
    typeof commandName !== 'string' ||
    typeof startedAt !== 'string'
  )
    return undefined;
  return {
    deploymentId,
    deploymentGroupId,
    commandName,
    startedAt,
    event: strOrNull(v.event),
    script: strOrNull(v.script),
    scriptStartedAt: strOrNull(v.scriptStartedAt),
    download: toDownload(v.download),
  };
}

const count = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;

function toDownload(v: unknown): DownloadStatus | null {
  if (!isRecord(v) || !count(v.bytes) || !count(v.bytesPerSecond) || typeof v.updatedAt !== 'string') return null;
  return {
    bytes: v.bytes,
    totalBytes: count(v.totalBytes) ? v.totalBytes : null,
    percent: count(v.percent) ? Math.min(100, v.percent) : null,
    bytesPerSecond: v.bytesPerSecond,
    updatedAt: v.updatedAt,
  };
}

function toCommandRecord(v: unknown): CommandRecord | undefined {
  if (!isRecord(v)) return undefined;
  const { deploymentId, deploymentGroupId, commandName, endedAt, status } = v;
  if (
    typeof deploymentId !== 'string' ||
    typeof deploymentGroupId !== 'string' ||
    typeof commandName !== 'string' ||
    typeof endedAt !== 'string'
  )
    return undefined;
  if (status !== 'Succeeded' && status !== 'Failed') return undefined;
  return {
    deploymentId,
    deploymentGroupId,
    commandName,
    startedAt: typeof v.startedAt === 'string' ? v.startedAt : endedAt,
    endedAt,
    status,
    errorCode: typeof v.errorCode === 'number' ? v.errorCode : status === 'Succeeded' ? 0 : 5,
    scriptName: typeof v.scriptName === 'string' ? v.scriptName : '',
    message: typeof v.message === 'string' ? v.message : '',
  };
}
