/**
 * A small tmpfs for disk-full scenarios (`mount -t tmpfs -o size=...`; needs root or CAP_SYS_ADMIN).
 * Where it cannot be mounted the scenario is skipped with the reason, never silently passed.
 */
import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { promisify } from 'node:util';
import type { Scenario } from './scenario.js';

const execFileAsync = promisify(execFile);

/** Mounts a tmpfs of `size` (e.g. "2m") on `dir` until the scenario ends (unmounted after every later cleanup). */
export async function mountTmpfs(s: Scenario, dir: string, size: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  try {
    await execFileAsync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0755`, 'tmpfs', dir]);
  } catch (err) {
    s.skip(
      `cannot mount a tmpfs here (${((err as { stderr?: string }).stderr ?? (err as Error).message).trim().split('\n')[0]}); run as root to test a full disk`,
    );
  }
  s.defer(async () => {
    await execFileAsync('umount', [dir]).catch(() => execFileAsync('umount', ['-l', dir]));
  });
}
