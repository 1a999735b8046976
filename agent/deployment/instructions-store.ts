/**
 * <DGID>_most_recent_install and <DGID>_last_successful_install: one deployment directory path
 * each, no trailing newline (docs/reference.md section 4.5). Written atomically (temp file, fsync,
 * rename) so a crash never leaves a torn pointer.
 */
import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../../common/atomic-file.js';
import { errnoCode } from '../../common/errors.js';
import type { DeploymentLayout } from './layout.js';

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
