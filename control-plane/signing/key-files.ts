/**
 * The control plane's key and certificate files (the spec-signing CA and signer, the TLS
 * certificate, the SNS signing key): written atomically with an exact mode, read with errors that
 * name the file, and private keys kept 0600. One place, so every key the control plane keeps is
 * handled the same way.
 */
import { chmod, readFile, stat } from 'node:fs/promises';
import type { Logger } from 'pino';
import { writeFileAtomic } from '../../common/atomic-file.js';
import { errnoCode } from '../../common/errors.js';

export const PUBLIC_MODE = 0o644;
export const SECRET_MODE = 0o600;

/** writeFileAtomic creates with `mode` minus the umask; chmod makes the mode exact. */
export async function writeKeyFile(path: string, content: string, mode: number): Promise<void> {
  await writeFileAtomic(path, content, { mode });
  await chmod(path, mode);
}

/** The file's text, or undefined when it does not exist. */
export async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw err;
  }
}

/** The text of a file an operator named (`what`: e.g. "--ca-cert"), with errors that say which and why. */
export async function readRequired(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT') throw new Error(`${what} file ${path} does not exist`, { cause: err });
    if (code === 'EACCES') throw new Error(`${what} file ${path} cannot be read (permission denied)`, { cause: err });
    throw err;
  }
}

/** A private key file of ours readable by others is made 0600 again, and said so. */
export async function tightenKeyMode(path: string, log: Logger): Promise<void> {
  const mode = (await stat(path)).mode & 0o777;
  if ((mode & 0o077) === 0) return;
  await chmod(path, SECRET_MODE);
  log.warn({ file: path, mode: `0${mode.toString(8)}` }, `${path} was readable by other users (mode 0${mode.toString(8)}); set it to 0600`);
}
