/**
 * The outbox of command results: a result is written here (fsynced) before anything else happens
 * to it and removed only once the control plane has acknowledged PutHostCommandComplete, so a
 * result survives outages of any length and agent restarts (docs/design.md section 8). One file per
 * host command under <root_dir>/pending-results/, named by a hash of its HostCommandIdentifier
 * (identifiers are opaque and may hold characters a file name cannot).
 *
 * Only the agent holding the host lock writes here, so there is one writer.
 */
import { createHash } from 'node:crypto';
import { readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { CommandOutcome } from '../deployment/diagnostics.js';
import { errnoCode } from '../../common/errors.js';
import { syncDir, writeFileAtomic } from '../../common/atomic-file.js';
import { dirNamesIfExists } from '../platform/dir-names.js';

export interface PendingResult {
  hostCommandIdentifier: string;
  /** For logs and operators; unknown when the command failed before its spec was read. */
  deploymentId?: string;
  commandName?: string;
  outcome: CommandOutcome;
  /** ISO time the outcome was recorded. */
  recordedAt: string;
}

export const PENDING_RESULTS_DIR = 'pending-results';

const SUFFIX = '.json';

export class PendingResultStore {
  constructor(readonly dir: string) {}

  private file(hostCommandIdentifier: string): string {
    return join(this.dir, `${createHash('sha256').update(hostCommandIdentifier).digest('hex').slice(0, 40)}${SUFFIX}`);
  }

  async put(result: PendingResult): Promise<void> {
    await writeFileAtomic(this.file(result.hostCommandIdentifier), `${JSON.stringify(result)}\n`, { mode: 0o600 });
  }

  async remove(hostCommandIdentifier: string): Promise<void> {
    await rm(this.file(hostCommandIdentifier), { force: true });
    await syncDir(this.dir).catch(() => undefined);
  }

  /**
   * Every result still to deliver, oldest first. Temp files of torn writes are removed; a file
   * that does not parse (which atomic writes rule out, short of disk corruption) is renamed
   * `<name>.unreadable` so it is kept for a human and never blocks the others.
   */
  async list(onUnreadable?: (path: string, err: unknown) => void): Promise<PendingResult[]> {
    const names = await dirNamesIfExists(this.dir);
    const out: PendingResult[] = [];
    for (const name of names) {
      const path = join(this.dir, name);
      if (name.includes('.tmp-')) {
        await rm(path, { force: true });
        continue;
      }
      if (!name.endsWith(SUFFIX)) continue;
      try {
        out.push(parsePendingResult(await readFile(path, 'utf8')));
      } catch (err) {
        if (errnoCode(err) === 'ENOENT') continue;
        onUnreadable?.(path, err);
        await rename(path, `${path}.unreadable`).catch(() => undefined);
      }
    }
    // ISO timestamps sort by code unit; localeCompare would load ICU's collation data (MiBs of RSS).
    return out.sort((a, b) => (a.recordedAt < b.recordedAt ? -1 : a.recordedAt > b.recordedAt ? 1 : 0));
  }
}

function parsePendingResult(text: string): PendingResult {
  const value = JSON.parse(text) as Partial<PendingResult>;
  const o = value.outcome;
  if (
    typeof value.hostCommandIdentifier !== 'string' ||
    value.hostCommandIdentifier === '' ||
    typeof value.recordedAt !== 'string' ||
    !o ||
    (o.status !== 'Succeeded' && o.status !== 'Failed') ||
    typeof o.diagnostics !== 'object'
  ) {
    throw new Error('not a pending result record');
  }
  return value as PendingResult;
}
