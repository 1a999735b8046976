/**
 * `<root_dir>/../.version` (`/opt/codedeploy-agent/.version` by default): the file operators and
 * their tooling check for the installed agent version, in the official format
 * `agent_version: <PREFIX>_<version>_<flavour>` (the official agent writes `OFFICIAL_1.8.1-2005_deb`
 * and reads it from next to root_dir, docs/reference.md section 2.2). Ours say `TS_<version>_<how>`:
 * the packages write `_deb`/`_rpm`, install.sh `_tarball`/`_npm`. The daemon writes the file at
 * start when it is missing or names another version, keeping the flavour of an existing `TS_`
 * line; a file that already names this version is left alone.
 */
import { chmod, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { writeFileAtomic } from '../../common/atomic-file.js';
import { errnoCode } from '../../common/errors.js';
import { sharedDirectoryProblem } from './privileges.js';

/** Where the version file of an agent with this root_dir is. */
export function versionFilePath(rootDir: string): string {
  return join(dirname(rootDir), '.version');
}

/** The line for `version`, with `flavour` (deb, rpm, tarball, npm, exe). */
export function versionLine(version: string, flavour: string): string {
  return `agent_version: TS_${version}_${flavour}\n`;
}

/** The version and flavour of a `TS_` line; undefined for anything else (the official agent's, garbage). */
export function parseVersionLine(text: string): { version: string; flavour: string } | undefined {
  const m = /^agent_version:\s*TS_(\S+)_([A-Za-z0-9]+)\s*$/m.exec(text);
  return m?.[1] && m[2] ? { version: m[1], flavour: m[2] } : undefined;
}

export type VersionFileOutcome = { action: 'kept' | 'written' | 'skipped'; path: string; line: string };

/**
 * Makes `<root_dir>/../.version` name `version`: unchanged when it already does; rewritten
 * atomically (0644) with the existing flavour when a `TS_` line names another version; written
 * with `defaultFlavour` when missing or not ours. Skipped when root_dir's parent is a directory other
 * programs share (`/`, `/var/lib`, ...): the file belongs to an install directory. Throws the
 * file system's error (the caller logs it).
 */
export async function ensureVersionFile(rootDir: string, version: string, defaultFlavour: string): Promise<VersionFileOutcome> {
  const path = versionFilePath(rootDir);
  const shared = sharedDirectoryProblem(dirname(rootDir));
  if (shared) return { action: 'skipped', path, line: shared };
  let current: string | undefined;
  try {
    current = await readFile(path, 'utf8');
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT') throw err;
  }
  const parsed = current === undefined ? undefined : parseVersionLine(current);
  if (parsed?.version === version) return { action: 'kept', path, line: current?.trim() ?? '' };
  const line = versionLine(version, parsed?.flavour ?? defaultFlavour);
  await writeFileAtomic(path, line, { mode: 0o644 });
  await chmod(path, 0o644); // whatever the umask
  return { action: 'written', path, line: line.trim() };
}

/** The flavour for a file the daemon writes itself: the self-contained executable or a Node.js install. */
export function runtimeFlavour(): string {
  try {
    const sea = process.getBuiltinModule?.('node:sea') as { isSea?: () => boolean } | undefined;
    if (sea?.isSea?.()) return 'exe';
  } catch {
    // no node:sea (older Node): not the executable
  }
  return 'npm';
}
