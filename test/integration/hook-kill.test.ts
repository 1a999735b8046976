/**
 * What a hook leaves behind (issue 9 item 10): on a timeout or a cancellation everything the
 * script started is killed, including children that called setsid (left the process group) or
 * double-forked (left the process tree too); after a script that exits by itself its background
 * children keep running. Real scripts through runLifecycleEvent; the scripts write the pids of
 * their children to files, and the test checks those pids in /proc.
 */
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { buildHookEnvironment } from '../../agent/hooks/hook-env.js';
import { runLifecycleEvent } from '../../agent/hooks/lifecycle-event-runner.js';
import type { HookResult, LifecycleEventRequest } from '../../agent/hooks/types.js';
import { createScriptLogWriter } from '../../agent/log/scripts-log.js';
import type { HookScript } from '../../appspec/model.js';
import { silentLogger, tempDir } from '../helpers/temp.js';

const isRoot = process.getuid?.() === 0;
/** Pids the scripts left behind, killed after each test whatever it asserted. */
const leftovers: number[] = [];

afterEach(() => {
  for (const pid of leftovers.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone, as it should be
    }
  }
});

interface Run {
  result: HookResult;
  elapsedMs: number;
  outDir: string;
  scriptsLog: string;
  /** The pid a script wrote to <outDir>/<name>.pid (also queued for cleanup). */
  pid(name: string): Promise<number>;
}

