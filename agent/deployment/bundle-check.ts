/**
 * What `codedeploy-agent validate` checks in a bundle directory before any deployment: the AppSpec
 * file the agent would load (appspec-loader's lookup order and confinement), its parse, its hook
 * names (a warning, with a "did you mean" suggestion, for a name that is not a lifecycle event:
 * custom events stay legal for codedeploy-local), and what the deployment will need from the bundle. Every path is confined by the rule the deployment applies
 * (common/path-confinement.ts), so validate and the deployment agree on what is inside:
 * - hook scripts: the location (a leading "/" is bundle-relative) and its real path must be inside,
 *   as in hooks/script-path.ts; a script that is not executable is a warning (the agent runs
 *   chmod +x at run time);
 * - files sources: inside lexically, and the directory they are in must really be inside; the
 *   source itself is not followed, because the installer copies a symlink as a link
 *   (install/fs-facts.ts checkSources).
 */
import { lstat, readFile, realpath, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { hookNameWarnings, parseAppSpec, type AppSpec, type AppSpecIssue, type SourceLocation } from '../../appspec/index.js';
import { toError } from '../../common/errors.js';
import { joinRootRelative, locateInside, type Location, type LocateOptions } from '../../common/path-confinement.js';
import { appSpecCandidates, appSpecPath } from './appspec-loader.js';
import { DEFAULT_HOOK_EVENTS } from './lifecycle.js';

export interface CheckReport {
  errors: AppSpecIssue[];
  warnings: AppSpecIssue[];
}

export interface CheckedFile {
  report: CheckReport;
  /** The AppSpec file checked (as the user named it), or the bundle directory when none was found. */
  file: string;
  spec?: AppSpec;
}

/** A problem that has no place in the appspec (a missing or unreadable file). */
function fileIssue(file: string, message: string): AppSpecIssue {
  return { message, file, path: '', line: 0, column: 0 };
}

/** Parse one AppSpec file; `displayName` is how messages name it. */
export async function checkAppSpecFile(path: string, displayName: string): Promise<CheckedFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    return {
      report: { errors: [fileIssue(displayName, `Cannot read the AppSpec file: ${toError(err).message}`)], warnings: [] },
      file: displayName,
    };
  }
  const result = parseAppSpec(text, displayName);
  if (!result.ok) return { report: { errors: result.errors, warnings: result.warnings }, file: displayName };
  const hookNames = hookNameWarnings(result.spec, DEFAULT_HOOK_EVENTS, ['DownloadBundle', 'Install']);
  return { report: { errors: [], warnings: [...result.warnings, ...hookNames] }, file: displayName, spec: result.spec };
}

/** Find the bundle's AppSpec file as the agent would (appSpecFilename defaults to appspec.yml), parse it, and check the bundle against it. */
export async function checkBundle(dir: string, appSpecFilename: string | undefined): Promise<CheckedFile> {
  const root = await realpath(dir);
  const names = appSpecCandidates(appSpecFilename ?? 'appspec.yml');
  for (const name of names) {
    const full = appSpecPath(root, name);
    if (full === undefined) {
      return {
        report: {
          errors: [fileIssue(join(dir, name), `The AppSpec file name ${name} resolves outside the bundle directory ${dir}`)],
          warnings: [],
        },
        file: join(dir, name),
      };
    }
    if (!(await isFile(full))) continue;
    const outcome = await checkAppSpecFile(full, join(dir, name));
    if (outcome.spec) {
      const checks = await checkBundleContents(root, dir, outcome.spec);
      outcome.report.errors.push(...checks.errors);
      outcome.report.warnings.push(...checks.warnings);
    }
    return outcome;
  }
  const message = `No AppSpec file found in the bundle directory ${dir} (looked for ${names.join(', ')})`;
  return { report: { errors: [fileIssue(dir, message)], warnings: [] }, file: dir };
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/** locateInside for a bundle-relative path; a path validate cannot read counts as missing (validate reports, it does not fail). */
async function locate(root: string, written: string, options?: LocateOptions): Promise<Location> {
  const path = joinRootRelative(root, written);
  try {
    return await locateInside(root, path, options);
  } catch {
    return { kind: 'missing', path };
  }
}

/** The hook scripts and files sources of `spec`, checked in the bundle at `root` (its real path); `dir` is how messages name it. */
async function checkBundleContents(root: string, dir: string, spec: AppSpec): Promise<CheckReport> {
  const report: CheckReport = { errors: [], warnings: [] };
  const add = (list: AppSpecIssue[], message: string, where: SourceLocation): void => {
    list.push({ message, ...where });
  };
  const shown = (written: string): string => join(dir, written.replace(/^\/+/, ''));
  for (const scripts of spec.hooks.values()) {
    for (const script of scripts) {
      const loc = script.location;
      const found = await locate(root, loc);
      const info = found.kind === 'inside' ? await stat(found.real).catch(() => undefined) : undefined;
      if (found.kind === 'outside') {
        add(report.errors, `Script at specified location: ${loc} resolves outside the bundle directory (${found.path})`, script.where);
      } else if (info === undefined) {
        add(report.errors, `Script does not exist at specified location: ${shown(loc)}`, script.where);
      } else if (info.isDirectory()) {
        add(report.errors, `Script at specified location: ${loc} is a directory, not a script`, script.where);
      } else if ((info.mode & 0o111) === 0) {
        add(
          report.warnings,
          `Script at specified location: ${loc} is not executable; the agent will make it executable (chmod +x) at run time`,
          script.where,
        );
      }
    }
  }
  for (const mapping of spec.files) {
    const found = await locate(root, mapping.source, { followLast: false });
    const exists =
      found.kind === 'inside' &&
      (await lstat(found.path).then(
        () => true,
        () => false,
      ));
    if (found.kind === 'outside') {
      add(report.errors, `The files source ${mapping.source} resolves outside the bundle directory (${found.path})`, mapping.where);
    } else if (!exists) {
      add(report.errors, `The files source ${mapping.source} does not exist in the bundle (${shown(mapping.source)})`, mapping.where);
    }
  }
  return report;
}
