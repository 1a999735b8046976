/**
 * Keep at most max_revisions deployment directories per group (docs/reference.md section 4.6), counting
 * the one being downloaded, and never delete the last successful one. Unlike the official agent
 * we also keep the most recent one (blue/green rollbacks read it) and delete without a shell, with
 * memory bounded whatever the number of entries in the old revisions (remove-tree.ts).
 */
import { stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Logger } from 'pino';
import { removeTree } from '../platform/remove-tree.js';
import { dirNamesIfExists } from '../platform/dir-names.js';

export interface RetentionRequest {
  groupDir: string;
  currentDeploymentDir: string;
  maxRevisions: number;
  protectedDirs: Array<string | undefined>;
  logger: Logger;
}

export async function pruneOldRevisions(req: RetentionRequest): Promise<string[]> {
  const names = await dirNamesIfExists(req.groupDir);
  const current = resolve(req.currentDeploymentDir);
  const candidates = names.map((n) => join(req.groupDir, n)).filter((p) => resolve(p) !== current);
  const extra = candidates.length - req.maxRevisions + 1;
  if (extra <= 0) return [];
  const protectedSet = new Set(req.protectedDirs.filter((d): d is string => d !== undefined).map((d) => resolve(d)));
  const withTimes = await Promise.all(
    candidates
      .filter((p) => !protectedSet.has(resolve(p)))
      .map(async (p) => ({ p, mtime: (await stat(p).catch(() => undefined))?.mtimeMs ?? 0 })),
  );
  withTimes.sort((a, b) => a.mtime - b.mtime);
  const doomed = withTimes.slice(0, extra).map((x) => x.p);
  for (const dir of doomed) {
    req.logger.info({ dir }, 'Deleting old deployment archive (max_revisions)');
    await removeTree(dir);
  }
  return doomed;
}
