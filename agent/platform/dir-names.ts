import { readdir } from 'node:fs/promises';
import { errnoCode } from '../../common/errors.js';

/** The names in a directory; none when it does not exist (yet). Other errors are thrown. */
export async function dirNamesIfExists(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return [];
    throw err;
  }
}
