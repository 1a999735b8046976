/**
 * The hook runner against real processes: fixture scripts from test/fixtures/scripts are copied
 * into a per-test revision directory and run through runLifecycleEvent, with scripts.log and the
 * deployments log written to the same temp directory.
 */
import { execFile, spawn } from 'node:child_process';
import { chmod, copyFile, mkdir, open, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Logger } from 'pino';
import { describe, expect, it } from 'vitest';
import { groupMembers } from '../../agent/hooks/process-group.js';
import { buildHookEnvironment } from '../../agent/hooks/hook-env.js';
import { runLifecycleEvent } from '../../agent/hooks/lifecycle-event-runner.js';
import type { HookResult, LifecycleEventRequest } from '../../agent/hooks/types.js';
import { createDeploymentsLog } from '../../agent/log/deployments-log.js';
import { createScriptLogWriter } from '../../agent/log/scripts-log.js';
import type { HookScript } from '../../appspec/model.js';
import { AGENT_NODE_FLAGS } from '../helpers/agent-node-flags.js';
import { captureLogger, silentLogger, tempDir } from '../helpers/temp.js';

const run = promisify(execFile);
const FIXTURES = fileURLToPath(new URL('../fixtures/scripts/', import.meta.url));
const REPO = fileURLToPath(new URL('../../', import.meta.url));
const TS_LINE = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} /;
const isRoot = process.getuid?.() === 0;

interface Fixture {
  dir: string;
  archiveDir: string;
  outDir: string;
  scriptsLog: string;
  deploymentsLogPath: string;
  /** Runs the event, closes the writers, and returns the result. */
  run(scripts: HookScript[], extra?: Partial<LifecycleEventRequest>): Promise<HookResult>;
  scriptsLogLines(): Promise<string[]>;
  deploymentsLogLines(): Promise<string[]>;
}

function script(location: string, more: Partial<HookScript> = {}): HookScript {
  return { location, sudo: false, timeoutSeconds: 30, where: { file: 'appspec.yml', path: 'hooks', line: 1, column: 1 }, ...more };
}

/** A revision directory with the named fixture scripts under scripts/. */
async function fixture(files: string[], logger: Logger = silentLogger()): Promise<Fixture> {
  const dir = await tempDir('cda-hooks-');
  const archiveDir = join(dir, 'deployment-archive');
  const outDir = join(dir, 'out');
  await mkdir(join(archiveDir, 'scripts'), { recursive: true });
  await mkdir(outDir);
  for (const f of files) await copyFile(join(FIXTURES, f), join(archiveDir, 'scripts', f));
  const scriptsLog = join(dir, 'logs', 'scripts.log');
  const deploymentsLogPath = join(dir, 'deployment-logs', 'codedeploy-agent-deployments.log');
  const read = async (p: string) => (await readFile(p, 'utf8')).split('\n').filter((l) => l.length > 0);
  return {
    dir,
    archiveDir,
    outDir,
    scriptsLog,
    deploymentsLogPath,
    async run(scripts, extra = {}) {
      const deploymentsLog = createDeploymentsLog({ path: deploymentsLogPath });
      const log = createScriptLogWriter({ scriptsLogPath: scriptsLog, deploymentId: 'd-TEST12345', deploymentsLog });
      try {
        return await runLifecycleEvent({
          event: 'BeforeInstall',
          scripts,
          archiveDir,
          env: buildHookEnvironment({
            baseEnv: { PATH: process.env.PATH ?? '/usr/bin:/bin', OUT_DIR: outDir },
            lifecycleEvent: 'BeforeInstall',
            deploymentId: 'd-TEST12345',
            applicationName: 'App',
            deploymentGroupName: 'Group',
            deploymentGroupId: 'dg-1',
          }),
          cwd: archiveDir,
          killGraceMs: 500,
          outputDrainMs: 500,
          log,
          logger,
          ...extra,
        });
      } finally {
        await log.close();
        await deploymentsLog.close();
      }
    },
    scriptsLogLines: () => read(scriptsLog),
    deploymentsLogLines: () => read(deploymentsLogPath),
  };
}

