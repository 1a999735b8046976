/**
 * Applies one permission operation: chmod (mode.value), setfacl --set (entry list from acl-list.ts
 * and the file's mode after chmod), semanage fcontext -a + restorecon -v on the realpath (recorded in
 * the cleanup list BEFORE it runs, so a crash cannot leave an untracked context), chown by name.
 * Failure messages are the official ones, with the failed argv joined by spaces.
 */
import { chmod, chown, lchown, realpath, stat } from 'node:fs/promises';
import { formatRange } from '../../appspec/format.js';
import { AgentError, ErrorCodes } from '../errors.js';
import { toError } from '../../common/errors.js';
import type { AccountLookup } from './accounts.js';
import { setfaclArgs } from './acl-list.js';
import type { CleanupRecorder } from './cleanup-file.js';
import type { Limit } from './fs-facts.js';
import * as msg from './install-messages.js';
import type { ChownOp, PermissionOp, SemanageOp } from './operations.js';
import { describeStatus, type ToolRunner } from '../platform/tool-runner.js';

export interface PermissionContext {
  tools: ToolRunner;
  accounts: AccountLookup;
  recorder: CleanupRecorder;
  /** semanage takes a global policy lock: its calls run one at a time. */
  semanageLock: Limit;
}

export async function applyPermission(op: PermissionOp, ctx: PermissionContext): Promise<void> {
  switch (op.type) {
    case 'chmod':
      await fsStep('change the mode of', op.file, () => chmod(op.file, op.mode.value));
      return;
    case 'setfacl': {
      const st = await fsStep('read', op.file, () => stat(op.file));
      const args = setfaclArgs(op.acl, st.mode, op.file);
      const result = await ctx.tools.run('setfacl', args);
      if (result.exitCode !== 0) {
        throw new AgentError(
          ErrorCodes.INSTALL_FAILED,
          msg.setfaclFailed(op.file, ['setfacl', ...args].join(' '), describeStatus(result)),
          {
            details: { stderr: result.stderr.trim() },
          },
        );
      }
      return;
    }
    case 'semanage':
      await ctx.semanageLock(() => applyContext(op, ctx));
      return;
    case 'chown':
      await applyOwner(op, ctx);
      return;
  }
}

/** The argv of `semanage fcontext -a [-s user] -t type [-r range] <path>`, without the program name. */
export function semanageArgs(op: SemanageOp, path: string): string[] {
  const { user, type, range } = op.context;
  return [
    'fcontext',
    '-a',
    ...(user !== undefined ? ['-s', user] : []),
    '-t',
    type,
    ...(range !== undefined ? ['-r', formatRange(range)] : []),
    path,
  ];
}

async function applyContext(op: SemanageOp, ctx: PermissionContext): Promise<void> {
  const real = await fsStep('resolve', op.file, () => realpath(op.file));
  await ctx.recorder.record([{ kind: 'semanage', path: real }]);
  for (const [tool, args] of [
    ['semanage', semanageArgs(op, real)],
    ['restorecon', ['-v', real]],
  ] as const) {
    const result = await ctx.tools.run(tool, args);
    if (result.exitCode !== 0) {
      throw new AgentError(ErrorCodes.INSTALL_FAILED, msg.contextFailed([tool, ...args].join(' '), describeStatus(result)), {
        details: { stderr: result.stderr.trim() },
      });
    }
  }
}

async function applyOwner(op: ChownOp, ctx: PermissionContext): Promise<void> {
  const where = op.from.permission.where;
  let uid = -1;
  let gid = -1;
  if (op.owner !== undefined) {
    const found = await ctx.accounts.uid(op.owner);
    if (found === undefined) throw new AgentError(ErrorCodes.INSTALL_FAILED, msg.unknownAccount('owner', op.owner, where));
    uid = found;
  }
  if (op.group !== undefined) {
    const found = await ctx.accounts.gid(op.group);
    if (found === undefined) throw new AgentError(ErrorCodes.INSTALL_FAILED, msg.unknownAccount('group', op.group, where));
    gid = found;
  }
  await fsStep('change the owner of', op.file, () => (op.noFollow ? lchown(op.file, uid, gid) : chown(op.file, uid, gid)));
}

async function fsStep<T>(what: string, path: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw new AgentError(ErrorCodes.INSTALL_FAILED, msg.operationFailed(what, path, toError(err).message), { cause: err });
  }
}
