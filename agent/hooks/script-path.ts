/**
 * Finds a hook script inside the revision (docs/reference.md section 7.1 steps 1-2, docs/design.md section 5):
 * the location is always revision-relative (a leading "/" included), and both the path as
 * written and its real path (symlinks followed) must stay inside the archive directory's real
 * path. A location that leaves the revision is reported as a missing script (code 1), with the
 * official message text followed by the reason, so tools that classify by message still work.
 */
import { constants as fsConstants } from 'node:fs';
import { access, chmod, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { ScriptErrorCode, type ScriptErrorCodeValue } from '../errors.js';
import { joinRootRelative, locateInside } from '../../common/path-confinement.js';

export type ScriptLookup =
  { ok: true; path: string; executable: boolean } | { ok: false; errorCode: ScriptErrorCodeValue; message: string };

export async function findScript(archiveDir: string, location: string): Promise<ScriptLookup> {
  const root = resolve(archiveDir);
  const path = joinRootRelative(root, location);
  const missing = (why = ''): ScriptLookup => ({
    ok: false,
    errorCode: ScriptErrorCode.SCRIPT_MISSING,
    message: `Script does not exist at specified location: ${path}${why}`,
  });
  // The revision directory itself is no script, but it does not leave the revision either.
  if (path === root) return missing();
  const found = await locateInside(root, path);
  if (found.kind === 'missing') return missing();
  if (found.kind === 'outside') return missing(' (the location resolves outside the revision directory)');
  return { ok: true, path, executable: await isExecutable(path) };
}

export async function isExecutable(path: string): Promise<boolean> {
  try {
    await access(path, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Adds an x bit wherever there is an r bit, and always the owner's (like `chmod +x` under umask 022). True when it is executable afterwards. */
export async function makeExecutable(path: string): Promise<boolean> {
  try {
    const mode = (await stat(path)).mode & 0o7777;
    const withX = mode | ((mode & 0o444) >> 2) | 0o100;
    await chmod(path, withX);
  } catch {
    return false;
  }
  return isExecutable(path);
}