/** The message parts of scripts.log lines (timestamps checked and removed). */
function messages(lines: string[]): string[] {
  return lines.map((l) => {
    expect(l).toMatch(TS_LINE);
    return l.replace(TS_LINE, '');
  });
}

async function readPid(path: string): Promise<number> {
  return Number((await readFile(path, 'utf8')).trim());
}

/** True when the pid exists and is not a zombie. */
async function running(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  if (stat === undefined) return false;
  return !/^\S+ \(.*\) [ZX] /.test(stat);
}

describe('runLifecycleEvent with real scripts', () => {
  it('succeeds for exit 0 and writes scripts.log and the deployments log in the official formats', async () => {
    const f = await fixture(['exit-0.sh']);
    const result = await f.run([script('scripts/exit-0.sh')]);
    expect(result).toEqual({ errorCode: 0, scriptName: '', message: '', log: '' });
    const lines = messages(await f.scriptsLogLines());
    expect(lines.slice(0, 2)).toEqual(['LifecycleEvent - BeforeInstall', 'Script - scripts/exit-0.sh']);
    expect(lines.slice(2).sort()).toEqual(['[stderr]to stderr', '[stdout]hello from BeforeInstall']);
    const dlines = await f.deploymentsLogLines();
    for (const l of dlines) expect(l).toMatch(/^\[\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}\] \[d-TEST12345\]/);
    expect(dlines.map((l) => l.replace(/^\[[^\]]+\] \[d-TEST12345\]/, '')).slice(0, 2)).toEqual([
      'LifecycleEvent - BeforeInstall',
      'Script - scripts/exit-0.sh',
    ]);
    expect(dlines).toHaveLength(4);
  });

  it('writes nothing when the event has no scripts', async () => {
    const f = await fixture([]);
    expect(await f.run([])).toEqual({ errorCode: 0, scriptName: '', message: '', log: '' });
    await expect(stat(f.scriptsLog)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('reports exit 3 as code 4 with the official message and the output tail, and stops the event', async () => {
    const f = await fixture(['exit-3.sh', 'exit-0.sh']);
    const result = await f.run([script('scripts/exit-3.sh'), script('scripts/exit-0.sh')]);
    expect(result.errorCode).toBe(4);
    expect(result.scriptName).toBe('scripts/exit-3.sh');
    expect(result.message).toBe('Script at specified location: scripts/exit-3.sh failed with exit code 3');
    expect(result.log.startsWith('LifecycleEvent - BeforeInstall\nScript - scripts/exit-3.sh\n')).toBe(true);
    expect(result.log).toContain('[stdout]about to fail\n');
    expect(result.log).toContain('[stderr]failure details\n');
    const lines = messages(await f.scriptsLogLines());
    expect(lines).not.toContain('Script - scripts/exit-0.sh');
  });

  it('runs several scripts in order', async () => {
    const f = await fixture(['exit-0.sh']);
    const result = await f.run([script('scripts/exit-0.sh'), script('/scripts/exit-0.sh')]);
    expect(result.errorCode).toBe(0);
    const lines = messages(await f.scriptsLogLines()).filter((l) => !l.startsWith('['));
    expect(lines).toEqual(['LifecycleEvent - BeforeInstall', 'Script - scripts/exit-0.sh', 'Script - /scripts/exit-0.sh']);
  });

  it('reports a missing script as code 1 with its absolute path', async () => {
    const f = await fixture([]);
    const result = await f.run([script('scripts/nope.sh')]);
    expect(result).toMatchObject({
      errorCode: 1,
      scriptName: 'scripts/nope.sh',
      message: `Script does not exist at specified location: ${join(f.archiveDir, 'scripts/nope.sh')}`,
    });
    expect(result.log).toBe('LifecycleEvent - BeforeInstall\nScript - scripts/nope.sh\n');
  });

  it('treats a location that resolves outside the revision as missing (.. and symlinks)', async () => {
    const f = await fixture([]);
    await copyFile(join(FIXTURES, 'exit-0.sh'), join(f.dir, 'outside.sh'));
    await symlink(join(f.dir, 'outside.sh'), join(f.archiveDir, 'scripts', 'link.sh'));
    const dotdot = await f.run([script('../outside.sh')]);
    expect(dotdot.errorCode).toBe(1);
    expect(dotdot.message).toBe(
      `Script does not exist at specified location: ${join(f.dir, 'outside.sh')} (the location resolves outside the revision directory)`,
    );
    const link = await f.run([script('scripts/link.sh')]);
    expect(link.errorCode).toBe(1);
    expect(link.message).toContain('resolves outside the revision directory');
    expect(messages(await f.scriptsLogLines()).filter((l) => l.startsWith('[stdout]'))).toEqual([]);
  });

  it('makes a non-executable script executable, notes it, and runs it', async () => {
    const { logger, lines: logLines } = captureLogger();
    const f = await fixture(['not-executable.sh'], logger);
    const path = join(f.archiveDir, 'scripts', 'not-executable.sh');
    await chmod(path, 0o644);
    const result = await f.run([script('scripts/not-executable.sh')]);
    expect(result.errorCode).toBe(0);
    expect((await stat(path)).mode & 0o777).toBe(0o755);
    const lines = messages(await f.scriptsLogLines());
    expect(lines).toContain(
      '[agent]Script at specified location: scripts/not-executable.sh is not executable.  Trying to make it executable.',
    );
    expect(lines).toContain('[stdout]ran although it was not executable');
    expect(
      logLines().some(
        (l) =>
          l.level === 40 &&
          l.msg === 'Script at specified location: scripts/not-executable.sh is not executable.  Trying to make it executable.',
      ),
    ).toBe(true);
  });

  it('passes the deployment variables and revision env, never the credentials, and runs in req.cwd', async () => {
    const f = await fixture(['print-env.sh']);
    const cwd = await tempDir('cda-cwd-');
    const env = buildHookEnvironment({
      baseEnv: {
        PATH: process.env.PATH,
        OUT_DIR: f.outDir,
        KEEP_ME: 'kept',
        AWS_REGION: 'eu-west-1',
        AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI',
        AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE',
        AWS_SESSION_TOKEN: 'tok',
        AWS_SECRET_KEY: 'onprem-secret',
        NOTIFY_SOCKET: '/run/systemd/notify',
        WATCHDOG_USEC: '30000000',
        BUNDLE_VERSION: 'inherited-should-go',
      },
      lifecycleEvent: 'BeforeInstall',
      deploymentId: 'd-TEST12345',
      applicationName: 'App',
      deploymentGroupName: 'Group',
      deploymentGroupId: 'dg-1',
      revisionEnv: { BUNDLE_BUCKET: 'bucket', BUNDLE_KEY: 'key.zip', BUNDLE_VERSION: undefined, BUNDLE_ETAG: 'etag' },
    });
    const result = await f.run([script('scripts/print-env.sh')], { env, cwd });
    expect(result.errorCode).toBe(0);
    const out = messages(await f.scriptsLogLines())
      .filter((l) => l.startsWith('[stdout]'))
      .map((l) => l.slice('[stdout]'.length));
    expect(out).toEqual([
      'LIFECYCLE_EVENT=BeforeInstall',
      'DEPLOYMENT_ID=d-TEST12345',
      'APPLICATION_NAME=App',
      'DEPLOYMENT_GROUP_NAME=Group',
      'DEPLOYMENT_GROUP_ID=dg-1',
      'BUNDLE_BUCKET=bucket',
      'BUNDLE_KEY=key.zip',
      'BUNDLE_VERSION=<unset>',
      'BUNDLE_ETAG=etag',
      'BUNDLE_COMMIT=<unset>',
      'AWS_SECRET_ACCESS_KEY=<unset>',
      'AWS_ACCESS_KEY_ID=<unset>',
      'AWS_SESSION_TOKEN=<unset>',
      'AWS_SECRET_KEY=<unset>',
      'NOTIFY_SOCKET=<unset>',
      'WATCHDOG_USEC=<unset>',
      'AWS_REGION=eu-west-1',
      'KEEP_ME=kept',
    ]);
    expect((await readFile(join(f.outDir, 'pwd.txt'), 'utf8')).trim()).toBe(cwd);
  });

  it('keeps a final partial line line-based and splits a huge line into pieces', async () => {
    const f = await fixture([]);
    const path = join(f.archiveDir, 'scripts', 'partial.sh');
    await writeFile(path, "#!/bin/sh\nhead -c 150000 /dev/zero | tr '\\0' 'y'\necho\nprintf 'no newline at the end'\n", { mode: 0o755 });
    const result = await f.run([script('scripts/partial.sh')]);
    expect(result.errorCode).toBe(0);
    const raw = await readFile(f.scriptsLog, 'utf8');
    expect(raw.endsWith(' [stdout]no newline at the end\n')).toBe(true);
    const ys = messages(raw.split('\n').filter((l) => l.includes('[stdout]y')));
    expect(ys.map((l) => l.length - '[stdout]'.length)).toEqual([65536, 65536, 150000 - 2 * 65536]);
  });

  it('reports a script killed by a signal as code 4', async () => {
    const f = await fixture([]);
    await writeFile(join(f.archiveDir, 'scripts', 'killed.sh'), '#!/bin/sh\nkill -KILL $$\n', { mode: 0o755 });
    const result = await f.run([script('scripts/killed.sh')]);
    expect(result.errorCode).toBe(4);
    expect(result.message).toBe('Script at specified location: scripts/killed.sh failed with exit code 137 (killed by signal SIGKILL)');
  });

  it('reports a spawn error (missing interpreter) as code 4 "failed with error"', async () => {
    const f = await fixture([]);
    await writeFile(join(f.archiveDir, 'scripts', 'bad-interp.sh'), '#!/nonexistent/interpreter\necho hi\n', { mode: 0o755 });
    const result = await f.run([script('scripts/bad-interp.sh')]);
    expect(result.errorCode).toBe(4);
    expect(result.message).toMatch(
      /^Script at specified location: scripts\/bad-interp\.sh failed with error ENOENT with message spawn .*bad-interp\.sh ENOENT$/,
    );
  });

  it('kills a TERM-ignoring script and its grandchild on timeout (code 3, group gone)', async () => {
    const f = await fixture(['ignore-term.sh']);
    const started = Date.now();
    const result = await f.run([script('scripts/ignore-term.sh', { timeoutSeconds: 1 })], { killGraceMs: 500 });
    const elapsed = Date.now() - started;
    expect(result.errorCode).toBe(3);
    expect(result.message).toBe('Script at specified location: scripts/ignore-term.sh failed to complete in 1 seconds');
    expect(result.log).toContain('[agent]Script at specified location: scripts/ignore-term.sh timed out\n');
    expect(elapsed).toBeLessThan(5000);
    const leader = await readPid(join(f.outDir, 'leader.pid'));
    const grandchild = await readPid(join(f.outDir, 'grandchild.pid'));
    expect(await groupMembers(leader)).toEqual([]);
    expect(await running(leader)).toBe(false);
    expect(await running(grandchild)).toBe(false);
    const lines = messages(await f.scriptsLogLines());
    expect(lines).toContain('[agent]Script at specified location: scripts/ignore-term.sh timed out');
    expect(lines.some((l) => l.startsWith('[agent]Sent SIGKILL to the process group of scripts/ignore-term.sh'))).toBe(true);
  });

  it('does not wait for a background child that keeps stdout open: exit code decides, note written, child left alive', async () => {
    const { logger, lines: logLines } = captureLogger();
    const f = await fixture(['background-child.sh'], logger);
    const started = Date.now();
    const result = await f.run([script('scripts/background-child.sh', { timeoutSeconds: 30 })], { outputDrainMs: 500 });
    const elapsed = Date.now() - started;
    const bg = await readPid(join(f.outDir, 'background.pid'));
    try {
      expect(result).toEqual({ errorCode: 0, scriptName: '', message: '', log: '' });
      expect(elapsed).toBeLessThan(3000);
      expect(await running(bg)).toBe(true);
      const notes = messages(await f.scriptsLogLines()).filter((l) => l.startsWith('[agent]'));
      expect(notes).toHaveLength(1);
      expect(notes[0]).toContain(
        'Script at specified location: scripts/background-child.sh exited, but a child process kept its stdout and stderr open for more than 500 ms',
      );
      expect(notes[0]).toContain(`${bg} (sleep 600)`);
      expect(logLines().some((l) => l.level === 40 && String(l.msg).includes('kept its stdout and stderr open'))).toBe(true);
    } finally {
      process.kill(bg, 'SIGKILL');
    }
  });

  it('stops the script when the command is cancelled (code 5)', async () => {
    const f = await fixture(['ignore-term.sh']);
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 300);
    const result = await f.run([script('scripts/ignore-term.sh', { timeoutSeconds: 30 })], { signal: controller.signal, killGraceMs: 300 });
    expect(result.errorCode).toBe(5);
    expect(result.message).toBe('Script at specified location: scripts/ignore-term.sh was stopped because the command was cancelled');
    const leader = await readPid(join(f.outDir, 'leader.pid'));
    expect(await groupMembers(leader)).toEqual([]);
    expect(await running(await readPid(join(f.outDir, 'grandchild.pid')))).toBe(false);
  });

  it('fails an unknown runas user with code 4 without starting anything', async () => {
    const f = await fixture(['identity.sh']);
    const result = await f.run([script('scripts/identity.sh', { runas: 'no-such-user-cda' })]);
    expect(result.errorCode).toBe(4);
    expect(result.message).toBe(
      'Script at specified location: scripts/identity.sh run as user no-such-user-cda failed with error UnknownUser with message no user named no-such-user-cda exists on this host',
    );
    expect(messages(await f.scriptsLogLines()).filter((l) => l.startsWith('[stdout]'))).toEqual([]);
  });

  it.skipIf(!isRoot)('runs as a real runas user with its supplementary groups and HOME/USER/LOGNAME (needs root)', async () => {
    const suffix = `${process.pid % 10000}${Math.floor(Math.random() * 1000)}`;
    const user = `cdat${suffix}`;
    const group = `cdag${suffix}`;
    await run('groupadd', [group]);
    try {
      await run('useradd', ['-m', '-G', group, '-s', '/bin/sh', user]);
      try {
        const f = await fixture(['identity.sh', 'exit-3.sh']);
        await chmod(f.dir, 0o755);
        const uid = (await run('id', ['-u', user])).stdout.trim();
        const gid = (await run('id', ['-g', user])).stdout.trim();
        const groupGid = (await run('getent', ['group', group])).stdout.split(':')[2];
        const result = await f.run([script('scripts/identity.sh', { runas: user })]);
        expect(result.errorCode).toBe(0);
        const out = messages(await f.scriptsLogLines())
          .filter((l) => l.startsWith('[stdout]'))
          .map((l) => l.slice('[stdout]'.length));
        expect(out).toContain(`uid=${uid}`);
        expect(out).toContain(`gid=${gid}`);
        const groups = out
          .find((l) => l.startsWith('groups='))
          ?.slice('groups='.length)
          .split(' ');
        expect(groups).toEqual(expect.arrayContaining([gid, groupGid]));
        expect(out).toContain(`home=/home/${user}`);
        expect(out).toContain(`user=${user}`);
        expect(out).toContain(`logname=${user}`);
        expect(out).toContain('event=BeforeInstall');
        const failed = await f.run([script('scripts/exit-3.sh', { runas: user })]);
        expect(failed.message).toBe(`Script at specified location: scripts/exit-3.sh run as user ${user} failed with exit code 3`);
      } finally {
        await run('userdel', ['-r', user]).catch(() => undefined);
      }
    } finally {
      await run('groupdel', [group]).catch(() => undefined);
    }
  });

  it('streams 200 MB of output to disk with flat memory (separate Node process)', async () => {
    const build = await tempDir('cda-build-');
    const tsc = join(REPO, 'node_modules', 'typescript', 'bin', 'tsc');
    // Compile just this module's import closure from the current sources (never a stale dist/).
    await run(
      process.execPath,
      [
        tsc,
        ...['agent/hooks/lifecycle-event-runner.ts', 'agent/log/scripts-log.ts', 'agent/log/deployments-log.ts'].map((p) => join(REPO, p)),
        '--outDir',
        build,
        '--rootDir',
        REPO,
        '--module',
        'nodenext',
        '--moduleResolution',
        'nodenext',
        '--target',
        'es2022',
        '--skipLibCheck',
        '--types',
        'node',
        '--strict',
      ],
      { cwd: REPO },
    ).catch((err: { stdout?: string }) => {
      throw new Error(`tsc failed: ${err.stdout ?? String(err)}`);
    });
    await writeFile(join(build, 'package.json'), '{"type":"module"}\n');
    const f = await fixture(['big-output.sh']);
    await copyFile(join(FIXTURES, 'big-output.sh'), join(f.archiveDir, 'big-output.sh'));
    const child = spawn(
      process.execPath,
      // With the V8 flags the agent ships with (without them Node 26 sizes the young generation
      // from the machine's memory, and garbage alone can take the peak past the bound).
      [...AGENT_NODE_FLAGS, join(FIXTURES, 'big-output-runner.mjs'), build, f.archiveDir, f.scriptsLog, f.deploymentsLogPath],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    const code = await new Promise<number | null>((res) => child.on('close', res));
    expect(code).toBe(0);
    const report = JSON.parse(stdout) as { result: HookResult; elapsedMs: number; maxRssKiB: number };
    console.log(`200 MB hook output: ${(report.elapsedMs / 1000).toFixed(1)} s, peak RSS ${(report.maxRssKiB / 1024).toFixed(0)} MiB`);
    expect(report.result.errorCode).toBe(0);
    expect(report.maxRssKiB).toBeLessThan(200 * 1024);
    expect((await stat(f.scriptsLog)).size).toBeGreaterThanOrEqual(200_000_000);
    // The shared deployments log rotated (64 MiB files) instead of growing without bound.
    expect((await stat(`${f.deploymentsLogPath}.0`)).size).toBeLessThanOrEqual(64 * 1024 * 1024);
    expect((await stat(f.deploymentsLogPath)).size).toBeLessThanOrEqual(64 * 1024 * 1024);
    const head = await readHead(f.scriptsLog, 400);
    expect(messages(head.split('\n').slice(0, 3))).toEqual([
      'LifecycleEvent - AfterInstall',
      'Script - big-output.sh',
      `[stdout]${'x'.repeat(99)}`,
    ]);
  }, 180_000);
});

async function readHead(path: string, bytes: number): Promise<string> {
  const handle = await open(path, 'r');
  try {
    const buffer = Buffer.alloc(bytes);
    const { bytesRead } = await handle.read(buffer, 0, bytes, 0);
    return buffer.subarray(0, bytesRead).toString('utf8');
  } finally {
    await handle.close();
  }
}
