/**
 * codedeploy-local on a developer's machine (issue 12): where hooks run, Ctrl-C and SIGTERM, the
 * -b check, what a failure prints, and the per-user root when there is no config file. Real
 * processes: the hooks always; the dist/ entry point for signals and options; a real non-root user
 * (made here, as root) for the per-user root. The host's own default paths are never used: tests
 * inject them (LocalCommandContext.defaults) or pass -c.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCodedeployLocal, type LocalCommandContext } from '../../agent/cli/local-command.js';
import { acquireDirectoryLock } from '../../common/file-lock.js';
import { groupAlive } from '../../agent/hooks/process-group.js';
import { runNode, type ProgramRun as Run } from '../helpers/run-node.js';
import { silentLogger, tempDir } from '../helpers/temp.js';
import { waitFor } from '../helpers/wait-for.js';

const DIST = join(import.meta.dirname, '..', '..', 'dist');
const LOCAL_CLI = join(DIST, 'agent', 'cli', 'codedeploy-local.js');
const GROUP = 'dg-workstation';
const isRoot = process.geteuid?.() === 0;
const PATH = process.env.PATH ?? '/usr/bin:/bin';

/** A bundle directory: appspec text plus executable scripts (name -> body after the shebang). */
async function bundle(
  dir: string,
  appspec: string,
  scripts: Record<string, string> = {},
  files: Record<string, string> = {},
): Promise<string> {
  await mkdir(join(dir, 'scripts'), { recursive: true });
  await writeFile(join(dir, 'appspec.yml'), appspec);
  for (const [name, body] of Object.entries(scripts)) await writeFile(join(dir, 'scripts', name), `#!/bin/sh\n${body}`, { mode: 0o755 });
  for (const [name, text] of Object.entries(files)) {
    await mkdir(join(dir, name, '..'), { recursive: true });
    await writeFile(join(dir, name), text);
  }
  return dir;
}

const hooks = (entries: Record<string, string>): string =>
  [
    'version: 0.0',
    'os: linux',
    'hooks:',
    ...Object.entries(entries).flatMap(([event, script]) => [`  ${event}:`, `    - location: scripts/${script}`]),
    '',
  ].join('\n');

/** A temp root with a config file (root_dir, log_dir and whatever else is given). */
async function workstation(extraConfig: string[] = []): Promise<{ root: string; rootDir: string; logDir: string; configFile: string }> {
  const root = await tempDir('cda-ws-');
  const rootDir = join(root, 'deployment-root');
  const logDir = join(root, 'log');
  const configFile = join(root, 'codedeployagent.yml');
  await writeFile(
    configFile,
    [`:root_dir: ${rootDir}`, `:log_dir: ${logDir}`, ':hook_output_drain_seconds: 1', ...extraConfig, ''].join('\n'),
  );
  return { root, rootDir, logDir, configFile };
}

/** runCodedeployLocal in this process (hooks are real processes), with the host's defaults replaced. */
async function runInProcess(argv: string[], ctx: Partial<LocalCommandContext> & { cwd: string }): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const code = await runCodedeployLocal(argv, {
    io: { stdout: (s) => void (stdout += s), stderr: (s) => void (stderr += s) },
    env: { PATH },
    defaults: { configFiles: [join(ctx.cwd, 'no-such-config.yml')], workingDirectory: join(ctx.cwd, 'no-such-install-dir'), isRoot },
    ...ctx,
  });
  return { code, stdout, stderr };
}

/** The dist/ entry point as a child process; `started` gets the child before it ends. */
function runCli(args: string[], opts: { cwd: string; env?: Record<string, string> }, started?: (pid: number) => void): Promise<Run> {
  return runNode(LOCAL_CLI, args, {
    cwd: opts.cwd,
    env: { PATH, ...opts.env },
    onSpawn: (child) => {
      if (child.pid !== undefined) started?.(child.pid);
    },
  });
}

/** A live (not zombie) process with this pid, from /proc: a killed process may wait a moment for its reaper. */
async function processAlive(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  return stat !== '' && state !== 'Z' && state !== 'X';
}

