/**
 * The running agent, as `codedeploy-agent stop` and `restart` find it: the process that holds the
 * host lock <pid_dir>/<program_name>.lock (docs/design.md section 6), not merely the pid in the pid
 * file. A pid file left by a crash, or naming a pid another program now has, is never signalled.
 * Also: whether systemd runs that process as a unit's main process, whether a deployment is in
 * progress, and waiting for the process to exit.
 */
import { execFile } from 'node:child_process';
import { readdir, readFile, readlink, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { AgentConfig } from '../../config/agent-config.js';
import { probeFileLock, readLockHolder } from '../../../common/file-lock.js';
import { errnoCode, toError } from '../../../common/errors.js';
import { isPermissionError } from '../access.js';
import { pidFilePath, readStatusFile, statusFilePath } from '../../status/status-file.js';

export type AgentConfigForStop = Pick<AgentConfig, 'pidDir' | 'programName' | 'rootDir' | 'ongoingDeploymentTracking'>;

export type FoundAgent =
  { kind: 'none'; notes: string[] } | { kind: 'running'; pid: number; notes: string[] } | { kind: 'error'; message: string };

export interface ProcOptions {
  /** Default /proc (tests point it elsewhere). */
  procRoot?: string;
}

export function lockFilePath(pidDir: string, programName: string): string {
  return join(pidDir, `${programName}.lock`);
}

/** Whether `pid` exists and is not a zombie (an exited child its parent has not reaped yet). */
export async function processAlive(pid: number, procRoot = '/proc'): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if (errnoCode(err) !== 'EPERM') return false;
  }
  try {
    const statLine = await readFile(join(procRoot, String(pid), 'stat'), 'utf8');
    // "pid (comm) S ...": the state follows the last ')' (comm may hold parentheses).
    const state = statLine.slice(statLine.lastIndexOf(')') + 2, statLine.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return true;
  }
}

/** Does `pid` keep `file` open? undefined when /proc does not tell (another user's process, no /proc). */
async function holdsOpen(pid: number, file: string, procRoot: string): Promise<boolean | undefined> {
  let fds: string[];
  try {
    fds = await readdir(join(procRoot, String(pid), 'fd'));
  } catch {
    return undefined;
  }
  const target = resolve(file);
  for (const fd of fds) {
    if ((await readlink(join(procRoot, String(pid), 'fd', fd)).catch(() => '')) === target) return true;
  }
  return false;
}

async function commandLine(pid: number, procRoot: string): Promise<string | undefined> {
  try {
    return (await readFile(join(procRoot, String(pid), 'cmdline'), 'utf8')).replace(/\0/g, ' ').trim();
  } catch {
    return undefined;
  }
}

async function pidFromPidFile(path: string): Promise<number | undefined> {
  try {
    const text = (await readFile(path, 'utf8')).trim();
    return /^\d+$/.test(text) && Number(text) > 0 ? Number(text) : undefined;
  } catch {
    return undefined;
  }
}

