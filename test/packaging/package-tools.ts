/**
 * Shared by the packaging tests: running commands, a stand-in for the agent executable, and
 * building the packages with scripts/packaging/build-packages.sh.
 */
import { execFile, type ExecFileException } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);
export const REPO = join(import.meta.dirname, '..', '..');
export const BUILD = join(REPO, 'scripts', 'packaging', 'build-packages.sh');

export interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

export async function run(file: string, args: string[], opts: { env?: NodeJS.ProcessEnv; timeout?: number } = {}): Promise<Result> {
  try {
    const { stdout, stderr } = await execFileP(file, args, {
      env: opts.env ?? process.env,
      timeout: opts.timeout ?? 120_000,
      maxBuffer: 16 * 1024 * 1024,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as ExecFileException & { stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? e.message };
  }
}

/** Like run, but a non-zero exit fails with the command's output. */
export async function ok(file: string, args: string[], opts: { env?: NodeJS.ProcessEnv; timeout?: number } = {}): Promise<string> {
  const r = await run(file, args, opts);
  if (r.code !== 0) throw new Error(`${file} ${args.join(' ')} exited ${r.code}\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

export function onPath(name: string): boolean {
  return (process.env.PATH ?? '').split(':').some((dir) => dir !== '' && existsSync(join(dir, name)));
}

/**
 * A shell script in place of the self-contained executable: answers `--version`/`version`,
 * and `start` behaves enough for the systemd unit (READY=1 through systemd-notify, then waits
 * for SIGTERM), so the packages can be built and installed without the real build.
 */
export async function writeStandIn(path: string, version: string): Promise<void> {
  await writeFile(
    path,
    `#!/bin/sh
# Stand-in for the codedeploy-agent executable (packaging tests).
case "$1" in
  --version | version) echo "${version}" ;;
  start)
    trap 'exit 0' TERM
    command -v systemd-notify >/dev/null 2>&1 && systemd-notify --ready --status=polling
    while :; do sleep 1; done
    ;;
  *) echo "stand-in codedeploy-agent: $*" ;;
esac
`,
  );
  await chmod(path, 0o755);
}

/** build-packages.sh with a fixed SOURCE_DATE_EPOCH; returns the paths it printed. */
export async function buildPackages(args: string[]): Promise<string[]> {
  const out = await ok(BUILD, args, { env: { ...process.env, SOURCE_DATE_EPOCH: '1700000000' } });
  return out.trim().split('\n');
}
