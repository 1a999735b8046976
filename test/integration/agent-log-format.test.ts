/**
 * The agent log as the real programs write it: `codedeploy-agent start` and `codedeploy-local`
 * (dist/ processes) write the official text line by default and JSON lines with :log_format: json.
 * The daemon runs with TZ=Asia/Kolkata (UTC+05:30 all year) to show the text time is local time.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { AGENT_CLI, startDaemonHost, type DaemonHost } from '../helpers/daemon-host.js';
import { FIXTURES, localHost } from '../helpers/local-deploy.js';
import { TEST_CREDENTIALS } from '../helpers/commands-server.js';
import { waitFor } from '../helpers/wait-for.js';

const execFileAsync = promisify(execFile);
const LOCAL_CLI = join(import.meta.dirname, '..', '..', 'dist', 'agent', 'cli', 'codedeploy-local.js');
const TEXT_LINE =
  /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d) (DEBUG|INFO |WARN |ERROR|FATAL) \[(codedeploy-agent|codedeploy-local)\((\d+)\)\]: (.*)$/;

const hosts: DaemonHost[] = [];
afterEach(async () => {
  for (const h of hosts.splice(0)) {
    await h.stop('SIGKILL');
    await h.server.close();
  }
});

/** Starts a daemon, waits until it polls, stops it (SIGTERM) and returns its log's lines and pid. */
async function daemonLog(extraConfig: string[]): Promise<{ lines: string[]; pid: number; started: number; stopped: number }> {
  const h = await startDaemonHost({ extraConfig });
  hosts.push(h);
  const file = join(h.logDir, 'codedeploy-agent.log');
  const started = Date.now();
  const child = h.start({ TZ: 'Asia/Kolkata' });
  await waitFor('the daemon to poll', async () => existsSync(file) && (await readFile(file, 'utf8')).includes('Polling for commands'), {
    timeoutMs: 20_000,
    details: () => h.stderr(),
  });
  expect(await h.stop()).toBe(0);
  const stopped = Date.now();
  const lines = (await readFile(file, 'utf8')).split('\n');
  expect(lines.pop()).toBe('');
  return { lines, pid: child.pid ?? -1, started, stopped };
}

describe.skipIf(!existsSync(AGENT_CLI) || !existsSync(LOCAL_CLI))('the agent log format', () => {
  it('codedeploy-agent.log is the official text line by default: local time, padded level, program(pid)', async () => {
    const { lines, pid, started, stopped } = await daemonLog([]);
    expect(lines.length).toBeGreaterThan(3);
    for (const line of lines) {
      const m = TEXT_LINE.exec(line);
      expect(m, line).not.toBeNull();
      expect(m?.[3]).toBe('codedeploy-agent');
      expect(Number(m?.[4])).toBe(pid);
      const at = Date.parse(`${m?.[1]}+05:30`);
      expect(at).toBeGreaterThanOrEqual(Math.floor(started / 1000) * 1000);
      expect(at).toBeLessThanOrEqual(stopped);
    }
    const messages = lines.map((l) => TEXT_LINE.exec(l)?.[5] ?? '');
    expect(messages[0]).toMatch(/^Starting codedeploy-agent \S+ version=\S+ config=\S+codedeployagent\.yml node=v\d+/);
    expect(messages[0]).not.toMatch(/ pid=/);
    expect(lines.some((l) => / INFO {2}\[codedeploy-agent\(\d+\)\]: Polling for commands hostIdentifier=arn:aws:iam::/.test(l))).toBe(true);
    // The last record before exit is not lost.
    expect(lines[lines.length - 1]).toMatch(/ INFO {2}\[codedeploy-agent\(\d+\)\]: Stopped$/);
    expect(lines.join('\n')).not.toContain(TEST_CREDENTIALS.secretAccessKey);
  }, 60_000);

  it('codedeploy-agent.log is JSON lines with :log_format: json: level labels, one pid, ISO time', async () => {
    const { lines, pid } = await daemonLog([':log_format: json']);
    const records = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    for (const [i, r] of records.entries()) {
      expect(lines[i]?.match(/"pid":/g)).toHaveLength(1);
      expect(r).toMatchObject({ pid, name: 'codedeploy-agent' });
      expect(['debug', 'info', 'warn', 'error', 'fatal']).toContain(r.level);
      expect(String(r.time)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    }
    expect(records[0]).toMatchObject({ level: 'info', msg: expect.stringMatching(/^Starting codedeploy-agent /) as unknown });
    expect(records[records.length - 1]).toMatchObject({ level: 'info', msg: 'Stopped' });
    expect(lines.join('\n')).not.toContain(TEST_CREDENTIALS.secretAccessKey);
  }, 60_000);

  it.each([
    ['text', []],
    ['json', [':log_format: json']],
  ] as const)(
    'codedeploy-local.log is %s',
    async (format, extra) => {
      const host = await localHost([...extra, ':verbose: true']);
      const out = await execFileAsync(
        process.execPath,
        [LOCAL_CLI, '-l', join(FIXTURES, 'sample-app'), '-t', 'directory', '-c', host.configFile],
        {
          cwd: host.root,
          env: { PATH: process.env.PATH ?? '/usr/bin:/bin', PROOF_FILE: host.proofFile },
        },
      );
      expect(out.stdout).toContain('Local deployment successful');
      const lines = (await readFile(join(host.root, 'log', 'codedeploy-local.log'), 'utf8')).trimEnd().split('\n');
      expect(lines.length).toBeGreaterThan(0);
      if (format === 'text') {
        for (const line of lines) expect(TEXT_LINE.exec(line)?.[3], line).toBe('codedeploy-local');
      } else {
        for (const line of lines)
          expect(JSON.parse(line)).toMatchObject({ name: 'codedeploy-local', level: expect.any(String) as unknown });
      }
    },
    60_000,
  );
});
