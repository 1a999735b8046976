/**
 * The start-up check of log_dir. Without it a bad log_dir shows up only once the first line is
 * written: codedeploy-local died of an unhandled stream error with a stack trace, and the daemon
 * ran on without any log. Both call this before creating their logger and stop with its message.
 */
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { AgentError, ErrorCodes } from '../errors.js';
import { errnoCode, toError } from '../../common/errors.js';
import { makeDirs, openAppendFile } from '../../common/file-modes.js';

export interface LogDirCheck {
  /** The log file the program will append to, in dir (checked too: it may exist and be unwritable). */
  fileName?: string;
  /** The agent config file, named in the message so the operator knows where :log_dir: is set. */
  configSource?: string;
}

/**
 * Creates dir (0750, parents too) when it is missing and proves that the program can write there.
 * Throws an AgentError (CONFIG_INVALID) whose message is one line naming the path, the reason and
 * what to do, e.g. "cannot write the log directory /x/y: EACCES (permission denied); fix its owner
 * or mode, or set :log_dir: in /etc/codedeploy-agent/conf/codedeployagent.yml".
 */
export async function assertLogDirWritable(dir: string, check: LogDirCheck = {}): Promise<void> {
  const hint = `fix its owner or mode, or set :log_dir:${check.configSource ? ` in ${check.configSource}` : ''}`;
  try {
    await makeDirs(dir);
    await access(dir, constants.W_OK | constants.X_OK);
  } catch (err) {
    throw new AgentError(ErrorCodes.CONFIG_INVALID, `cannot write the log directory ${dir}: ${describe(err)}; ${hint}`, {
      cause: err,
      details: { path: dir },
    });
  }
  if (check.fileName === undefined) return;
  const file = join(dir, check.fileName);
  try {
    const handle = await openAppendFile(file);
    await handle.close();
  } catch (err) {
    throw new AgentError(ErrorCodes.CONFIG_INVALID, `cannot write the log file ${file}: ${describe(err)}; ${hint}`, {
      cause: err,
      details: { path: file },
    });
  }
}

/** "EACCES (permission denied)" from Node's "EACCES: permission denied, mkdir '/x'". */
function describe(err: unknown): string {
  const code = errnoCode(err);
  const message = toError(err).message;
  if (code === undefined) return message;
  const reason = new RegExp(`^${code}: ([^,]+)`).exec(message)?.[1];
  return reason ? `${code} (${reason})` : code;
}
