import { appendFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { runLogs } from '../../../../agent/cli/logs-command.js';
import { NoDeploymentError, streamDeploymentLogs } from '../../../../agent/ops/logs/log-follower.js';
import { tempDir } from '../../../helpers/temp.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function root(): Promise<string> {
  return join(await tempDir(), 'deployment-root');
}

async function writeLog(rootDir: string, group: string, id: string, text: string, append = false): Promise<void> {
  const dir = join(rootDir, group, id, 'logs');
  await mkdir(dir, { recursive: true });
  await (append ? appendFile : writeFile)(join(dir, 'scripts.log'), text);
}

function until(check: () => boolean, ms = 3000): Promise<void> {
  return vi.waitFor(
    () => {
      if (!check()) throw new Error('condition not met in time');
    },
    { timeout: ms, interval: 10 },
  );
}

describe('streamDeploymentLogs', () => {
  it('prints the most recent deployment once, with its unterminated last line', async () => {
    const r = await root();
    await writeLog(r, 'dg-1', 'd-OLD', '2024-01-01 00:00:00 [stdout]old\n');
    await sleep(20);
    await writeLog(r, 'dg-1', 'd-NEW', '2024-01-01 00:00:01 [stdout]new\n2024-01-01 00:00:02 [stdout]partial');
    const out: string[] = [];
    await streamDeploymentLogs({
      rootDir: r,
      follow: false,
      onHeader: () => void out.push('HEADER'),
      onLines: (l, ref) => void out.push(...l.map((x) => `${ref.deploymentId}:${x}`)),
      onNotice: () => undefined,
    });
    expect(out).toEqual(['d-NEW:2024-01-01 00:00:01 [stdout]new', 'd-NEW:2024-01-01 00:00:02 [stdout]partial']);
  });

  it('names what it did not find', async () => {
    const r = await root();
    const opts = { rootDir: r, follow: false, onHeader: () => undefined, onLines: () => undefined, onNotice: () => undefined };
    await expect(streamDeploymentLogs(opts)).rejects.toThrow(new NoDeploymentError(`no deployments under ${r}`));
    await writeLog(r, 'dg-1', 'd-1', 'x\n');
    await expect(streamDeploymentLogs({ ...opts, deploymentId: 'd-2', groupId: 'dg-1' })).rejects.toThrow(
      `no deployment d-2 under ${r} in deployment group dg-1`,
    );
  });

  it('follows new lines and moves on to each new deployment with a header, across groups', async () => {
    const r = await root();
    await writeLog(r, 'dg-1', 'd-1', 'a1\n');
    const events: string[] = [];
    const controller = new AbortController();
    const done = streamDeploymentLogs({
      rootDir: r,
      follow: true,
      signal: controller.signal,
      pollMs: 20,
      scanMs: 40,
      onHeader: (ref) => void events.push(`==> ${ref.deploymentId}`),
      onLines: (lines, ref) => void events.push(...lines.map((l) => `${ref.deploymentId}:${l}`)),
      onNotice: (t) => void events.push(`notice:${t}`),
    });
    await until(() => events.includes('d-1:a1'));
    await writeLog(r, 'dg-1', 'd-1', 'a2\n', true);
    await until(() => events.includes('d-1:a2'));
    await mkdir(join(r, 'dg-1', 'd-2'), { recursive: true }); // DownloadBundle of the next deployment
    await until(() => events.includes('==> d-2'));
    await writeLog(r, 'dg-1', 'd-2', 'b1\n');
    await until(() => events.includes('d-2:b1'));
    await writeLog(r, 'dg-2', 'd-3', 'c1\n'); // another group, in parallel
    await until(() => events.includes('d-3:c1'));
    await writeLog(r, 'dg-1', 'd-2', 'b2\n', true);
    await until(() => events.includes('d-2:b2'));
    controller.abort();
    await done;
    expect(events).toEqual(['==> d-1', 'd-1:a1', 'd-1:a2', '==> d-2', 'd-2:b1', '==> d-3', 'd-3:c1', '==> d-2', 'd-2:b2']);
  });

  it('waits for a deployment when there is none yet', async () => {
    const r = await root();
    const events: string[] = [];
    const controller = new AbortController();
    const done = streamDeploymentLogs({
      rootDir: r,
      follow: true,
      signal: controller.signal,
      pollMs: 20,
      scanMs: 40,
      onHeader: (ref) => void events.push(`==> ${ref.deploymentId}`),
      onLines: (lines) => void events.push(...lines),
      onNotice: (t) => void events.push(t),
    });
    await until(() => events.length > 0);
    expect(events[0]).toBe(`waiting for a deployment to start (no deployments under ${r} yet)`);
    await writeLog(r, 'dg-1', 'd-9', 'hello\n');
    await until(() => events.includes('hello'));
    controller.abort();
    await done;
    expect(events.slice(1)).toEqual(['==> d-9', 'hello']);
  });
});

