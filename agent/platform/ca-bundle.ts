import { readFileSync } from 'node:fs';
import { AgentError, ErrorCodes } from '../errors.js';
import { toError } from '../../common/errors.js';

/**
 * The PEM text of a configured CA bundle (ca_bundle / AWS_CA_BUNDLE), read once when a client is
 * built, or undefined when none is configured. Shared by the commands API, S3 and GitHub clients.
 */
export function readCaBundle(path: string | undefined): string | undefined {
  if (!path) return undefined;
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new AgentError(ErrorCodes.CONFIG_INVALID, `Cannot read the CA bundle ${path}: ${toError(err).message}`, { cause: err });
  }
}
