/**
 * What deployments this host has, read from root_dir (docs/reference.md section 6.6) and the daemon's
 * status file, for `codedeploy-agent logs` (which deployment to show or follow) and `status`
 * (the last deployments per group with their result).
 *
 * scanDeployments() does the reading: <root>/<DGID>/<DID>/ directories, their logs/scripts.log,
 * the deployment-instructions pointers and the ongoing-deployment tracking files. The rest is
 * pure. A deployment's result comes, in this order, from:
 *  1. the daemon's running commands and the ongoing-deployment tracking file: InProgress;
 *  2. the daemon's record of the commands it completed (status file `recent`): Failed when any
 *     failed, else Succeeded (every command the agent ran for it succeeded so far);
 *  3. nothing else is reliable: scripts.log holds output, not outcomes, and the pointers only say
 *     which revision was installed last. Such deployments (codedeploy-local, or older than the
 *     kept history) are Unknown, with `lastSuccessfulInstall` telling whether it is the installed one.
 */
import { readdir, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { errnoCode } from '../../common/errors.js';
import { DeploymentLayout } from '../deployment/layout.js';
import { InstructionsStore } from '../deployment/instructions-store.js';
import { readError } from './access.js';
import type { CommandRecord, RunningCommandStatus } from '../status/status-file.js';
import { PENDING_RESULTS_DIR } from '../poller/pending-results.js';

export interface DeploymentFacts {
  deploymentGroupId: string;
  deploymentId: string;
  dir: string;
  scriptsLog: string;
  dirMtimeMs: number;
  /** undefined when the deployment has no scripts.log (no hook ran yet). */
  scriptsLogMtimeMs: number | undefined;
  /** A tracking file under ongoing-deployment/ says a command of it runs now. */
  ongoing: boolean;
  mostRecent: boolean;
  lastSuccessful: boolean;
}

export interface ScanOptions {
  /** ongoing_deployment_tracking (default "ongoing-deployment"). */
  trackingName?: string;
  /** Only this group. */
  groupId?: string;
}

/** Names under root_dir that are not deployment groups. */
function reservedNames(trackingName: string): Set<string> {
  return new Set(['deployment-instructions', 'deployment-logs', PENDING_RESULTS_DIR, trackingName]);
}

async function subdirectories(path: string): Promise<Array<{ name: string; mtimeMs: number }>> {
  let entries;
  try {
    entries = await readdir(path, { withFileTypes: true });
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT' || code === 'ENOTDIR') return [];
    throw readError(path, err);
  }
  const out: Array<{ name: string; mtimeMs: number }> = [];
  for (const e of entries) {
    if (!e.isDirectory() || e.name.startsWith('.')) continue;
    try {
      out.push({ name: e.name, mtimeMs: (await stat(join(path, e.name))).mtimeMs });
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') throw readError(join(path, e.name), err);
    }
  }
  return out;
}

async function mtimeOrUndefined(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).mtimeMs;
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw readError(path, err);
  }
}

async function names(path: string): Promise<Set<string>> {
  try {
    return new Set(await readdir(path));
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT' || code === 'ENOTDIR') return new Set();
    throw readError(path, err);
  }
}

/** Every deployment directory under root_dir. Throws OpsReadError when something is unreadable. */
export async function scanDeployments(rootDir: string, opts: ScanOptions = {}): Promise<DeploymentFacts[]> {
  const trackingName = opts.trackingName ?? 'ongoing-deployment';
  const layout = new DeploymentLayout(rootDir);
  const instructions = new InstructionsStore(layout);
  const reserved = reservedNames(trackingName);
  // root_dir first, so an unreadable root_dir is the path a permission error names.
  const groups = (await subdirectories(rootDir)).filter(
    (g) => !reserved.has(g.name) && (opts.groupId === undefined || g.name === opts.groupId),
  );
  const ongoing = await names(layout.ongoingDir(trackingName));
  const out: DeploymentFacts[] = [];
  for (const group of groups) {
    const groupDir = layout.groupDir(group.name);
    const pointer = async (read: () => Promise<string | undefined>, file: string): Promise<string | undefined> => {
      try {
        const value = await read();
        return value === undefined ? undefined : basename(value);
      } catch (err) {
        throw readError(file, err);
      }
    };
    const mostRecent = await pointer(() => instructions.mostRecent(group.name), layout.mostRecentFile(group.name));
    const lastSuccessful = await pointer(() => instructions.lastSuccessful(group.name), layout.lastSuccessfulFile(group.name));
    for (const d of await subdirectories(groupDir)) {
      const dir = layout.deploymentDir(group.name, d.name);
      const scriptsLog = layout.scriptsLog(dir);
      out.push({
        deploymentGroupId: group.name,
        deploymentId: d.name,
        dir,
        scriptsLog,
        dirMtimeMs: d.mtimeMs,
        scriptsLogMtimeMs: await mtimeOrUndefined(scriptsLog),
        ongoing: ongoing.has(d.name),
        mostRecent: mostRecent === d.name,
        lastSuccessful: lastSuccessful === d.name,
      });
    }
  }
  return out;
}

/** The time of a deployment's latest activity: its directory or its scripts.log, whichever is newer. */
export function activityMs(f: Pick<DeploymentFacts, 'dirMtimeMs' | 'scriptsLogMtimeMs'>): number {
  return Math.max(f.dirMtimeMs, f.scriptsLogMtimeMs ?? 0);
}

export function deploymentKey(f: { deploymentGroupId: string; deploymentId: string }): string {
  return `${f.deploymentGroupId}/${f.deploymentId}`;
}

