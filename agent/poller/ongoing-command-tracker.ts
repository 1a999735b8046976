/**
 * In-flight command tracking (reference section 1.7): one file per deployment under
 * <root_dir>/ongoing-deployment/, named by deployment id, holding the HostCommandIdentifier.
 * Written durably (temp file, fsync, rename, fsync of the directory) before a command runs and
 * removed after its completion is reported, so after a crash or kill -9 the next start can fail
 * every orphaned command exactly once instead of leaving the service waiting ~70 minutes.
 */
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { errnoCode } from '../errors.js';
import { syncDir, writeFileAtomic } from '../platform/atomic-file.js';

export interface OrphanedCommand {
  deploymentId: string;
  hostCommandIdentifier: string;
  /** When the command started (the file's mtime). */
  startedAt: Date;
}

export class OngoingCommandTracker {
  constructor(readonly dir: string) {}

  async begin(deploymentId: string, hostCommandIdentifier: string): Promise<void> {
    await writeFileAtomic(join(this.dir, deploymentId), hostCommandIdentifier, { mode: 0o600 });
  }

  async end(deploymentId: string): Promise<void> {
    await rm(join(this.dir, deploymentId), { force: true });
    await syncDir(this.dir).catch(() => undefined);
  }

  /** Every tracking file left behind, oldest first (temp files of torn writes are ignored). */
  async orphans(): Promise<OrphanedCommand[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return [];
      throw err;
    }
    const out: OrphanedCommand[] = [];
    for (const name of names) {
      if (name.includes('.tmp-')) {
        await rm(join(this.dir, name), { force: true });
        continue;
      }
      const path = join(this.dir, name);
      try {
        const [content, s] = await Promise.all([readFile(path, 'utf8'), stat(path)]);
        if (content.trim() !== '') out.push({ deploymentId: name, hostCommandIdentifier: content.trim(), startedAt: s.mtime });
        else await rm(path, { force: true });
      } catch (err) {
        if (errnoCode(err) !== 'ENOENT') throw err;
      }
    }
    return out.sort((a, b) => a.startedAt.getTime() - b.startedAt.getTime());
  }
}
