/**
 * Finds a hook script inside the revision (reference section 7.1 steps 1-2, DESIGN.md section 5):
 * the location is always revision-relative (a leading "/" included), and both the path as
 * written and its real path (symlinks followed) must stay inside the archive directory's real
 * path. A location that leaves the revision is reported as a missing script (code 1), with the
 * official message text followed by the reason, so tools that classify by message still work.
 */
import { constants as fsConstants } from 'node:fs';
import { access, chmod, realpath, stat } from 'node:fs/promises';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { ScriptErrorCode, type ScriptErrorCodeValue } from '../errors.js';
import { errnoCode } from '../../common/errors.js';

export type ScriptLookup =
  | { ok: true; path: string; executable: boolean }
  | { ok: false; errorCode: ScriptErrorCodeValue; message: string };

function inside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === '' || (!isAbsolute(rel) && rel !== '..' && !rel.startsWith(`..${sep}`));
}

export async function findScript(archiveDir: string, location: string): Promise<ScriptLookup> {
  const root = resolve(archiveDir);
  const path = resolve(root, location.replace(/^\/+/, ''));
  const missing = (why = ''): ScriptLookup => ({
    ok: false,
    errorCode: ScriptErrorCode.SCRIPT_MISSING,
    message: `Script does not exist at specified location: ${path}${why}`,
  });
  const outside = ' (the location resolves outside the revision directory)';
  if (!inside(root, path) || path === root) return missing(path === root ? '' : outside);
  let real: string;
  let realRoot: string;
  try {
    realRoot = await realpath(root);
    real = await realpath(path);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR' || errnoCode(err) === 'ELOOP') return missing();
    throw err;
  }
  if (!inside(realRoot, real)) return missing(outside);
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
