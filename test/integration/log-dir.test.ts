/**
 * An unwritable log_dir stops codedeploy-local and the daemon at start with one line naming the
 * directory, the reason and the fix, and a non-zero exit (issue 9 item 8). The real programs
 * (dist/); tests run as root, so "unwritable" is a log_dir under a regular file (ENOTDIR), or a
 * root-owned directory while the program runs as nobody through setpriv (EACCES).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FIXTURES } from '../helpers/local-deploy.js';
import { tempDir } from '../helpers/temp.js';

const LOCAL_CLI = join(import.meta.dirname, '..', '..', 'dist', 'agent', 'cli', 'codedeploy-local.js');
const AGENT_CLI = join(import.meta.dirname, '..', '..', 'dist', 'agent', 'cli', 'codedeploy-agent.js');
const isRoot = process.getuid?.() === 0;

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

async function run(argv: string[], timeoutMs = 20_000): Promise<Result> {
  const started = Date.now();
  const child = spawn(argv[0] as string, argv.slice(1), {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const code = await new Promise<number | null>((r) => child.on('close', r));
  clearTimeout(timer);
  return { code, stdout, stderr, ms: Date.now() - started };
}

/** A temp root (0755, so nobody can read the config) with a config whose log_dir is given. */
async function hostWithLogDir(logDir: (root: string) => string): Promise<{ root: string; config: string; logDir: string }> {
  const root = await tempDir('cda-logdir-');
  await chmod(root, 0o755);
  const dir = logDir(root);
  const config = join(root, 'codedeployagent.yml');
  await writeFile(
    config,
    [
      `:root_dir: ${join(root, 'deployment-root')}`,
      `:log_dir: ${dir}`,
      `:pid_dir: ${join(root, 'state')}`,
      `:working_directory: ${root}`,
      '',
    ].join('\n'),
    { mode: 0o644 },
  );
  return { root, config, logDir: dir };
}

const underFile = async (root: string): Promise<void> => writeFile(join(root, 'file'), 'a regular file\n');

describe.skipIf(!existsSync(LOCAL_CLI))('an unwritable log_dir', () => {
  it('codedeploy-local: one line naming the directory (ENOTDIR), exit 1, no stack trace', async () => {
    const h = await hostWithLogDir((root) => join(root, 'file', 'logs'));
    await underFile(h.root);
    const r = await run([process.execPath, LOCAL_CLI, '-l', join(FIXTURES, 'sample-app'), '-t', 'directory', '-c', h.config]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe(
      `ERROR: cannot write the log directory ${h.logDir}: ENOTDIR (not a directory); fix its owner or mode, or set :log_dir: in ${h.config}\n`,
    );
    expect(r.stderr).toBe('');
    expect(existsSync(join(h.root, 'deployment-root'))).toBe(false);
  });

  it.skipIf(!isRoot)('codedeploy-local as nobody under a root-owned directory: EACCES, exit 1, no stack trace', async () => {
    const h = await hostWithLogDir((root) => join(root, 'root-only', 'logs'));
    await mkdir(join(h.root, 'root-only'), { mode: 0o755 });
    const r = await run([
      'setpriv',
      '--reuid=nobody',
      '--regid=nogroup',
      '--clear-groups',
      '--',
      process.execPath,
      LOCAL_CLI,
      '-l',
      join(FIXTURES, 'sample-app'),
      '-t',
      'directory',
      '-c',
      h.config,
    ]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe(
      `ERROR: cannot write the log directory ${h.logDir}: EACCES (permission denied); fix its owner or mode, or set :log_dir: in ${h.config}\n`,
    );
    expect(r.stderr).toBe('');
  });

  it.each([
    ['ENOTDIR', false],
    ['EACCES', true],
  ])('the daemon (%s): one line on stderr, exit 78 (a configuration error) at once', async (errno, asNobody) => {
    if (asNobody && !isRoot) return;
    const h = await hostWithLogDir((root) => join(root, asNobody ? 'root-only' : 'file', 'logs'));
    if (asNobody) await mkdir(join(h.root, 'root-only'), { mode: 0o755 });
    else await underFile(h.root);
    const agent = [process.execPath, AGENT_CLI, 'start', '--config_file', h.config];
    const r = await run(asNobody ? ['setpriv', '--reuid=nobody', '--regid=nogroup', '--clear-groups', '--', ...agent] : agent, 15_000);
    expect(r.code).toBe(78);
    const reason = errno === 'EACCES' ? 'EACCES (permission denied)' : 'ENOTDIR (not a directory)';
    expect(r.stderr).toBe(
      `codedeploy-agent: could not start: cannot write the log directory ${h.logDir}: ${reason}; fix its owner or mode, or set :log_dir: in ${h.config}\n`,
    );
    expect(r.ms).toBeLessThan(10_000);
  });
});