/** The agent that holds this config's host lock, or why there is none, or why we cannot tell. */
export async function findRunningAgent(config: AgentConfigForStop, o: ProcOptions = {}): Promise<FoundAgent> {
  const procRoot = o.procRoot ?? '/proc';
  const lockPath = lockFilePath(config.pidDir, config.programName);
  const pidPath = pidFilePath(config.pidDir, config.programName);
  const notes: string[] = [];
  const filePid = await pidFromPidFile(pidPath);
  const staleNote = async (): Promise<void> => {
    if (filePid === undefined) return;
    notes.push(
      (await processAlive(filePid, procRoot))
        ? `the pid file ${pidPath} names pid ${filePid}, which is not the agent (its pid was reused): it was not signalled`
        : `the pid file ${pidPath} names pid ${filePid}, which no longer exists (the agent did not stop cleanly)`,
    );
  };

  try {
    await stat(lockPath);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') {
      await staleNote();
      return { kind: 'none', notes };
    }
    if (isPermissionError(err)) return { kind: 'error', message: `permission denied reading ${lockPath}; run with sudo` };
    return { kind: 'error', message: `cannot read ${lockPath}: ${toError(err).message}` };
  }
  const probe = await probeFileLock(lockPath);
  if (!probe) {
    try {
      await readFile(lockPath);
    } catch (err) {
      if (isPermissionError(err)) return { kind: 'error', message: `permission denied reading ${lockPath}; run with sudo` };
    }
    return { kind: 'error', message: `cannot tell whether ${lockPath} is locked (flock(1) from util-linux is needed)` };
  }
  if (!probe.held) {
    await staleNote();
    return { kind: 'none', notes };
  }
  const holder = probe.holder.pid !== undefined ? probe.holder : await readLockHolder(lockPath);
  const pid = holder.pid;
  if (pid === undefined)
    return { kind: 'error', message: `${lockPath} is locked, but names no pid (an agent starting right now?); try again in a moment` };
  if (!(await processAlive(pid, procRoot)))
    return { kind: 'error', message: `${lockPath} is locked, but the pid it names (${pid}) is gone; try again in a moment` };
  const holds = await holdsOpen(pid, lockPath, procRoot);
  if (holds === false)
    return {
      kind: 'error',
      message: `${lockPath} is locked, but process ${pid} it names does not hold it; not signalling anything (try again in a moment)`,
    };
  if (holds === undefined) {
    // Another user's process: /proc/<pid>/fd is closed to us, its command line is not.
    const cmdline = await commandLine(pid, procRoot);
    if (cmdline !== undefined && !cmdline.includes('codedeploy-agent') && !cmdline.includes(config.programName))
      return {
        kind: 'error',
        message: `process ${pid} named by ${lockPath} is not the agent (${cmdline.slice(0, 80)}); not signalling it`,
      };
  }
  if (filePid !== undefined && filePid !== pid)
    notes.push(`the pid file ${pidPath} names pid ${filePid}, but the agent holding the lock is pid ${pid}`);
  return { kind: 'running', pid, notes };
}

export interface SystemdUnit {
  /** The unit, e.g. codedeploy-agent.service. */
  unit: string;
  /** A unit of a user's service manager (systemctl --user). */
  user: boolean;
}

/** The unit a /proc/<pid>/cgroup text puts the process in (systemd's hierarchy, v2 or v1), if a service. */
export function serviceFromCgroup(text: string): SystemdUnit | undefined {
  for (const line of text.split('\n')) {
    const m = /^\d+:(name=systemd)?:(\/.*)$/.exec(line.trim());
    if (!m?.[2]) continue;
    if (m[1] === undefined && !line.startsWith('0::')) continue;
    const parts = m[2].split('/').filter(Boolean);
    const unit = [...parts].reverse().find((p) => p.endsWith('.service'));
    if (unit && parts.at(-1) === unit) return { unit, user: parts.some((p) => p.startsWith('user@')) };
  }
  return undefined;
}

export interface SystemdOptions extends ProcOptions {
  /** The unit's main PID (systemctl show -p MainPID); undefined when systemctl cannot tell. */
  mainPid?: (unit: SystemdUnit) => Promise<number | undefined>;
}

/**
 * Whether systemd runs `pid` as a service: its cgroup is a `.service` (and, when systemctl answers,
 * `pid` is that unit's main process), or its environment has INVOCATION_ID (set by systemd for
 * every unit it starts). Undefined: not under systemd, as far as we can tell.
 */
