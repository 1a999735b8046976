/**
 * Process-group helpers for hook scripts, each of which runs as the leader of its own group.
 *
 * "Alive" ignores zombies: where PID 1 does not reap orphans (some containers), an exited
 * grandchild stays a zombie in the group forever, and kill(-pgid, 0) would still succeed.
 * Members are found by scanning /proc (Linux); without /proc we fall back to kill(-pgid, 0).
 */
import { readdir, readFile } from 'node:fs/promises';
import { errnoCode } from '../../common/errors.js';

export interface GroupMember {
  pid: number;
  /** The command line (arguments joined by spaces), or the kernel's short name. */
  command: string;
}

/** Signal every process of the group. False when the group has no process left. */
export function signalGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch (err) {
    if (errnoCode(err) === 'ESRCH') return false;
    // EPERM: some members run as another user (sudo); whoever we could reach was signalled.
    return errnoCode(err) === 'EPERM';
  }
}

/** The live (non-zombie) processes of a process group; undefined when /proc cannot be read. */
export async function groupMembers(pgid: number, limit = 16): Promise<GroupMember[] | undefined> {
  let names: string[];
  try {
    names = await readdir('/proc');
  } catch {
    return undefined;
  }
  const members: GroupMember[] = [];
  for (const name of names) {
    if (members.length >= limit) break;
    if (!/^\d+$/.test(name)) continue;
    const stat = await readFile(`/proc/${name}/stat`, 'utf8').catch(() => undefined);
    if (stat === undefined) continue;
    const parsed = parseStat(stat);
    if (!parsed || parsed.pgrp !== pgid || parsed.state === 'Z' || parsed.state === 'X') continue;
    const cmdline = await readFile(`/proc/${name}/cmdline`, 'utf8').catch(() => '');
    const command =
      cmdline
        .split('\0')
        .filter((a) => a.length > 0)
        .join(' ') || parsed.comm;
    members.push({ pid: Number(name), command: command.length > 200 ? `${command.slice(0, 200)}…` : command });
  }
  return members;
}

/** True while any non-zombie process of the group exists. */
export async function groupAlive(pgid: number): Promise<boolean> {
  const members = await groupMembers(pgid, 1);
  if (members === undefined) return signalGroup(pgid, 0);
  return members.length > 0;
}

export interface StatFields {
  comm: string;
  state: string;
  ppid: number;
  pgrp: number;
  /** Clock ticks after boot at which the process started: with the pid, it names one process. */
  startTime: number;
}

/** "pid (comm) state ppid pgrp … starttime(22nd) …": comm may hold spaces and parentheses, so parse after the last ")". */
export function parseStat(stat: string): StatFields | undefined {
  const open = stat.indexOf('(');
  const close = stat.lastIndexOf(')');
  if (open < 0 || close < open) return undefined;
  const fields = stat.slice(close + 2).split(' ');
  const state = fields[0];
  const ppid = Number(fields[1]);
  const pgrp = Number(fields[2]);
  // Field 22 of the whole line; fields[0] is field 3. Absent in truncated test input: then NaN -> -1.
  const startTime = Number(fields[19]);
  if (state === undefined || !Number.isInteger(pgrp) || !Number.isInteger(ppid)) return undefined;
  return { comm: stat.slice(open + 1, close), state, ppid, pgrp, startTime: Number.isInteger(startTime) ? startTime : -1 };
}