describe('codedeploy-agent logs (in-process)', () => {
  async function host(): Promise<{ rootDir: string; config: string }> {
    const dir = await tempDir();
    const rootDir = join(dir, 'deployment-root');
    const config = join(dir, 'codedeployagent.yml');
    await writeFile(config, `:root_dir: ${rootDir}\n:pid_dir: ${join(dir, 'pid')}\n`);
    return { rootDir, config };
  }
  const run = async (args: string[], env: NodeJS.ProcessEnv = {}, isTTY = false) => {
    let stdout = '';
    let stderr = '';
    const code = await runLogs(args, { stdout: (s) => (stdout += s), stderr: (s) => (stderr += s) }, env, {
      isTTY,
      signal: new AbortController().signal,
      waitDrain: () => Promise.resolve(),
    });
    return { code, stdout, stderr };
  };
  const LOG =
    '2024-05-01 12:00:01 LifecycleEvent - BeforeInstall\n2024-05-01 12:00:01 Script - s.sh\n2024-05-01 12:00:02 [stdout]out\n2024-05-01 12:00:03 [stderr]err\n';

  it('prints the file, JSON records, and red [stderr] lines only on a TTY without NO_COLOR', async () => {
    const h = await host();
    await writeLog(h.rootDir, 'dg-1', 'd-1', LOG);
    expect(await run(['--config_file', h.config])).toEqual({ code: 0, stdout: LOG, stderr: '' });
    const json = await run(['--config_file', h.config, '--json', '--deployment', 'd-1']);
    const records = json.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(records[3]).toEqual({
      time: expect.stringMatching(/^2024-05-01T12:00:03/),
      deploymentId: 'd-1',
      event: 'BeforeInstall',
      script: 's.sh',
      stream: 'stderr',
      message: 'err',
    });
    const tty = await run(['--config_file', h.config], {}, true);
    expect(tty.stdout).toContain('\u001b[31m2024-05-01 12:00:03 [stderr]err\u001b[0m\n');
    expect(tty.stdout).toContain('2024-05-01 12:00:02 [stdout]out\n');
    expect((await run(['--config_file', h.config], { NO_COLOR: '1' }, true)).stdout).toBe(LOG);
  });

  it('exits 1 with a clear message when there is nothing to show, 2 on usage errors', async () => {
    const h = await host();
    expect(await run(['--config_file', h.config, '--deployment', 'd-NOPE'])).toEqual({
      code: 1,
      stdout: '',
      stderr: `codedeploy-agent logs: no deployment d-NOPE under ${h.rootDir}\n`,
    });
    expect((await run(['--config_file', h.config, '--group', '../etc'])).code).toBe(2);
    expect((await run(['--bogus'])).code).toBe(2);
    expect((await run(['--config_file', join(h.rootDir, 'missing.yml')])).stderr).toContain('does not exist or is not readable');
  });
});
