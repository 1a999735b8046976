/**
 * `codedeploy-agent logs --follow` against the real daemon: lines of a running hook reach the
 * follower within a second of being written, and it moves on to the next deployment with a header.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AGENT_CLI, localSpec, startDaemonHost, type DaemonHost } from '../helpers/daemon-host.js';

const EXEC = (d: string) => `CodeDeploy/us-east-1/Prod/arn:aws:sds:us-east-1:123456789012:deployment/${d}`;

/** A bundle whose BeforeInstall hook prints a line, sleeps, prints another (each with its write time in ns). */
async function printingBundle(root: string): Promise<string> {
  const dir = join(root, 'printing-bundle');
  await mkdir(join(dir, 'scripts'), { recursive: true });
  await writeFile(
    join(dir, 'appspec.yml'),
    'version: 0.0\nos: linux\nhooks:\n  BeforeInstall:\n    - location: scripts/print.sh\n      timeout: 30\n',
  );
  await writeFile(
    join(dir, 'scripts', 'print.sh'),
    '#!/bin/sh\necho "first $(date +%s%N)"\nsleep 1.5\necho "second $(date +%s%N)" >&2\nsleep 0.3\necho "third $(date +%s%N)"\n',
    { mode: 0o755 },
  );
  return dir;
}

interface Received {
  line: string;
  at: number;
}

function follow(
  h: DaemonHost,
  args: string[] = [],
): { child: ChildProcess; lines: Received[]; stderr: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [AGENT_CLI, 'logs', '--follow', '--config_file', h.configFile, ...args], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: Received[] = [];
  let partial = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => {
    const at = Date.now();
    const parts = (partial + d.toString()).split('\n');
    partial = parts.pop() ?? '';
    for (const line of parts) lines.push({ line, at });
  });
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return { child, lines, stderr: () => stderr, exited };
}

/** expect.poll options: what is awaited (named in the failure), checked every 20 ms for up to 20 s. */
const within = (message: string) => ({ message, timeout: 20_000, interval: 20 });

const hosts: DaemonHost[] = [];
const children: ChildProcess[] = [];
afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
  for (const h of hosts.splice(0)) {
    await h.stop('SIGKILL');
    await h.server.close();
  }
});

/** The delay between the hook writing a "<word> <ns>" line and the follower printing it. */
function latencyMs(r: Received): number {
  const ns = /(?:first|second|third) (\d{19})$/.exec(r.line)?.[1];
  if (!ns) throw new Error(`no timestamp in ${r.line}`);
  return r.at - Number(BigInt(ns) / 1_000_000n);
}

describe.skipIf(!existsSync(AGENT_CLI))('codedeploy-agent logs --follow', () => {
  it('streams a running hook within a second and switches to the next deployment with a header', async () => {
    const h = await startDaemonHost();
    hosts.push(h);
    const bundle = await printingBundle(h.root);
    h.specs.set(EXEC('d-LOGS00001'), localSpec('d-LOGS00001', 'dg-logs', bundle));
    h.specs.set(EXEC('d-LOGS00002'), localSpec('d-LOGS00002', 'dg-logs', bundle));
    h.start();
    const f = follow(h);
    children.push(f.child);
    const lastLines = () => f.lines.filter((l) => / \[stdout\]third \d+$/.test(l.line)).length;
    await expect.poll(f.stderr, within('the follower to start')).toContain('waiting for a deployment to start');

    const first = h.deploy(EXEC('d-LOGS00001'), ['DownloadBundle', 'BeforeInstall']);
    await expect.poll(lastLines, within("the first deployment's last line")).toBeGreaterThan(0);
    expect((await first).map((c) => (c.body as { CommandStatus: string }).CommandStatus)).toEqual(['Succeeded', 'Succeeded']);

    const second = h.deploy(EXEC('d-LOGS00002'), ['DownloadBundle', 'BeforeInstall']);
    await expect.poll(lastLines, within("the second deployment's last line")).toBe(2);
    await second;

    const text = f.lines.map((l) => l.line);
    const header1 = text.indexOf('==> d-LOGS00001 (group dg-logs) <==');
    const header2 = text.indexOf('==> d-LOGS00002 (group dg-logs) <==');
    expect(header1).toBe(0);
    expect(header2).toBeGreaterThan(header1);
    const outputOf = (from: number, to: number) =>
      text.slice(from + 1, to).map((l) => l.replace(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} /, '').replace(/ \d+$/, ''));
    const expected = ['LifecycleEvent - BeforeInstall', 'Script - scripts/print.sh', '[stdout]first', '[stderr]second', '[stdout]third'];
    expect(outputOf(header1, header2)).toEqual(expected);
    expect(outputOf(header2, text.length)).toEqual(expected);

    const timed = f.lines.filter((l) => /(first|second|third) \d{19}$/.test(l.line));
    expect(timed).toHaveLength(6);
    for (const r of timed) expect(latencyMs(r), r.line).toBeLessThan(1000);
    // "second" comes 1.5 s after "first": it was streamed, not read at the end.
    const [a, b] = timed;
    expect((b?.at ?? 0) - (a?.at ?? 0)).toBeGreaterThan(1000);

    f.child.kill('SIGINT');
    expect(await f.exited).toBe(0);
  }, 60_000);

  it('prints one deployment as JSON records without following', async () => {
    const h = await startDaemonHost();
    hosts.push(h);
    const bundle = await printingBundle(h.root);
    h.specs.set(EXEC('d-LOGSJSON1'), localSpec('d-LOGSJSON1', 'dg-json', bundle));
    h.start();
    await h.deploy(EXEC('d-LOGSJSON1'), ['DownloadBundle', 'BeforeInstall']);
    const out = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
      const child = spawn(process.execPath, [AGENT_CLI, 'logs', '--json', '--deployment', 'd-LOGSJSON1', '--config_file', h.configFile], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let stdout = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.on('close', (code) => resolve({ code, stdout }));
    });
    expect(out.code).toBe(0);
    const records = out.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(records.map((r) => [r.stream, r.event, r.script])).toEqual([
      ['event', 'BeforeInstall', null],
      ['script', 'BeforeInstall', 'scripts/print.sh'],
      ['stdout', 'BeforeInstall', 'scripts/print.sh'],
      ['stderr', 'BeforeInstall', 'scripts/print.sh'],
      ['stdout', 'BeforeInstall', 'scripts/print.sh'],
    ]);
    expect(records.every((r) => r.deploymentId === 'd-LOGSJSON1' && typeof r.time === 'string')).toBe(true);
    expect(String(records[3]?.message)).toMatch(/^second \d+$/);
  }, 30_000);
});
