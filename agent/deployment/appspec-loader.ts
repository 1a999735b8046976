/**
 * Finds and parses the appspec of one revision. Lookup order (docs/reference.md section 5.7, applied to
 * Install and hooks alike, docs/design.md section 5): the spec's AppSpecFilename, then appspec.yaml,
 * then appspec.yml. The file name comes from the spec, so it must stay inside the archive.
 *
 * Every lifecycle command of a deployment reads the revision's appspec again (the file is read
 * each time, so what runs is what is on disk now); parsing its YAML is kept for identical text:
 * a small cache keyed on the file name and the exact text maps to the parsed model (pure data,
 * which its consumers only read).
 * Only valid appspecs are kept; an invalid one is parsed (and reported) every time.
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

/** Parsed appspecs by "<name>\0<exact text>", least recently used first (a few groups deploy at once). */
const parsed = new Map<string, AppSpec>();
const PARSED_ENTRIES = 8;
/** Longer appspecs are parsed every time (a real one is a few KB). */
const PARSED_MAX_CHARS = 64 * 1024;

function parseCached(text: string, name: string, archiveDir: string, path: string): AppSpec {
  const key = `${name}\0${text}`;
  const known = parsed.get(key);
  if (known) {
    parsed.delete(key);
    parsed.set(key, known);
    return known;
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
  if (text.length <= PARSED_MAX_CHARS) {
    parsed.set(key, result.spec);
    if (parsed.size > PARSED_ENTRIES) parsed.delete(parsed.keys().next().value as string);
  }
  return result.spec;
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
    return { spec: parseCached(text, name, archiveDir, path), path, name };
  }
  throw new AgentError(ErrorCodes.APPSPEC_MISSING, appSpecNotFoundMessage(archiveDir, appSpecFilename));
}
