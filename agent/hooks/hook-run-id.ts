/**
 * The marker every hook script run carries in its environment (the idea of Jenkins' process-tree
 * killer): a child that leaves the process group and the process tree (setsid, a double fork)
 * still inherits the variable, so on a timeout the runner finds it through /proc/<pid>/environ.
 */
import { randomBytes } from 'node:crypto';

export const HOOK_RUN_ID_VARIABLE = 'CODEDEPLOY_HOOK_RUN_ID';

/** A fresh, unguessable id for one script run. */
export function newHookRunId(): string {
  return randomBytes(12).toString('hex');
}