async function onlyDeploymentDir(rootDir: string): Promise<string> {
  const ids = await readdir(join(rootDir, GROUP));
  expect(ids).toHaveLength(1);
  return join(rootDir, GROUP, ids[0] as string);
}

describe("hooks' working directory", () => {
  it("is the caller's current directory when working_directory is not configured and the install directory does not exist", async () => {
    const ws = await workstation();
    const project = join(ws.root, 'project');
    await bundle(project, hooks({ BeforeInstall: 'pwd.sh' }), { 'pwd.sh': 'pwd > "$OUT"\n' });
    const out = join(ws.root, 'pwd.txt');
    const r = await runInProcess(['-g', GROUP, '-c', ws.configFile], { cwd: project, env: { PATH, OUT: out }, logger: silentLogger() });
    expect(r.stdout).toContain('Local deployment successful');
    expect(r.code).toBe(0);
    expect((await readFile(out, 'utf8')).trim()).toBe(project);
  });

  it('is the install directory when it exists and a config file was found, whatever the caller is in', async () => {
    const ws = await workstation();
    const installDir = join(ws.root, 'opt-codedeploy-agent');
    await mkdir(installDir);
    const project = join(ws.root, 'project');
    await bundle(project, hooks({ BeforeInstall: 'pwd.sh' }), { 'pwd.sh': 'pwd > "$OUT"\n' });
    const out = join(ws.root, 'pwd.txt');
    const r = await runInProcess(['-g', GROUP], {
      cwd: project,
      env: { PATH, OUT: out },
      logger: silentLogger(),
      defaults: { configFiles: [ws.configFile], workingDirectory: installDir, isRoot },
    });
    expect(r.code).toBe(0);
    expect((await readFile(out, 'utf8')).trim()).toBe(installDir);
  });

  it('a configured working directory that does not exist fails before the first event, with nothing installed', async () => {
    const ws = await workstation([':working_directory: /nonexistent/cda-wd']);
    const dest = join(ws.root, 'dest');
    const project = join(ws.root, 'project');
    await bundle(
      project,
      [
        'version: 0.0',
        'os: linux',
        'files:',
        '  - source: app',
        `    destination: ${dest}`,
        hooks({ AfterInstall: 'ok.sh' }).split('\n').slice(2).join('\n'),
      ].join('\n'),
      { 'ok.sh': 'exit 0\n' },
      { 'app/index.html': 'hi\n' },
    );
    const r = await runInProcess(['-g', GROUP, '-c', ws.configFile], { cwd: project, logger: silentLogger() });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe(
      `ERROR: The working directory for hook scripts (/nonexistent/cda-wd) does not exist or is not a directory. Create it, or set :working_directory: in ${ws.configFile}\n`,
    );
    expect(r.stderr).toBe('');
    expect(existsSync(dest)).toBe(false);
    expect(existsSync(join(ws.rootDir, GROUP))).toBe(false);
  });
});

