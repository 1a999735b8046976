/**
 * <DGID>_most_recent_install and <DGID>_last_successful_install: one deployment directory path
 * each, no trailing newline (reference section 4.5). Written atomically (temp file, fsync,
 * rename) so a crash never leaves a torn pointer.
 */
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { errnoCode } from '../errors.js';
import type { DeploymentLayout } from './layout.js';

export async function writeFileAtomic(path: string, content: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}-${Date.now()}`;
  const fh = await open(tmp, 'w', 0o644);
  try {
    await fh.writeFile(content);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

async function readPointer(path: string): Promise<string | undefined> {
  try {
    const text = (await readFile(path, 'utf8')).trim();
    return text === '' ? undefined : text;
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw err;
  }
}

export class InstructionsStore {
  constructor(private readonly layout: DeploymentLayout) {}

  lastSuccessful(groupId: string): Promise<string | undefined> {
    return readPointer(this.layout.lastSuccessfulFile(groupId));
  }
  mostRecent(groupId: string): Promise<string | undefined> {
    return readPointer(this.layout.mostRecentFile(groupId));
  }
  setLastSuccessful(groupId: string, deploymentDir: string): Promise<void> {
    return writeFileAtomic(this.layout.lastSuccessfulFile(groupId), deploymentDir);
  }
  setMostRecent(groupId: string, deploymentDir: string): Promise<void> {
    return writeFileAtomic(this.layout.mostRecentFile(groupId), deploymentDir);
  }
}
