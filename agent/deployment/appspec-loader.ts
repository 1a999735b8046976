/**
 * Finds and parses the appspec of one revision. Lookup order (docs/reference.md section 5.7, applied to
 * Install and hooks alike, docs/design.md section 5): the spec's AppSpecFilename, then appspec.yaml,
 * then appspec.yml. The file name comes from the spec, so it must stay inside the archive.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { formatIssue, parseAppSpec } from '../../appspec/index.js';
import type { AppSpec } from '../../appspec/model.js';
import { AgentError, ErrorCodes } from '../errors.js';
import { errnoCode } from '../../common/errors.js';
import { resolveInside } from '../../common/path-confinement.js';

const DOCS_URL = 'http://docs.aws.amazon.com/codedeploy/latest/userguide/reference-appspec-file.html';

export function appSpecNotFoundMessage(archiveDir: string, relPath: string): string {
  return (
    `The CodeDeploy agent did not find an AppSpec file within the unpacked revision directory at revision-relative path "${relPath}". ` +
    `The revision was unpacked to directory "${archiveDir}", and the AppSpec file was expected but not found at path "${join(archiveDir, relPath)}". ` +
    `Consult the AWS CodeDeploy Appspec documentation for more information at ${DOCS_URL}`
  );
}

/** The names looked for, in order: the spec's AppSpecFilename, then appspec.yaml, then appspec.yml. */
export function appSpecCandidates(appSpecFilename: string): string[] {
  return [...new Set([appSpecFilename, 'appspec.yaml', 'appspec.yml'])];
}

/**
 * The path of a candidate name (revision-relative, a leading "/" included), or undefined when it
 * leaves the revision directory or names the directory itself (an AppSpec file is a file in it).
 */
export function appSpecPath(archiveDir: string, name: string): string | undefined {
  return resolveInside(archiveDir, name, { allowRoot: false });
}

function confined(archiveDir: string, name: string): string {
  const full = appSpecPath(archiveDir, name);
  if (full === undefined) {
    throw new AgentError(ErrorCodes.PATH_ESCAPE, `The AppSpec file name "${name}" resolves outside the revision directory "${archiveDir}"`);
  }
  return full;
}

export interface LoadedAppSpec {
  spec: AppSpec;
  path: string;
  /** The name that matched (for messages such as "appspec.yml file contains unknown lifecycle events"). */
  name: string;
}

export async function loadAppSpec(archiveDir: string, appSpecFilename: string): Promise<LoadedAppSpec> {
  for (const name of appSpecCandidates(appSpecFilename)) {
    const path = confined(archiveDir, name);
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      const code = errnoCode(err);
      if (code === 'ENOENT' || code === 'ENOTDIR') continue;
      if (code === 'EISDIR') continue;
      throw err;
    }
    const result = parseAppSpec(text, name);
    if (!result.ok) {
      const [first, ...rest] = result.errors;
      const more =
        rest.length > 0
          ? ` (and ${rest.length} more problem${rest.length > 1 ? 's' : ''}: run "codedeploy-agent validate ${archiveDir}" to list them)`
          : '';
      throw new AgentError(ErrorCodes.APPSPEC_INVALID, `${first ? formatIssue(first) : 'invalid AppSpec file'}${more}`, {
        details: { file: path, errors: result.errors },
      });
    }
    return { spec: result.spec, path, name };
  }
  throw new AgentError(ErrorCodes.APPSPEC_MISSING, appSpecNotFoundMessage(archiveDir, appSpecFilename));
}
