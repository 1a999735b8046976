/**
 * Crash safety of Install: kill -9 the deployment in the middle of copying a large revision, then
 * deploy again to the same group under DISALLOW. The cleanup list was fsynced ahead of every copy,
 * so the second Install removes everything the first one wrote and succeeds, leaving exactly the
 * revision's files (no temp files, nothing untracked).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { localHost } from '../helpers/local-deploy.js';
import { walkTree } from '../helpers/file-tree.js';

const CLI = join(import.meta.dirname, '..', '..', 'dist', 'agent', 'cli', 'codedeploy-local.js');
const FILES = 4000;

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await walkTree(dir)) if (!e.dirent.isDirectory()) out.push(e.path);
  return out.sort();
}

describe('crash safety', () => {
  it.skipIf(!existsSync(CLI))('a deployment killed during Install leaves nothing the next deployment trips over', async () => {
    const host = await localHost();
    const src = join(host.root, 'big-bundle');
    for (let d = 0; d < FILES / 100; d++) {
      await mkdir(join(src, 'app', `d${d}`), { recursive: true });
      await Promise.all(Array.from({ length: 100 }, (_, f) => writeFile(join(src, 'app', `d${d}`, `f${f}.txt`), `${d}/${f}\n`)));
    }
    await writeFile(join(src, 'appspec.yml'), 'version: 0.0\nos: linux\nfiles:\n  - source: app\n    destination: big\n');
    const args = [CLI, '-l', src, '-t', 'directory', '-g', 'crash-group', '-c', host.configFile];
    const cleanupFile = join(host.rootDir, 'deployment-instructions', 'crash-group-cleanup');

    const child = spawn(process.execPath, args, { stdio: 'ignore' });
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    let killedMidway = false;
    for (let i = 0; i < 4000; i++) {
      if (child.exitCode !== null) break;
      const lines = existsSync(cleanupFile) ? (await readFile(cleanupFile, 'utf8')).split('\n').length : 0;
      // Directories are made first; kill once files have started to land.
      const firstDir = join(host.workDir, 'big', 'd0');
      const installed = existsSync(firstDir) ? (await readdir(firstDir)).length : 0;
      if (lines > 100 && installed > 0) {
        child.kill('SIGKILL');
        killedMidway = true;
        break;
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    await exited;
    expect(killedMidway, 'the first deployment finished before it could be killed; make the bundle bigger').toBe(true);
    expect(existsSync(join(host.rootDir, 'deployment-instructions', 'crash-group_last_successful_install'))).toBe(false);
    const partial = await listFiles(join(host.workDir, 'big'));
    expect(partial.length).toBeGreaterThan(0);
    expect(partial.length).toBeLessThan(FILES);

    const second = await host.run(['-l', src, '-t', 'directory', '-g', 'crash-group']);
    expect(second.stdout).toContain('Local deployment successful');
    expect(second.code).toBe(0);
    const installed = await listFiles(join(host.workDir, 'big'));
    expect(installed).toEqual(await listFiles(join(src, 'app')));
  });
});
