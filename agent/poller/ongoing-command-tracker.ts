/**
 * In-flight command tracking (docs/reference.md section 1.7): one file per deployment under
 * <root_dir>/ongoing-deployment/, named by deployment id, holding the HostCommandIdentifier.
 * Written durably (temp file, fsync, rename, fsync of the directory) before a command runs and
 * removed once its result is in the outbox (pending-results.ts), so after a crash or kill -9 the
 * next start can fail every orphaned command exactly once instead of leaving the service waiting
 * ~70 minutes.
 *
 * A command is tracked from the moment a poll hands it to us, before its deployment id is known:
 * a marker named `polled-<hash of the HostCommandIdentifier>` covers the time until the
 * specification is read (a kill there would otherwise leave the command dispatched and silent).
 */
import { createHash } from 'node:crypto';
import { readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { errnoCode } from '../../common/errors.js';
import { syncDir, writeFileAtomic } from '../../common/atomic-file.js';
import { dirNamesIfExists } from '../platform/dir-names.js';

export interface OrphanedCommand {
  /** Undefined for a command killed before its specification was read. */
  deploymentId?: string;
  hostCommandIdentifier: string;
  /** When the command started (the file's mtime). */
  startedAt: Date;
}

export class OngoingCommandTracker {
  constructor(readonly dir: string) {}

  /** A poll handed us this command; its deployment is not known yet. */
  async polled(hostCommandIdentifier: string): Promise<void> {
    await writeFileAtomic(join(this.dir, polledName(hostCommandIdentifier)), hostCommandIdentifier, { mode: 0o600 });
  }

  /** Forget a polled marker (after begin(), or when the command is over before it ran). */
  async unpolled(hostCommandIdentifier: string): Promise<void> {
    await rm(join(this.dir, polledName(hostCommandIdentifier)), { force: true });
    await syncDir(this.dir).catch(() => undefined);
  }

  /**
   * The polled command's deployment is known and it is about to run: its polled marker becomes the
   * deployment's tracking file by one rename (both hold the HostCommandIdentifier), then the
   * directory is fsynced. One of the two names exists at every instant, so a crash anywhere
   * leaves the command tracked; and it costs a rename instead of begin() and unpolled() (a second
   * durable write and a second directory fsync) on every command. Without a marker (its write
   * failed earlier, which was logged) the tracking file is written afresh.
   */
  async promote(deploymentId: string, hostCommandIdentifier: string): Promise<void> {
    try {
      await rename(join(this.dir, polledName(hostCommandIdentifier)), join(this.dir, deploymentId));
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') throw err;
      return this.begin(deploymentId, hostCommandIdentifier);
    }
    await syncDir(this.dir);
  }

  async begin(deploymentId: string, hostCommandIdentifier: string): Promise<void> {
    await writeFileAtomic(join(this.dir, deploymentId), hostCommandIdentifier, { mode: 0o600 });
  }

  async end(deploymentId: string): Promise<void> {
    await rm(join(this.dir, deploymentId), { force: true });
    await syncDir(this.dir).catch(() => undefined);
  }

  /**
   * The command is over (its result is in the outbox): drop its deployment's tracking file, when
   * its deployment is known, and its polled marker, with one directory fsync for both.
   */
  async finished(deploymentId: string | undefined, hostCommandIdentifier: string): Promise<void> {
    if (deploymentId !== undefined) await rm(join(this.dir, deploymentId), { force: true });
    await rm(join(this.dir, polledName(hostCommandIdentifier)), { force: true });
    await syncDir(this.dir).catch(() => undefined);
  }

  /** Every tracking file left behind, oldest first (temp files of torn writes are ignored). */
  async orphans(): Promise<OrphanedCommand[]> {
    const names = await dirNamesIfExists(this.dir);
    const out: OrphanedCommand[] = [];
    for (const name of names) {
      if (name.includes('.tmp-')) {
        await rm(join(this.dir, name), { force: true });
        continue;
      }
      const path = join(this.dir, name);
      try {
        const [content, s] = await Promise.all([readFile(path, 'utf8'), stat(path)]);
        const hostCommandIdentifier = content.trim();
        if (hostCommandIdentifier === '') await rm(path, { force: true });
        else if (name.startsWith(POLLED_PREFIX)) out.push({ hostCommandIdentifier, startedAt: s.mtime });
        else out.push({ deploymentId: name, hostCommandIdentifier, startedAt: s.mtime });
      } catch (err) {
        if (errnoCode(err) !== 'ENOENT') throw err;
      }
    }
    // One command may have both files (killed between begin() and unpolled()): report it once.
    const seen = new Set<string>();
    return out
      .sort(
        (a, b) =>
          Number(a.deploymentId === undefined) - Number(b.deploymentId === undefined) || a.startedAt.getTime() - b.startedAt.getTime(),
      )
      .filter((o) => !seen.has(o.hostCommandIdentifier) && seen.add(o.hostCommandIdentifier));
  }

  /** Remove every file of this orphan (its deployment file and its polled marker). */
  async forget(orphan: OrphanedCommand): Promise<void> {
    if (orphan.deploymentId !== undefined) await rm(join(this.dir, orphan.deploymentId), { force: true });
    await rm(join(this.dir, polledName(orphan.hostCommandIdentifier)), { force: true });
    await syncDir(this.dir).catch(() => undefined);
  }
}

const POLLED_PREFIX = 'polled-';

function polledName(hostCommandIdentifier: string): string {
  return `${POLLED_PREFIX}${createHash('sha256').update(hostCommandIdentifier).digest('hex').slice(0, 40)}`;
}
