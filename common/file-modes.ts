/**
 * The modes of what the agent creates (docs/design.md section 8): directories 0750, log files 0640 and
 * root_dir 0700, whatever the umask. mkdir(2) and open(2) mask the mode they are given with the
 * umask (0644 under the usual 022, 0666 under 000), so each new directory and file is chmod-ed
 * explicitly. Directories and files that already exist keep their mode: it is an operator's or a
 * package's choice, and changing it under a running service would surprise them.
 */
import { chmod, mkdir, open, type FileHandle } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { errnoCode } from './errors.js';

export const DIR_MODE = 0o750;
export const LOG_FILE_MODE = 0o640;
export const ROOT_DIR_MODE = 0o700;

/**
 * mkdir -p: the directories it creates get exactly `mode` (the last) and `parentMode` (those
 * above it, default 0750); existing ones are left alone.
 */
export async function makeDirs(dir: string, options: { mode?: number; parentMode?: number } = {}): Promise<void> {
  const mode = options.mode ?? DIR_MODE;
  const parentMode = options.parentMode ?? DIR_MODE;
  const target = resolve(dir);
  const first = await mkdir(target, { recursive: true, mode: mode | parentMode });
  if (first === undefined) return;
  const top = resolve(first);
  for (let d = target; ; d = dirname(d)) {
    await chmod(d, d === target ? mode : parentMode);
    if (d === top || dirname(d) === d) break;
  }
}

/** Opens a log file for appending; a file it creates gets exactly `mode` (default 0640). */
export async function openAppendFile(path: string, mode = LOG_FILE_MODE): Promise<FileHandle> {
  let handle: FileHandle;
  try {
    handle = await open(path, 'ax', mode);
  } catch (err) {
    if (errnoCode(err) !== 'EEXIST') throw err;
    return open(path, 'a');
  }
  try {
    await handle.chmod(mode);
  } catch (err) {
    await handle.close().catch(() => undefined);
    throw err;
  }
  return handle;
}
