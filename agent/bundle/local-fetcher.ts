/**
 * Local revisions (docs/reference.md section 6.3):
 * - "Local File": the bundle file becomes a symlink to the location (a copy when symlinking fails);
 * - "Local Directory": the tree is copied into the archive directory (copied rather than linked to
 *   keep the revision's history). Symlinks are copied as symlinks, never followed; modes and mtimes
 *   are kept; sockets, FIFOs and devices are skipped. Copies run with bounded concurrency and memory.
 */
import { constants, type Stats } from 'node:fs';
import { copyFile, lstat, lutimes, mkdir, opendir, readlink, realpath, stat, symlink, utimes, chmod } from 'node:fs/promises';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { AgentError, ErrorCodes } from '../errors.js';
import { toError } from '../../common/errors.js';
import { TaskWindow } from '../platform/task-window.js';
import { removeTree } from '../platform/remove-tree.js';

/** Filesystem operations in flight at once while copying a directory bundle. */
const COPY_CONCURRENCY = 32;

interface DirectoryMeta {
  path: string;
  mode: number;
  atime: Date;
  mtime: Date;
}

/**
 * Copy the directory `src` to `destDir`, which must not exist yet (its parent is created if needed).
 * Returns the number of entries copied (files, directories, symlinks; not the root).
 *
 * The tree is read with one directory stream per level and at most COPY_CONCURRENCY copies in
 * flight, so memory does not grow with the number of entries (only the directories' modes and times
 * are kept until the end).
 */
export async function copyDirectoryBundle(src: string, destDir: string): Promise<number> {
  const root = await statOrFail(src, 'directory');
  if (!root.isDirectory()) {
    throw new AgentError(ErrorCodes.BUNDLE_FETCH, `The local directory bundle ${src} is not a directory`);
  }
  await mkdir(dirname(destDir), { recursive: true });
  // A bundle directory that holds the deployment root (codedeploy-local run in a home directory
  // whose per-user root is below it, or -l / with the default root) would copy its own copy until
  // the path is too long: refuse before anything is copied.
  const [realSrc, realDestParent] = await Promise.all([realpath(src), realpath(dirname(destDir))]);
  const realDest = join(realDestParent, basename(destDir));
  if (realDest.startsWith(realSrc.endsWith(sep) ? realSrc : `${realSrc}${sep}`)) {
    throw new AgentError(
      ErrorCodes.BUNDLE_FETCH,
      `The local directory bundle ${src} contains the deployment archive directory ${destDir} (the agent's root_dir is inside the bundle), so the bundle would be copied into itself. Deploy from a directory that does not contain the agent's root_dir, or set :root_dir: outside ${src}.`,
    );
  }
  try {
    await mkdir(destDir, { mode: 0o700 });
  } catch (err) {
    throw new AgentError(ErrorCodes.BUNDLE_FETCH, `Cannot copy the local directory bundle ${src} to ${destDir}: ${toError(err).message}`, {
      cause: err,
    });
  }

  const window = new TaskWindow(COPY_CONCURRENCY);
  // Directories get their mode and mtime after their contents are written; a directory is pushed
  // only after all of its descendants, so applying in order goes children first.
  const finished: DirectoryMeta[] = [];
  let count = 0;
  let index = 0;

  const copyTree = async (srcDir: string, dstDir: string): Promise<void> => {
    for await (const entry of await opendir(srcDir, { bufferSize: 128 })) {
      if (window.failed) return;
      const from = join(srcDir, entry.name);
      const to = join(dstDir, entry.name);
      const at = index++;
      if (entry.isDirectory()) {
        let st: Stats;
        try {
          st = await lstat(from);
          await mkdir(to, { mode: 0o700 });
        } catch (err) {
          window.fail(at, err);
          return;
        }
        count++;
        await copyTree(from, to);
        finished.push({ path: to, mode: st.mode, atime: st.atime, mtime: st.mtime });
      } else if (entry.isSymbolicLink()) {
        await window.add(at, async () => {
          const [target, st] = await Promise.all([readlink(from), lstat(from)]);
          await symlink(target, to);
          await lutimes(to, st.atime, st.mtime);
          count++;
        });
      } else if (entry.isFile()) {
        await window.add(at, async () => {
          const st = await lstat(from);
          // COPYFILE_EXCL: never write through an existing name. copyFile keeps the mode.
          await copyFile(from, to, constants.COPYFILE_EXCL);
          await utimes(to, st.atime, st.mtime);
          count++;
        });
      }
    }
  };

  try {
    try {
      await copyTree(src, destDir);
    } catch (err) {
      window.fail(index, err);
    }
    // On failure: return only once nothing is still in flight, then report the earliest failure.
    await window.drain();
    finished.push({ path: destDir, mode: root.mode, atime: root.atime, mtime: root.mtime });
    for (const { path, mode, atime, mtime } of finished) {
      await chmod(path, mode & 0o7777);
      await utimes(path, atime, mtime);
    }
  } catch (err) {
    await removeTree(destDir);
    throw new AgentError(ErrorCodes.BUNDLE_FETCH, `Error copying the local directory bundle ${src}: ${toError(err).message}`, {
      cause: err,
    });
  }
  return count;
}

export interface LinkLocalFileOptions {
  /** The symlink call; a seam for tests of the copy fallback. */
  symlink?: (target: string, path: string) => Promise<void>;
}

/**
 * Make `bundlePath` a symlink to the local bundle file `location` (absolute), replacing whatever is at
 * `bundlePath`; copy the file instead when the symlink cannot be made.
 */
export async function linkLocalFileBundle(location: string, bundlePath: string, options: LinkLocalFileOptions = {}): Promise<void> {
  const makeSymlink = options.symlink ?? ((target: string, path: string) => symlink(target, path));
  const source = resolve(location);
  const st = await statOrFail(source, 'file');
  if (!st.isFile()) {
    throw new AgentError(ErrorCodes.BUNDLE_FETCH, `The local file bundle ${location} is not a file`);
  }
  await mkdir(dirname(bundlePath), { recursive: true });
  await removeTree(bundlePath);
  try {
    await makeSymlink(source, bundlePath);
  } catch {
    try {
      await copyFile(source, bundlePath);
    } catch (err) {
      throw new AgentError(
        ErrorCodes.BUNDLE_FETCH,
        `Cannot link or copy the local file bundle ${location} to ${bundlePath}: ${toError(err).message}`,
        {
          cause: err,
        },
      );
    }
  }
}

async function statOrFail(path: string, what: 'file' | 'directory'): Promise<Stats> {
  try {
    return await stat(path);
  } catch (err) {
    throw new AgentError(ErrorCodes.BUNDLE_FETCH, `The local ${what} bundle ${path} cannot be read: ${toError(err).message}`, {
      cause: err,
    });
  }
}