export interface PickOptions {
  deploymentId?: string;
  groupId?: string;
}

/**
 * The deployment `logs` shows: the named one, or the one running now (a tracking file), or the
 * one with the latest activity; within --group when given. Ties go to the later id.
 */
export function pickDeployment(facts: readonly DeploymentFacts[], opts: PickOptions = {}): DeploymentFacts | undefined {
  const candidates = facts.filter(
    (f) =>
      (opts.groupId === undefined || f.deploymentGroupId === opts.groupId) &&
      (opts.deploymentId === undefined || f.deploymentId === opts.deploymentId),
  );
  return [...candidates].sort(newestFirst)[0];
}

function newestFirst(a: DeploymentFacts, b: DeploymentFacts): number {
  if (a.ongoing !== b.ongoing) return a.ongoing ? -1 : 1;
  const byTime = activityMs(b) - activityMs(a);
  if (byTime !== 0) return byTime;
  return byIdDescending(a, b);
}

/** Newest id first, by code unit (localeCompare would load ICU's collation data and vary by locale). */
function byIdDescending(a: { deploymentId: string }, b: { deploymentId: string }): number {
  return a.deploymentId < b.deploymentId ? 1 : a.deploymentId > b.deploymentId ? -1 : 0;
}

export type DeploymentResult = 'InProgress' | 'Succeeded' | 'Failed' | 'Unknown';

export interface DeploymentSummary {
  deploymentGroupId: string;
  deploymentId: string;
  result: DeploymentResult;
  /** The command running now, or the last one the agent completed. */
  lastCommand: string | null;
  /** The last "LifecycleEvent - X" of its scripts.log, when the caller read it. */
  lastEvent: string | null;
  /** For a failure: the failing script, CodeDeploy's error code and the message. */
  failedScript: string | null;
  errorCode: number | null;
  message: string | null;
  /** ISO 8601: the latest activity we know of. */
  updatedAt: string | null;
  /** This deployment's revision is the group's last successful install. */
  lastSuccessfulInstall: boolean;
  /** Where the result comes from: the daemon's status file, or only the files under root_dir. */
  source: 'agent' | 'files';
}

export interface SummarizeInput {
  facts: readonly DeploymentFacts[];
  recent: readonly CommandRecord[];
  running: readonly RunningCommandStatus[];
  /** Deployments kept per group, newest first (default 3). */
  perGroup?: number;
}

/** The last deployments per group with their result, groups sorted by their latest deployment. */
export function summarizeDeployments(input: SummarizeInput): DeploymentSummary[] {
  const perGroup = input.perGroup ?? 3;
  const byKey = new Map<
    string,
    { group: string; id: string; facts?: DeploymentFacts; records: CommandRecord[]; running?: RunningCommandStatus }
  >();
  const entry = (group: string, id: string) => {
    const key = deploymentKey({ deploymentGroupId: group, deploymentId: id });
    let e = byKey.get(key);
    if (!e) {
      e = { group, id, records: [] };
      byKey.set(key, e);
    }
    return e;
  };
  for (const f of input.facts) entry(f.deploymentGroupId, f.deploymentId).facts = f;
  for (const r of input.recent) entry(r.deploymentGroupId, r.deploymentId).records.push(r);
  for (const c of input.running) entry(c.deploymentGroupId, c.deploymentId).running = c;

  const summaries: Array<DeploymentSummary & { sortMs: number }> = [];
  for (const e of byKey.values()) {
    const records = [...e.records].sort((a, b) => Date.parse(a.endedAt) - Date.parse(b.endedAt));
    const last = records.at(-1);
    const failure = [...records].reverse().find((r) => r.status === 'Failed');
    const times = [
      e.facts ? activityMs(e.facts) : 0,
      last ? Date.parse(last.endedAt) : 0,
      e.running ? Date.parse(e.running.startedAt) : 0,
    ].filter((t) => Number.isFinite(t));
    const sortMs = Math.max(0, ...times);
    let result: DeploymentResult;
    if (e.running || e.facts?.ongoing) result = 'InProgress';
    else if (failure) result = 'Failed';
    else if (last) result = 'Succeeded';
    else result = 'Unknown';
    summaries.push({
      deploymentGroupId: e.group,
      deploymentId: e.id,
      result,
      lastCommand: e.running?.commandName ?? last?.commandName ?? null,
      lastEvent: null,
      failedScript: result === 'Failed' && failure ? failure.scriptName || null : null,
      errorCode: result === 'Failed' && failure ? failure.errorCode : null,
      message: result === 'Failed' && failure ? failure.message || null : null,
      updatedAt: sortMs > 0 ? new Date(sortMs).toISOString() : null,
      lastSuccessfulInstall: e.facts?.lastSuccessful ?? false,
      source: records.length > 0 || e.running ? 'agent' : 'files',
      sortMs,
    });
  }
  const groups = new Map<string, Array<DeploymentSummary & { sortMs: number }>>();
  for (const s of summaries) {
    const list = groups.get(s.deploymentGroupId) ?? [];
    list.push(s);
    groups.set(s.deploymentGroupId, list);
  }
  const ordered = [...groups.values()]
    .map((list) => list.sort((a, b) => b.sortMs - a.sortMs || byIdDescending(a, b)).slice(0, perGroup))
    .sort((a, b) => (b[0]?.sortMs ?? 0) - (a[0]?.sortMs ?? 0));
  return ordered.flat().map(({ sortMs: _sortMs, ...s }) => s);
}
