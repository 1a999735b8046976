import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { findHookProcesses, processStartTime, readProcessTable, type ProcessInfo } from '../../../agent/hooks/process-tree.js';

/** Pids far above any real one (pid_max is at most 2^22), so /proc has no environ for them. */
const BASE = 5_000_000;

function proc(pid: number, ppid: number, pgrp: number, startTime = 100): ProcessInfo {
  return { pid, ppid, pgrp, startTime, state: 'S', comm: `p${pid}` };
}

function table(...procs: ProcessInfo[]): Map<number, ProcessInfo> {
  return new Map(procs.map((p) => [p.pid, p]));
}

const marker = { name: 'CODEDEPLOY_HOOK_RUN_ID', value: 'feedface' };

describe('findHookProcesses', () => {
  it('finds the group, the descendants of everything found, and followed processes by pid and starttime', async () => {
    const script = BASE + 1;
    const t = table(
      proc(script, 1, script),
      proc(BASE + 2, script, script), // in the group
      proc(BASE + 3, script, BASE + 3), // setsid child: a descendant
      proc(BASE + 4, BASE + 3, BASE + 3), // its child
      proc(BASE + 5, 1, BASE + 5), // orphan followed from an earlier scan
      proc(BASE + 6, BASE + 5, BASE + 5), // the orphan's child
      proc(BASE + 7, 1, BASE + 7, 999), // a reused pid: same number as a followed one, other starttime
      proc(BASE + 8, 1, BASE + 8), // unrelated
    );
    const known = new Map([
      [BASE + 5, 100],
      [BASE + 7, 100],
    ]);
    const found = await findHookProcesses({ pid: script, startTime: 100, marker, known }, t);
    expect([...found.keys()].sort()).toEqual([1, 2, 3, 4, 5, 6].map((n) => BASE + n));
  });

  it('never returns this process or PID 1, and ignores a reused script pid', async () => {
    const script = BASE + 1;
    const t = table(proc(1, 0, 1), proc(process.pid, 1, script), proc(script, 1, BASE + 9, 555));
    const found = await findHookProcesses({ pid: script, startTime: 100, marker, known: new Map() }, t);
    expect([...found.keys()]).toEqual([]);
  });

  it('finds a real process by the marker in its environment, and not one started before the script', async () => {
    const value = `test-${process.pid}-${Date.now()}`;
    const child = spawn('sleep', ['30'], { env: { PATH: process.env.PATH, [marker.name]: value }, stdio: 'ignore', detached: true });
    const pid = child.pid as number;
    try {
      await new Promise((r) => setTimeout(r, 100));
      const startTime = await processStartTime(pid);
      expect(startTime).toBeGreaterThan(0);
      const t = await readProcessTable();
      if (!t) throw new Error('no /proc');
      const query = { pid: BASE + 1, marker: { name: marker.name, value }, known: new Map<number, number>() };
      expect([...(await findHookProcesses({ ...query, startTime }, t)).keys()]).toEqual([pid]);
      expect([...(await findHookProcesses({ ...query, startTime: (startTime as number) + 1 }, t)).keys()]).toEqual([]);
      expect([...(await findHookProcesses({ ...query, marker: { name: marker.name, value: `${value}x` }, startTime }, t)).keys()]).toEqual(
        [],
      );
    } finally {
      child.kill('SIGKILL');
    }
  });
});