/** Runs one script (body after "#!/bin/sh") as BeforeInstall; OUT_DIR is where it writes pid files. */
async function runHook(body: string, more: Partial<HookScript> = {}, extra: Partial<LifecycleEventRequest> = {}): Promise<Run> {
  const dir = await tempDir('cda-hook-kill-');
  const archiveDir = join(dir, 'deployment-archive');
  const outDir = join(dir, 'out');
  await mkdir(join(archiveDir, 'scripts'), { recursive: true });
  await mkdir(outDir);
  if (more.runas !== undefined) {
    await chmod(dir, 0o755);
    await chmod(outDir, 0o777);
  }
  await writeFile(join(archiveDir, 'scripts', 'hook.sh'), `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  const scriptsLog = join(dir, 'logs', 'scripts.log');
  const log = createScriptLogWriter({ scriptsLogPath: scriptsLog, deploymentId: 'd-KILLTEST1' });
  const script: HookScript = {
    location: 'scripts/hook.sh',
    sudo: false,
    timeoutSeconds: 1,
    where: { file: 'appspec.yml', path: 'hooks', line: 1, column: 1 },
    ...more,
  };
  const started = Date.now();
  let result: HookResult;
  try {
    result = await runLifecycleEvent({
      event: 'BeforeInstall',
      scripts: [script],
      archiveDir,
      env: buildHookEnvironment({
        baseEnv: { PATH: process.env.PATH ?? '/usr/bin:/bin', OUT_DIR: outDir },
        lifecycleEvent: 'BeforeInstall',
        deploymentId: 'd-KILLTEST1',
        applicationName: 'App',
        deploymentGroupName: 'Group',
        deploymentGroupId: 'dg-1',
      }),
      cwd: archiveDir,
      killGraceMs: 500,
      outputDrainMs: 300,
      log,
      logger: silentLogger(),
      ...extra,
    });
  } finally {
    await log.close();
  }
  const elapsedMs = Date.now() - started;
  return {
    result,
    elapsedMs,
    outDir,
    scriptsLog,
    async pid(name) {
      const pid = Number((await readFile(join(outDir, `${name}.pid`), 'utf8')).trim());
      expect(pid).toBeGreaterThan(1);
      leftovers.push(pid);
      return pid;
    },
  };
}

/** True when the pid exists and is not a zombie. */
async function running(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  if (stat === undefined) return false;
  return !/^\S+ \(.*\) [ZX] /.test(stat);
}

/** Waits until every named pid file exists (the script writes them as it starts its children). */
const WAIT_FOR_PIDS = (names: string[]): string =>
  `for f in ${names.map((n) => `"$OUT_DIR/${n}.pid"`).join(' ')}; do while [ ! -s "$f" ]; do sleep 0.05; done; done`;

/** The escapes: setsid (leaves the group, stays a child), a double fork (leaves group and tree), env -i (clears the marker but stays a child). */
const ESCAPING_CHILDREN = [
  'setsid sleep 300 >/dev/null 2>&1 &',
  'echo $! > "$OUT_DIR/setsid.pid"',
  `setsid sh -c 'sleep 300 >/dev/null 2>&1 & echo $! > "$OUT_DIR/double.pid"'`,
  'setsid env -i sleep 300 >/dev/null 2>&1 &',
  'echo $! > "$OUT_DIR/noenv.pid"',
  WAIT_FOR_PIDS(['setsid', 'double', 'noenv']),
].join('\n');

describe('killing what a hook started', () => {
  it('kills setsid, double-forked and env-cleared children on timeout (code 3)', async () => {
    const run = await runHook(`${ESCAPING_CHILDREN}\necho started\nsleep 300`);
    expect(run.result.errorCode).toBe(3);
    expect(run.result.message).toBe('Script at specified location: scripts/hook.sh failed to complete in 1 seconds');
    expect(run.elapsedMs).toBeLessThan(5000);
    for (const name of ['setsid', 'double', 'noenv']) {
      const pid = await run.pid(name);
      expect({ name, running: await running(pid) }).toEqual({ name, running: false });
    }
  });

  it('kills them when the command is cancelled (code 5)', async () => {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), 700);
    const run = await runHook(`${ESCAPING_CHILDREN}\nsleep 300`, { timeoutSeconds: 60 }, { signal: controller.signal });
    clearTimeout(timer);
    expect(run.result.errorCode).toBe(5);
    for (const name of ['setsid', 'double', 'noenv']) expect(await running(await run.pid(name))).toBe(false);
  });

  it('escalates to SIGKILL for an escaped child that ignores SIGTERM, and says so in scripts.log', async () => {
    const run = await runHook(
      [
        `setsid sh -c 'trap "" TERM; echo $$ > "$OUT_DIR/stubborn.pid"; while :; do sleep 1; done' >/dev/null 2>&1 &`,
        WAIT_FOR_PIDS(['stubborn']),
        'sleep 300',
      ].join('\n'),
    );
    expect(run.result.errorCode).toBe(3);
    const pid = await run.pid('stubborn');
    expect(await running(pid)).toBe(false);
    const log = await readFile(run.scriptsLog, 'utf8');
    expect(log).toMatch(
      new RegExp(
        `\\[agent\\]Sent SIGKILL to the process group of scripts/hook.sh and the processes it started \\(still running 500 ms after SIGTERM: .*${pid} \\(sh\\)`,
      ),
    );
  });

  it.skipIf(!isRoot)('kills the double-forked child of a runas hook (another uid)', async () => {
    const run = await runHook(`${ESCAPING_CHILDREN}\nsleep 300`, { runas: 'nobody' });
    expect(run.result.errorCode).toBe(3);
    for (const name of ['setsid', 'double', 'noenv']) expect(await running(await run.pid(name))).toBe(false);
  });

  it('leaves the background children of a script that exits 0 running (ApplicationStart servers)', async () => {
    const run = await runHook(
      [
        'setsid sleep 300 >/dev/null 2>&1 &',
        'echo $! > "$OUT_DIR/server.pid"',
        'sleep 300 >/dev/null 2>&1 &',
        'echo $! > "$OUT_DIR/plain.pid"',
        WAIT_FOR_PIDS(['server', 'plain']),
        'exit 0',
      ].join('\n'),
      { timeoutSeconds: 30 },
    );
    expect(run.result.errorCode).toBe(0);
    await new Promise((r) => setTimeout(r, 300));
    expect(await running(await run.pid('server'))).toBe(true);
    expect(await running(await run.pid('plain'))).toBe(true);
  });

  it('does not reach a process that both left the tree and cleared its environment (the documented limit)', async () => {
    const run = await runHook(
      [
        `setsid env -i sh -c 'sleep 300 >/dev/null 2>&1 & echo $! > "$1"' sh "$OUT_DIR/escaped.pid"`,
        WAIT_FOR_PIDS(['escaped']),
        'sleep 300',
      ].join('\n'),
    );
    expect(run.result.errorCode).toBe(3);
    expect(await running(await run.pid('escaped'))).toBe(true);
  });

  it('gives each script run its own CODEDEPLOY_HOOK_RUN_ID and ignores an inherited one', async () => {
    const body = 'echo "$CODEDEPLOY_HOOK_RUN_ID" > "$OUT_DIR/run-id.txt"';
    const first = await runHook(body, { timeoutSeconds: 30 });
    const second = await runHook(body, { timeoutSeconds: 30 });
    const ids = await Promise.all([first, second].map(async (r) => (await readFile(join(r.outDir, 'run-id.txt'), 'utf8')).trim()));
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{24}$/);
    expect(ids[0]).not.toBe(ids[1]);
    const env = buildHookEnvironment({
      baseEnv: { CODEDEPLOY_HOOK_RUN_ID: 'inherited' },
      lifecycleEvent: 'BeforeInstall',
      deploymentId: 'd-1',
      applicationName: 'a',
      deploymentGroupName: 'g',
      deploymentGroupId: 'dg',
    });
    expect(env.CODEDEPLOY_HOOK_RUN_ID).toBeUndefined();
  });
});