describe.skipIf(!existsSync(LOCAL_CLI))('SIGINT and SIGTERM (dist/ entry point)', () => {
  it.each([
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const)(
    '%s stops the running hook and its whole process group, reports it and exits %i',
    async (signal, exitCode) => {
      const ws = await workstation([':hook_kill_grace_seconds: 2']);
      const project = join(ws.root, 'project');
      const pidFile = join(ws.root, 'hook.pid');
      const childPidFile = join(ws.root, 'child.pid');
      await bundle(project, hooks({ BeforeInstall: 'quick.sh', ApplicationStart: 'sleep.sh' }), {
        'quick.sh': 'echo quick\n',
        // The script is the leader of its process group; its background child is in the group too.
        'sleep.sh': `echo "started $$"\nsleep 300 &\necho $! > ${childPidFile}\necho $$ > ${pidFile}\nwait\n`,
      });
      let cliPid = 0;
      const running = runCli(['-g', GROUP, '-c', ws.configFile], { cwd: project }, (pid) => (cliPid = pid));
      const hookPid = await waitFor(
        'the hook to write its pid',
        async () => {
          const text = await readFile(pidFile, 'utf8').catch(() => '');
          return text.endsWith('\n') ? Number(text.trim()) : undefined;
        },
        { timeoutMs: 30_000 },
      );
      const childPid = Number((await readFile(childPidFile, 'utf8')).trim());
      expect(await groupAlive(hookPid)).toBe(true);
      process.kill(cliPid, signal);
      const r = await running;

      expect(r.code).toBe(exitCode);
      // Gone when codedeploy-local exits: no live member of the hook's process group, the background child included.
      expect(await groupAlive(hookPid)).toBe(false);
      expect(await processAlive(childPid)).toBe(false);
      const dep = await onlyDeploymentDir(ws.rootDir);
      const scriptsLog = join(dep, 'logs', 'scripts.log');
      expect(r.stdout.split('\n')).toEqual([
        `Starting to execute deployment from within folder ${dep}`,
        'Your local deployment was interrupted while running ApplicationStart (script scripts/sleep.sh); the deployment did not complete',
        `Script at specified location: scripts/sleep.sh was stopped because codedeploy-local was interrupted by ${signal}`,
        'The last lines of its output (from scripts.log):',
        '    LifecycleEvent - ApplicationStart',
        '    Script - scripts/sleep.sh',
        `    [stdout]started ${hookPid}`,
        `    [agent]Script at specified location: scripts/sleep.sh is being stopped because codedeploy-local was interrupted by ${signal}`,
        `See the deployment log at ${scriptsLog} for more details`,
        '',
      ]);
      expect(r.stderr).toContain(`codedeploy-local: ${signal} received: stopping the deployment\n`);
      expect(r.stderr).toMatch(/ApplicationStart\s+FAILED/);
      expect(await readFile(scriptsLog, 'utf8')).toMatch(
        new RegExp(
          `\\[agent\\]Script at specified location: scripts/sleep.sh is being stopped because codedeploy-local was interrupted by ${signal}`,
        ),
      );
      // The group lock went with the process.
      const lock = await acquireDirectoryLock(join(ws.rootDir, GROUP), { wait: false });
      await lock.release();
      const logFile = await readFile(join(ws.logDir, 'codedeploy-local.log'), 'utf8');
      expect(logFile).toContain(`deployment interrupted by ${signal}`);
    },
    60_000,
  );

  it('-b FOO is rejected up front: exit 1, the official style of message, nothing done', async () => {
    const ws = await workstation();
    const project = join(ws.root, 'project');
    await bundle(project, hooks({ BeforeInstall: 'ok.sh' }), { 'ok.sh': 'exit 0\n' });
    const r = await runCli(['-b', 'FOO', '-g', GROUP, '-c', ws.configFile], { cwd: project });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('ERROR: file-exists-behavior FOO is not a valid value. Must be one of DISALLOW,OVERWRITE,RETAIN\n');
    expect(existsSync(ws.rootDir)).toBe(false);
    const lower = await runCli(['-b', 'overwrite', '-g', GROUP, '-c', ws.configFile], { cwd: project });
    expect(lower.code).toBe(0);
  }, 30_000);
});

describe('an interruption between events', () => {
  it('stops before the next event: nothing is installed, no instruction file is written, the existing log is named', async () => {
    const ws = await workstation();
    const project = join(ws.root, 'project');
    const dest = join(ws.root, 'dest');
    await bundle(
      project,
      ['version: 0.0', 'os: linux', 'files:', '  - source: app', `    destination: ${dest}`, ''].join('\n'),
      {},
      { 'app/index.html': 'hi\n' },
    );
    const controller = new AbortController();
    const { LocalInterrupt } = await import('../../agent/cli/local-command.js');
    let stdout = '';
    const code = await runCodedeployLocal(['-g', GROUP, '-c', ws.configFile], {
      io: {
        stdout: (s) => void (stdout += s),
        stderr: (s) => {
          if (s.includes('DownloadBundle')) controller.abort(new LocalInterrupt('SIGINT'));
        },
      },
      cwd: project,
      env: { PATH },
      interrupt: controller.signal,
    });
    expect(code).toBe(130);
    const localLog = join(ws.logDir, 'codedeploy-local.log');
    expect(stdout.split('\n').slice(1)).toEqual([
      'Your local deployment was interrupted before BeforeInstall; the deployment did not complete',
      'BeforeInstall did not start because codedeploy-local was interrupted by SIGINT',
      `See the codedeploy-local log at ${localLog} for more details`,
      '',
    ]);
    expect(existsSync(dest)).toBe(false);
    expect((await readdir(join(ws.rootDir, 'deployment-instructions'))).sort()).toEqual([`${GROUP}_most_recent_install`]);
    expect(existsSync(localLog)).toBe(true);
  });
});

describe('what a failure prints', () => {
  /** A local deployment, in this process, whose AfterInstall hook scripts/fail.sh is `script`. */
  async function runFailing(script: string): Promise<{ ws: Awaited<ReturnType<typeof workstation>>; r: Run }> {
    const ws = await workstation();
    const project = join(ws.root, 'project');
    await bundle(project, hooks({ AfterInstall: 'fail.sh' }), { 'fail.sh': script });
    return { ws, r: await runInProcess(['-g', GROUP, '-c', ws.configFile], { cwd: project, logger: silentLogger() }) };
  }

  it('the last 20 lines of the failed script before the log line', async () => {
    const { ws, r } = await runFailing('for i in $(seq 1 30); do echo "line $i"; done\necho oops >&2\nexit 4\n');
    expect(r.code).toBe(1);
    const dep = await onlyDeploymentDir(ws.rootDir);
    const lines = r.stdout.split('\n');
    const at = lines.indexOf('The last lines of its output (from scripts.log):');
    expect(lines.slice(1, at)).toEqual([
      `Your local deployment failed while trying to execute your script at ${join(dep, 'deployment-archive')}/scripts/fail.sh`,
      'Script at specified location: scripts/fail.sh failed with exit code 4',
    ]);
    expect(lines.slice(at + 1)).toEqual([
      ...Array.from({ length: 19 }, (_, i) => `    [stdout]line ${i + 12}`),
      '    [stderr]oops',
      `See the deployment log at ${join(dep, 'logs', 'scripts.log')} for more details`,
      '',
    ]);
  });

  it('a long last line is cut to fit, with a marker', async () => {
    const { r } = await runFailing("echo first\nhead -c 5000 /dev/zero | tr '\\0' x\necho\nexit 1\n");
    expect(r.code).toBe(1);
    const lines = r.stdout.split('\n');
    const at = lines.indexOf('The last lines of its output (from scripts.log):');
    expect(at).toBeGreaterThan(0);
    const shown = lines[at + 1] ?? '';
    expect(shown).toMatch(/^ {4}\[stdout\]x+…\[truncated \d+ chars\]$/);
    expect(shown.length).toBeLessThanOrEqual(4 + 2048);
    expect(lines[at + 2]).toMatch(/^See the deployment log at .*scripts\.log for more details$/);
  });

  it('a failure before any hook names codedeploy-local.log, which holds the error, not a scripts.log that was never written', async () => {
    const ws = await workstation();
    const project = join(ws.root, 'project');
    await bundle(
      project,
      ['version: 0.0', 'os: linux', 'files:', '  - source: missing', `    destination: ${join(ws.root, 'dest')}`, ''].join('\n'),
    );
    const r = await runInProcess(['-g', GROUP, '-c', ws.configFile], { cwd: project });
    expect(r.code).toBe(1);
    const localLog = join(ws.logDir, 'codedeploy-local.log');
    expect(r.stdout).toContain(`See the codedeploy-local log at ${localLog} for more details\n`);
    expect(r.stdout).not.toContain('scripts.log');
    const dep = await onlyDeploymentDir(ws.rootDir);
    expect(existsSync(join(dep, 'logs', 'scripts.log'))).toBe(false);
    expect(await readFile(localLog, 'utf8')).toContain('Install failed');
  });

  it('an unknown hook name fails Install with a suggestion', async () => {
    const ws = await workstation();
    const project = join(ws.root, 'project');
    await bundle(project, hooks({ AfterInstal: 'ok.sh' }), { 'ok.sh': 'exit 0\n' });
    const r = await runInProcess(['-g', GROUP, '-c', ws.configFile], { cwd: project, logger: silentLogger() });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(
      'ERROR: appspec.yml file contains unknown lifecycle events: ["AfterInstal"] (AfterInstal: did you mean AfterInstall?)\n',
    );
  });
});

describe.skipIf(!isRoot || !existsSync(LOCAL_CLI))('no config file, not root: a per-user root (a real user made here)', () => {
  it('deploys into $XDG_STATE_HOME/codedeploy-agent, or ~/.local/state/codedeploy-agent, says so on stderr, hooks in the current directory', async () => {
    const user = `cdaws${process.pid % 10000}${Math.floor(Math.random() * 1000)}`;
    execFileSync('useradd', ['-M', '-U', '-s', '/bin/sh', user]);
    try {
      const uid = Number(execFileSync('id', ['-u', user]).toString().trim());
      const gid = Number(execFileSync('id', ['-g', user]).toString().trim());
      const root = await tempDir('cda-ws-user-');
      await chmod(root, 0o755);
      const home = join(root, 'home');
      const project = join(home, 'project');
      await mkdir(project, { recursive: true });
      await bundle(project, hooks({ BeforeInstall: 'who.sh' }), { 'who.sh': 'echo "$(id -u) $(pwd)" > "$HOME/who.txt"\n' });
      execFileSync('chown', ['-R', `${uid}:${gid}`, home]);
      // The command as the entry point runs it, with the host's default config paths replaced by
      // paths that do not exist (the machine's own /etc/codedeploy-agent must not matter).
      const wrapper = join(root, 'run-local.mjs');
      await writeFile(
        wrapper,
        [
          `import { runCodedeployLocal } from ${JSON.stringify(join(DIST, 'agent', 'cli', 'local-command.js'))};`,
          `import { hostLocalDefaults } from ${JSON.stringify(join(DIST, 'agent', 'cli', 'local-config.js'))};`,
          'process.exitCode = await runCodedeployLocal(process.argv.slice(2), {',
          '  io: { stdout: (s) => process.stdout.write(s), stderr: (s) => process.stderr.write(s) },',
          '  cwd: process.cwd(),',
          '  env: process.env,',
          `  defaults: { ...hostLocalDefaults(), configFiles: [${JSON.stringify(join(root, 'none.yml'))}], workingDirectory: ${JSON.stringify(join(root, 'none'))} },`,
          '});',
          '',
        ].join('\n'),
      );
      const runAs = (env: Record<string, string>): Promise<Run> =>
        runNode(wrapper, ['-g', GROUP], { cwd: project, env: { PATH, ...env }, uid, gid });

      const state = join(home, 'xdg-state');
      const r = await runAs({ HOME: home, XDG_STATE_HOME: state });
      expect(r.stdout).toContain('AppSpec file valid. Local deployment successful');
      expect(r.code).toBe(0);
      const rootDir = join(state, 'codedeploy-agent', 'deployment-root');
      const logFile = join(state, 'codedeploy-agent', 'logs', 'codedeploy-local.log');
      expect(r.stderr.split('\n')[0]).toBe(
        `codedeploy-local: no configuration file (${join(root, 'none.yml')}), not running as root: deployments go to ${rootDir}, the log to ${logFile} (use -c FILE to choose)`,
      );
      expect(((await stat(rootDir)).mode & 0o777).toString(8)).toBe('700');
      expect((await stat(rootDir)).uid).toBe(uid);
      expect((await stat(logFile)).uid).toBe(uid);
      expect(await readdir(join(rootDir, GROUP))).toHaveLength(1);
      expect((await readFile(join(home, 'who.txt'), 'utf8')).trim()).toBe(`${uid} ${project}`);

      // Without XDG_STATE_HOME: ~/.local/state.
      const again = await runAs({ HOME: home });
      expect(again.code).toBe(0);
      expect(again.stderr).toContain(`deployments go to ${join(home, '.local', 'state', 'codedeploy-agent', 'deployment-root')}`);
      expect(await readdir(join(home, '.local', 'state', 'codedeploy-agent', 'deployment-root', GROUP))).toHaveLength(1);
    } finally {
      execFileSync('userdel', [user]);
    }
  }, 60_000);
});
