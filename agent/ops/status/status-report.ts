/**
 * `codedeploy-agent status`: whether the daemon runs, who it is, what it does now and how the last
 * deployments per group went. gatherStatus() reads (pid file, status file, /proc, root_dir);
 * buildStatusReport() and formatStatus() are pure.
 *
 * "Running" needs three things to agree, so a stale pid file is called stale: the pid file names a
 * pid, that process exists (kill(pid, 0); EPERM also means it exists, owned by another user), and
 * its command line is the agent's (when /proc tells; a reused pid is not the agent). The status
 * file fills in the rest only when its pid is that pid, including a running DownloadBundle's
 * progress ("DownloadBundle: 412.0 MiB of 1.2 GiB (34 %), 85.0 MiB/s").
 */
import { open, readFile } from 'node:fs/promises';
import type { AgentConfig } from '../../config/agent-config.js';
import { errnoCode, toError } from '../../../common/errors.js';
import { formatScriptsLogTime } from '../../log/log-time.js';
import { describeProgress } from '../../bundle/download-progress.js';
import { isPermissionError, OpsReadError } from '../access.js';
import { scanDeployments, summarizeDeployments, type DeploymentFacts, type DeploymentSummary } from '../deployment-history.js';
import { lastLifecycleEvent } from '../logs/scripts-log-parser.js';
import { pidFilePath, readStatusFile, statusFilePath, type DaemonStatus, type StatusFileRead } from '../../status/status-file.js';

export type DaemonState = 'running' | 'stopping' | 'not-running' | 'stale-pid';

export interface CurrentCommand {
  deploymentId: string;
  deploymentGroupId: string;
  command: string;
  event: string | null;
  script: string | null;
  startedAt: string;
  elapsedSeconds: number;
  scriptElapsedSeconds: number | null;
  /** The bundle download under way: bytes so far, total when known, percent, rate; else null. */
  download: { bytes: number; totalBytes: number | null; percent: number | null; bytesPerSecond: number; updatedAt: string } | null;
}

export interface StatusReport {
  running: boolean;
  state: DaemonState;
  pid: number | null;
  pidFile: string;
  statusFile: string;
  startedAt: string | null;
  uptimeSeconds: number | null;
  version: string | null;
  identity: { kind: string; hostIdentifier: string; region: string } | null;
  endpoint: string | null;
  currentCommands: CurrentCommand[];
  deployments: DeploymentSummary[];
  /** False when root_dir could not be read (deployments then come from the status file only). */
  deploymentsReadable: boolean;
  notes: string[];
}

export type PidProbe =
  | { kind: 'missing' }
  | { kind: 'unreadable'; message: string }
  | { kind: 'invalid'; text: string }
  | { kind: 'pid'; pid: number; alive: boolean; isAgent: boolean | undefined };

export interface StatusFacts {
  pidFile: string;
  statusFile: string;
  pid: PidProbe;
  status: StatusFileRead;
  deployments: DeploymentFacts[] | { error: string };
  /** deploymentGroupId/deploymentId -> last LifecycleEvent in its scripts.log. */
  lastEvents: Map<string, string>;
}

/** Does `pid` exist, and is it this agent? */
export async function probePid(pid: number, programName: string): Promise<{ alive: boolean; isAgent: boolean | undefined }> {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if (errnoCode(err) !== 'EPERM') return { alive: false, isAgent: undefined };
  }
  try {
    const cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).replace(/\0/g, ' ');
    return { alive: true, isAgent: cmdline.includes('codedeploy-agent') || cmdline.includes(programName) };
  } catch {
    return { alive: true, isAgent: undefined };
  }
}

async function readPid(path: string, programName: string): Promise<PidProbe> {
  let text: string;
  try {
    text = (await readFile(path, 'utf8')).trim();
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return { kind: 'missing' };
    return {
      kind: 'unreadable',
      message: isPermissionError(err) ? `permission denied reading ${path}; run with sudo` : `cannot read ${path}: ${toError(err).message}`,
    };
  }
  if (!/^\d+$/.test(text) || Number(text) <= 0) return { kind: 'invalid', text: text.slice(0, 40) };
  const pid = Number(text);
  return { kind: 'pid', pid, ...(await probePid(pid, programName)) };
}

