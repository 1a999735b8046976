import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { groupAlive, groupMembers, parseStat, signalGroup } from '../../../agent/hooks/process-group.js';

describe('process-group', () => {
  it('parses /proc/<pid>/stat with spaces and parentheses in the command name', () => {
    const line = '7758 (my (odd) cmd) S 7706 4321 2478 0 -1 4194304 98 0 0 0 0 0 0 0 20 0 1 0 45076 3133440 411 18446744073709551615';
    expect(parseStat(line)).toEqual({ comm: 'my (odd) cmd', state: 'S', ppid: 7706, pgrp: 4321, startTime: 45076 });
    expect(parseStat('1234 (short) S 1 4321 4321')).toEqual({ comm: 'short', state: 'S', ppid: 1, pgrp: 4321, startTime: -1 });
    expect(parseStat('garbage')).toBeUndefined();
  });

  it('lists, signals and sees the end of a real process group', async () => {
    const child = spawn('sh', ['-c', 'sleep 30 & sleep 30'], { detached: true, stdio: 'ignore' });
    const pid = child.pid ?? 0;
    await new Promise((r) => setTimeout(r, 200));
    const members = await groupMembers(pid);
    expect(members?.map((m) => m.command).sort()).toEqual(['sh -c sleep 30 & sleep 30', 'sleep 30', 'sleep 30'].sort());
    expect(await groupAlive(pid)).toBe(true);
    expect(signalGroup(pid, 'SIGKILL')).toBe(true);
    await new Promise((r) => setTimeout(r, 200));
    expect(await groupAlive(pid)).toBe(false);
    expect(await groupMembers(pid)).toEqual([]);
  });

  it('reports a group that does not exist', () => {
    expect(signalGroup(2 ** 22 + 7, 0)).toBe(false);
  });
});
