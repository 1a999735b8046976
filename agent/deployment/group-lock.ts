/**
 * One writer per deployment group across processes (docs/design.md section 8): the daemon and any
 * number of codedeploy-local runs may target one group, and its instruction and cleanup files must
 * never be written by two of them at once. The lock is a flock on the group's own directory,
 * <root_dir>/<DGID> (common/file-lock.ts), so it dies with its holder and adds no file to
 * the official layout.
 */
import { acquireDirectoryLock, describeHolder, LockBusyError, type FileLock, type LockHolder } from '../../common/file-lock.js';
import type { DeploymentLayout } from './layout.js';

export interface GroupLockOptions {
  /** Wait for a busy group (the daemon) instead of failing with LockBusyError (codedeploy-local). */
  wait: boolean;
  signal?: AbortSignal;
  /** Told once when the group is busy and we start waiting. */
  onWait?: (holder: LockHolder) => void;
}

export async function lockDeploymentGroup(layout: DeploymentLayout, groupId: string, o: GroupLockOptions): Promise<FileLock> {
  const path = layout.groupDir(groupId);
  try {
    return await acquireDirectoryLock(path);
  } catch (err) {
    if (!(err instanceof LockBusyError) || !o.wait) throw err;
    o.onWait?.(err.holder);
    return acquireDirectoryLock(path, { wait: true, ...(o.signal ? { signal: o.signal } : {}) });
  }
}

/** The message codedeploy-local prints when another process is deploying into the group. */
export function groupBusyMessage(groupId: string, holder: LockHolder): string {
  return `deployment group ${groupId} is busy: ${describeHolder(holder)} is deploying into it. Wait for it to finish, or deploy into another group with -g.`;
}