/** The last 16 KiB of a file (enough to find the last LifecycleEvent line in most logs). */
async function readTail(path: string, bytes = 16 * 1024): Promise<string | undefined> {
  try {
    const handle = await open(path, 'r');
    try {
      const { size } = await handle.stat();
      const start = Math.max(0, size - bytes);
      const buffer = Buffer.alloc(size - start);
      await handle.read(buffer, 0, buffer.length, start);
      return buffer.toString('utf8');
    } finally {
      await handle.close();
    }
  } catch {
    return undefined;
  }
}

export async function gatherStatus(
  config: Pick<AgentConfig, 'pidDir' | 'programName' | 'rootDir' | 'ongoingDeploymentTracking'>,
): Promise<StatusFacts> {
  const pidFile = pidFilePath(config.pidDir, config.programName);
  const statusFile = statusFilePath(config.pidDir, config.programName);
  const [pid, status] = await Promise.all([readPid(pidFile, config.programName), readStatusFile(statusFile)]);
  let deployments: StatusFacts['deployments'];
  try {
    deployments = await scanDeployments(config.rootDir, { trackingName: config.ongoingDeploymentTracking });
  } catch (err) {
    deployments = { error: err instanceof OpsReadError ? err.message : toError(err).message };
  }
  const lastEvents = new Map<string, string>();
  if (Array.isArray(deployments)) {
    // Only the deployments the report shows get their scripts.log read.
    const recent = status.kind === 'ok' ? status.status.recent : [];
    const shown = summarizeDeployments({ facts: deployments, recent, running: [] });
    for (const s of shown) {
      const f = deployments.find((d) => d.deploymentId === s.deploymentId && d.deploymentGroupId === s.deploymentGroupId);
      if (!f || f.scriptsLogMtimeMs === undefined) continue;
      const text = await readTail(f.scriptsLog);
      const event = text === undefined ? undefined : lastLifecycleEvent(text);
      if (event) lastEvents.set(`${f.deploymentGroupId}/${f.deploymentId}`, event);
    }
  }
  return { pidFile, statusFile, pid, status, deployments, lastEvents };
}

const seconds = (fromIso: string, now: Date): number => Math.max(0, Math.round((now.getTime() - Date.parse(fromIso)) / 1000));

export function buildStatusReport(facts: StatusFacts, now: Date): StatusReport {
  const notes: string[] = [];
  let state: DaemonState = 'not-running';
  let pid: number | null = null;
  const p = facts.pid;
  if (p.kind === 'pid') {
    pid = p.pid;
    if (!p.alive) {
      state = 'stale-pid';
      notes.push(`stale pid file ${facts.pidFile}: process ${p.pid} does not exist (the agent did not stop cleanly)`);
    } else if (p.isAgent === false) {
      state = 'stale-pid';
      notes.push(`stale pid file ${facts.pidFile}: process ${p.pid} is not the agent (its pid was reused)`);
    } else {
      state = 'running';
    }
  } else if (p.kind === 'unreadable') {
    notes.push(p.message);
  } else if (p.kind === 'invalid') {
    notes.push(`the pid file ${facts.pidFile} holds no pid ("${p.text}")`);
  }

  let daemon: DaemonStatus | undefined;
  const s = facts.status;
  if (s.kind === 'ok') daemon = s.status;
  else if (s.kind === 'unreadable')
    notes.push(
      s.errno === 'EACCES' || s.errno === 'EPERM'
        ? `permission denied reading ${facts.statusFile}; run with sudo`
        : `cannot read ${facts.statusFile}: ${s.error}`,
    );
  else if (s.kind === 'invalid') notes.push(s.error);

  const live = state === 'running' && daemon !== undefined && daemon.pid === pid && daemon.state !== 'stopped';
  if (state === 'running' && daemon && !live)
    notes.push(`the status file ${facts.statusFile} is from another run of the agent (pid ${daemon.pid})`);
  if (live && daemon?.state === 'stopping') state = 'stopping';

  const currentCommands: CurrentCommand[] =
    live && daemon
      ? daemon.commands.map((c) => ({
          deploymentId: c.deploymentId,
          deploymentGroupId: c.deploymentGroupId,
          command: c.commandName,
          event: c.event ?? (c.commandName === 'DownloadBundle' || c.commandName === 'Install' ? c.commandName : null),
          script: c.script,
          startedAt: c.startedAt,
          elapsedSeconds: seconds(c.startedAt, now),
          scriptElapsedSeconds: c.scriptStartedAt ? seconds(c.scriptStartedAt, now) : null,
          download: c.download ?? null,
        }))
      : [];

  let deployments: DeploymentSummary[] = [];
  if (Array.isArray(facts.deployments)) {
    deployments = summarizeDeployments({
      facts: facts.deployments,
      recent: daemon?.recent ?? [],
      running: live && daemon ? daemon.commands : [],
    });
  } else {
    notes.push(`deployments under the root directory: ${facts.deployments.error}`);
    if (daemon) deployments = summarizeDeployments({ facts: [], recent: daemon.recent, running: live ? daemon.commands : [] });
  }
  deployments = deployments.map((d) => ({ ...d, lastEvent: facts.lastEvents.get(`${d.deploymentGroupId}/${d.deploymentId}`) ?? null }));

  return {
    running: state === 'running' || state === 'stopping',
    state,
    pid,
    pidFile: facts.pidFile,
    statusFile: facts.statusFile,
    startedAt: live && daemon ? daemon.startedAt : null,
    uptimeSeconds: live && daemon ? seconds(daemon.startedAt, now) : null,
    version: live && daemon ? daemon.version : null,
    identity: live && daemon ? { kind: daemon.identityKind, hostIdentifier: daemon.hostIdentifier, region: daemon.region } : null,
    endpoint: live && daemon ? daemon.endpoint : null,
    currentCommands,
    deployments,
    deploymentsReadable: Array.isArray(facts.deployments),
    notes,
  };
}

