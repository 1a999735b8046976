/**
 * One way to say that a file the operator commands read is not readable: the commands are meant
 * to work without root where the files allow it (docs/design.md section 1), and when they do not, the
 * message names the path and says what to do.
 */
import { errnoCode, toError } from '../../common/errors.js';

export class OpsReadError extends Error {
  constructor(
    message: string,
    readonly path: string,
    readonly errno: string | undefined,
  ) {
    super(message);
    this.name = 'OpsReadError';
  }
}

export function isPermissionError(err: unknown): boolean {
  const code = errnoCode(err);
  return code === 'EACCES' || code === 'EPERM';
}

/** "permission denied reading X; run with sudo", or "cannot read X: <reason>". */
export function readError(path: string, err: unknown): OpsReadError {
  const code = errnoCode(err);
  if (isPermissionError(err)) return new OpsReadError(`permission denied reading ${path}; run with sudo`, path, code);
  return new OpsReadError(`cannot read ${path}: ${toError(err).message}`, path, code);
}
