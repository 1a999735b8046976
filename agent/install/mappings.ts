/**
 * The files entries of an appspec resolved to absolute paths, and the path helpers the planner and
 * its ports share. Confinement is common/path-confinement.ts (the rule validate uses too).
 */
import { resolve, sep } from 'node:path';
import type { AppSpec } from '../../appspec/model.js';
import { resolveInside } from '../../common/path-confinement.js';
import { AgentError, ErrorCodes } from '../errors.js';
import * as msg from './install-messages.js';
import type { ResolvedMapping } from './operations.js';

/** Official precedence (docs/reference.md section 5.6): the appspec's value, then the spec's, then DISALLOW. */
export function effectiveFileExistsBehavior(appspec: AppSpec, specValue: string | undefined): string {
  return appspec.fileExistsBehavior ?? specValue ?? 'DISALLOW';
}

/**
 * join(dir, name) for an absolute, normalised dir and a directory entry's name (no separator, never
 * "." or ".."): the same result without join's normalisation pass, which the per-file walks skip.
 */
export function childPath(dir: string, name: string): string {
  return dir.endsWith(sep) ? dir + name : dir + sep + name;
}

/**
 * Resolve every files entry: the source inside the archive (lexically; the executor also checks that
 * no symlink on the way leads outside), the destination against baseDir. Throws PATH_ESCAPE.
 */
export function resolveMappings(appspec: AppSpec, archiveDir: string, baseDir: string): ResolvedMapping[] {
  return appspec.files.map((file, index) => {
    const source = resolveInside(archiveDir, file.source);
    if (source === undefined) {
      throw new AgentError(ErrorCodes.PATH_ESCAPE, msg.sourceEscapes(file.where, file.source), {
        details: { entry: file.where.path, source: file.source },
      });
    }
    return { index, source, destination: resolve(baseDir, file.destination) };
  });
}