export function formatDuration(totalSeconds: number): string {
  const s = Math.max(0, Math.round(totalSeconds));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h ${m % 60}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

/** Left-aligned columns separated by two spaces. */
export function alignColumns(rows: string[][]): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) =>
    row
      .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd(),
  );
}

export function formatStatus(r: StatusReport, programName: string): string {
  const out: string[] = [];
  if (r.state === 'running' || r.state === 'stopping') {
    const bits = [`pid ${r.pid}`];
    if (r.uptimeSeconds !== null) bits.push(`up ${formatDuration(r.uptimeSeconds)}`);
    if (r.version) bits.push(`version ${r.version}`);
    out.push(`${programName}: ${r.state === 'stopping' ? 'stopping' : 'running'} (${bits.join(', ')})`);
  } else if (r.state === 'stale-pid') {
    out.push(`${programName}: not running (stale pid file ${r.pidFile}, pid ${r.pid})`);
  } else {
    out.push(`${programName}: not running`);
  }
  const rows: string[][] = [];
  if (r.identity) rows.push(['  identity', `${r.identity.kind} ${r.identity.hostIdentifier}`], ['  region', r.identity.region]);
  if (r.endpoint) rows.push(['  endpoint', r.endpoint]);
  if (r.running && r.identity) {
    if (r.currentCommands.length === 0) rows.push(['  command', 'none (polling for commands)']);
    for (const c of r.currentCommands) {
      const what = c.script
        ? `${c.event ?? c.command}: ${c.script}, running ${formatDuration(c.scriptElapsedSeconds ?? 0)}`
        : c.download
          ? `${c.event ?? c.command}: ${describeProgress(c.download)}, running ${formatDuration(c.elapsedSeconds)}`
          : `${c.event ?? c.command}, running ${formatDuration(c.elapsedSeconds)}`;
      rows.push(['  command', `${c.deploymentId} (group ${c.deploymentGroupId}) ${what}`]);
    }
  }
  out.push(...alignColumns(rows));
  if (r.deployments.length > 0) {
    out.push('', 'Last deployments:');
    const table = [['  GROUP', 'DEPLOYMENT', 'RESULT', 'LAST', 'UPDATED']];
    const details: Map<number, string> = new Map();
    r.deployments.forEach((d, i) => {
      const last = d.lastCommand ?? d.lastEvent ?? '-';
      const result = d.result === 'Unknown' && d.lastSuccessfulInstall ? 'Unknown (installed)' : d.result;
      table.push([
        `  ${d.deploymentGroupId}`,
        d.deploymentId,
        result,
        last,
        d.updatedAt ? formatScriptsLogTime(new Date(d.updatedAt)) : '-',
      ]);
      if (d.result === 'Failed') {
        const script = d.failedScript ? `${d.failedScript}: ` : '';
        details.set(i + 1, `      ${script}${d.message ?? 'failed'}${d.errorCode !== null ? ` (error code ${d.errorCode})` : ''}`);
      }
    });
    alignColumns(table).forEach((line, i) => {
      out.push(line);
      const detail = details.get(i);
      if (detail) out.push(detail);
    });
  } else if (r.deploymentsReadable) {
    out.push('', 'No deployments on this host yet.');
  }
  for (const note of r.notes) out.push(`note: ${note}`);
  return `${out.join('\n')}\n`;
}
