import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as tar from 'tar';
import { runCodedeployLocal } from '../../agent/cli/local-command.js';
import { silentLogger, tempDir } from './temp.js';

const execFileAsync = promisify(execFile);

export const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'bundles');

export interface LocalHost {
  root: string;
  rootDir: string;
  workDir: string;
  configFile: string;
  proofFile: string;
  /** Runs codedeploy-local in-process; stdout/stderr captured. */
  run(args: string[], extraEnv?: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }>;
  /** The events the fixture scripts recorded, in order. */
  proof(): Promise<string[]>;
}

/** A temp "host": deployment root, agent working directory, config file and proof file. */
export async function localHost(extraConfig: string[] = []): Promise<LocalHost> {
  const root = await tempDir('cda-local-');
  const rootDir = join(root, 'deployment-root');
  const workDir = join(root, 'agent-home');
  await mkdir(workDir, { recursive: true });
  const configFile = join(root, 'codedeployagent.yml');
  await writeFile(
    configFile,
    [
      `:root_dir: ${rootDir}`,
      `:log_dir: ${join(root, 'log')}`,
      `:working_directory: ${workDir}`,
      ':hook_output_drain_seconds: 1',
      ...extraConfig,
      '',
    ].join('\n'),
  );
  const proofFile = join(root, 'executed_proof_file');
  return {
    root,
    rootDir,
    workDir,
    configFile,
    proofFile,
    async run(args, extraEnv = {}) {
      let stdout = '';
      let stderr = '';
      const code = await runCodedeployLocal([...args, '-c', configFile], {
        io: { stdout: (s) => void (stdout += s), stderr: (s) => void (stderr += s) },
        cwd: root,
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', PROOF_FILE: proofFile, ...extraEnv },
        logger: silentLogger(),
      });
      return { code, stdout, stderr };
    },
    async proof() {
      try {
        return (await readFile(proofFile, 'utf8')).split('\n').filter((l) => l !== '');
      } catch {
        return [];
      }
    },
  };
}

/** tar or tgz of a directory's contents (entries at the archive root). */
export async function makeTarball(srcDir: string, out: string, gzip: boolean): Promise<string> {
  const { readdir } = await import('node:fs/promises');
  await tar.c({ file: out, cwd: srcDir, gzip, portable: true }, await readdir(srcDir));
  return out;
}

/** zip of a directory's contents; with topDir, every entry sits under "<topDir>/" (a zipped directory). */
export async function makeZip(srcDir: string, out: string, topDir?: string): Promise<string> {
  const script = `
import os, sys, zipfile
src, out, top = sys.argv[1], sys.argv[2], sys.argv[3]
with zipfile.ZipFile(out, 'w', zipfile.ZIP_DEFLATED) as z:
    for dirpath, dirnames, filenames in os.walk(src):
        dirnames.sort()
        for name in sorted(filenames):
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, src)
            z.write(full, os.path.join(top, rel) if top else rel)
`;
  await execFileAsync('python3', ['-c', script, srcDir, out, topDir ?? '']);
  return out;
}

/** A git repository (in a temp dir) holding the sample app, for GitHub-revision tests; resolves with its path and commit. */
export async function sampleAppGitRepo(): Promise<{ dir: string; sha: string }> {
  const { createTestGitRepo } = await import('./github-server.js');
  const dir = await tempDir('cda-git-');
  const files: Record<string, string> = {};
  for (const name of ['appspec.yml', 'app/hello.txt', 'scripts/hook.sh'])
    files[name] = await readFile(join(FIXTURES, 'sample-app', name), 'utf8');
  return { dir, sha: await createTestGitRepo(dir, files) };
}