export async function systemdServiceOf(pid: number, programName: string, o: SystemdOptions = {}): Promise<SystemdUnit | undefined> {
  const procRoot = o.procRoot ?? '/proc';
  const mainPid = o.mainPid ?? systemctlMainPid;
  const cgroup = await readFile(join(procRoot, String(pid), 'cgroup'), 'utf8').catch(() => '');
  const fromCgroup = serviceFromCgroup(cgroup);
  if (fromCgroup) {
    const main = await mainPid(fromCgroup);
    return main === undefined || main === pid ? fromCgroup : undefined;
  }
  const environ = await readFile(join(procRoot, String(pid), 'environ'), 'utf8').catch(() => '');
  if (environ.split('\0').some((v) => v.startsWith('INVOCATION_ID=') && v.length > 'INVOCATION_ID='.length))
    return { unit: `${programName}.service`, user: false };
  return undefined;
}

function systemctlMainPid(unit: SystemdUnit): Promise<number | undefined> {
  return new Promise((resolvePid) => {
    const args = [...(unit.user ? ['--user'] : []), 'show', '--property=MainPID', '--value', unit.unit];
    execFile('systemctl', args, { timeout: 5000 }, (error, stdout) => {
      const n = Number(String(stdout).trim());
      resolvePid(!error && Number.isSafeInteger(n) && n > 0 ? n : undefined);
    });
  });
}

/** How the operator stops or restarts the unit instead ("sudo systemctl stop codedeploy-agent"). */
export function systemctlCommand(verb: 'stop' | 'restart', unit: SystemdUnit): string {
  const name = unit.unit.replace(/\.service$/, '');
  return unit.user ? `systemctl --user ${verb} ${name}` : `sudo systemctl ${verb} ${name}`;
}

/** A fresh tracking file is younger than this (the official agent's limit). */
const TRACKING_FRESH_MS = 24 * 3600 * 1000;

/**
 * What the agent `pid` is deploying now, in words, or undefined when nothing: the commands in its
 * status file (when the file is that process's), else fresh files in <root_dir>/<ongoing-deployment>/
 * (the official agent's test). Unreadable files count as nothing.
 */
export async function deploymentInProgress(config: AgentConfigForStop, pid: number, now = Date.now()): Promise<string | undefined> {
  const status = await readStatusFile(statusFilePath(config.pidDir, config.programName));
  if (status.kind === 'ok' && status.status.pid === pid && status.status.state !== 'stopped' && status.status.commands.length > 0) {
    return status.status.commands
      .map((c) => {
        const what = c.event ?? c.commandName;
        return `deployment ${c.deploymentId} (group ${c.deploymentGroupId}): ${what}${c.script ? `, script ${c.script}` : ''}`;
      })
      .join('; ');
  }
  const dir = join(config.rootDir, config.ongoingDeploymentTracking);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return undefined;
  }
  const fresh: string[] = [];
  for (const name of names) {
    const info = await stat(join(dir, name)).catch(() => undefined);
    if (info?.isFile() && now - info.mtimeMs < TRACKING_FRESH_MS) fresh.push(name);
  }
  if (fresh.length === 0) return undefined;
  const ids = fresh.filter((n) => !n.startsWith('polled-'));
  return `${fresh.length} command(s) in flight (${dir}${ids.length > 0 ? `: ${ids.join(', ')}` : ''})`;
}

/**
 * Waits until `pid` has exited, or `timeoutMs` has passed; calls `progress` every `progressMs`
 * with the seconds waited so far. Resolves true when it exited.
 */
export async function waitForExit(
  pid: number,
  timeoutMs: number,
  o: ProcOptions & { intervalMs?: number; progressMs?: number; progress?: (waitedSeconds: number) => Promise<void> | void } = {},
): Promise<boolean> {
  const started = Date.now();
  const interval = o.intervalMs ?? 200;
  let nextProgress = started + (o.progressMs ?? 10_000);
  for (;;) {
    if (!(await processAlive(pid, o.procRoot))) return true;
    const now = Date.now();
    if (now - started >= timeoutMs) return false;
    if (o.progress && now >= nextProgress) {
      nextProgress = now + (o.progressMs ?? 10_000);
      await o.progress(Math.round((now - started) / 1000));
    }
    await new Promise((r) => setTimeout(r, Math.min(interval, Math.max(1, timeoutMs - (now - started)))));
  }
}
