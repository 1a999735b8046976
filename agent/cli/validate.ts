/**
 * codedeploy-agent validate <bundle-dir | appspec-file> [--json] [--appspec-filename NAME]
 *
 * Parses an appspec and prints every problem with its location. Given a bundle directory it also
 * checks what the deployment will need from the bundle: hook scripts and files sources must exist
 * inside it (symlinks followed), and scripts should be executable. Exit codes: 0 valid, 1 invalid,
 * 2 usage error.
 */
import { readFile, realpath, stat } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { formatIssue, parseAppSpec, type AppSpec, type AppSpecIssue, type SourceLocation } from '../../appspec/index.js';
import { errnoCode, toError } from '../../common/errors.js';
import type { CliIo } from '../../common/cli-io.js';

export const VALIDATE_USAGE = `Usage: codedeploy-agent validate <bundle-dir | appspec-file> [options]

Checks an AppSpec file and prints every problem with its location (file:line:column, key path).
Given a bundle directory, it reads appspec.yml (or appspec.yaml) and also checks that hook scripts
and files sources exist inside the bundle, and that scripts are executable.

Options:
  --json                     Print the result as JSON: {"valid","errors","warnings"}
  --appspec-filename NAME    The AppSpec file name inside the bundle (default appspec.yml)
  -h, --help                 Show this help

Exit codes: 0 valid, 1 invalid, 2 usage error.
`;

const DEFAULT_NAMES = ['appspec.yml', 'appspec.yaml'];

interface Report {
  errors: AppSpecIssue[];
  warnings: AppSpecIssue[];
}

class UsageError extends Error {}

export async function runValidate(args: string[], io: Pick<CliIo, 'stdout' | 'stderr'>): Promise<number> {
  let target: string;
  let json: boolean;
  let appSpecFilename: string | undefined;
  try {
    const parsed = parseCommandLine(args);
    if (parsed === 'help') {
      io.stdout(VALIDATE_USAGE);
      return 0;
    }
    ({ target, json, appSpecFilename } = parsed);
  } catch (err) {
    io.stderr(`codedeploy-agent validate: ${toError(err).message}\n\n${VALIDATE_USAGE}`);
    return 2;
  }

  let isDirectory: boolean;
  try {
    isDirectory = (await stat(target)).isDirectory();
  } catch (err) {
    const code = errnoCode(err);
    const reason = code === 'ENOENT' || code === 'ENOTDIR' ? 'no such file or directory' : toError(err).message;
    io.stderr(`codedeploy-agent validate: ${target}: ${reason}\n`);
    return 2;
  }
  if (!isDirectory && appSpecFilename !== undefined) {
    io.stderr(`codedeploy-agent validate: --appspec-filename applies only to a bundle directory\n\n${VALIDATE_USAGE}`);
    return 2;
  }

  const { report, file } = isDirectory ? await validateBundle(target, appSpecFilename) : await validateFile(target, target);
  print(io, report, file, json);
  return report.errors.length === 0 ? 0 : 1;
}

function parseCommandLine(args: string[]): 'help' | { target: string; json: boolean; appSpecFilename: string | undefined } {
  const { values, positionals } = parseArgs({
    args,
    options: {
      json: { type: 'boolean' },
      'appspec-filename': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: true,
    strict: true,
  });
  if (values.help) return 'help';
  if (positionals.length === 0) throw new UsageError('missing <bundle-dir | appspec-file> argument');
  if (positionals.length > 1) throw new UsageError(`expected one <bundle-dir | appspec-file> argument, got ${positionals.length}`);
  const name = values['appspec-filename'];
  if (name !== undefined && name.trim() === '') throw new UsageError('--appspec-filename must not be empty');
  return { target: positionals[0] as string, json: values.json === true, appSpecFilename: name };
}

/** A problem that has no place in the appspec (a missing or unreadable file). */
function fileIssue(file: string, message: string): AppSpecIssue {
  return { message, file, path: '', line: 0, column: 0 };
}

async function validateFile(path: string, displayName: string): Promise<{ report: Report; file: string; spec?: AppSpec }> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    return { report: { errors: [fileIssue(displayName, `Cannot read the AppSpec file: ${toError(err).message}`)], warnings: [] }, file: displayName };
  }
  const result = parseAppSpec(text, displayName);
  if (!result.ok) return { report: { errors: result.errors, warnings: result.warnings }, file: displayName };
  return { report: { errors: [], warnings: result.warnings }, file: displayName, spec: result.spec };
}

async function validateBundle(dir: string, appSpecFilename: string | undefined): Promise<{ report: Report; file: string }> {
  const root = await realpath(dir);
  // The same lookup as the agent (DESIGN.md section 5): the given name, then appspec.yaml, then appspec.yml.
  const names = appSpecFilename === undefined ? DEFAULT_NAMES : [...new Set([appSpecFilename, 'appspec.yaml', 'appspec.yml'])];
  for (const name of names) {
    const full = resolve(root, name.replace(/^\/+/, ''));
    if (!isInside(root, full)) {
      return { report: { errors: [fileIssue(join(dir, name), `The AppSpec file name ${name} resolves outside the bundle directory ${dir}`)], warnings: [] }, file: join(dir, name) };
    }
    if (!(await isFile(full))) continue;
    const display = join(dir, name);
    const outcome = await validateFile(full, display);
    if (outcome.spec) {
      const checks = await checkBundle(root, dir, outcome.spec);
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

function isInside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

type Resolved =
  | { kind: 'missing'; path: string }
  | { kind: 'outside'; path: string }
  | { kind: 'ok'; path: string; mode: number; isDirectory: boolean };

/** Where a bundle-relative path leads, symlinks followed; a leading "/" is bundle-relative. */
async function resolveInBundle(root: string, written: string): Promise<Resolved> {
  const lexical = resolve(root, written.replace(/^\/+/, ''));
  if (!isInside(root, lexical)) return { kind: 'outside', path: lexical };
  try {
    const real = await realpath(lexical);
    if (!isInside(root, real)) return { kind: 'outside', path: real };
    const info = await stat(real);
    return { kind: 'ok', path: real, mode: info.mode, isDirectory: info.isDirectory() };
  } catch {
    return { kind: 'missing', path: lexical };
  }
}

async function checkBundle(root: string, dir: string, spec: AppSpec): Promise<Report> {
  const report: Report = { errors: [], warnings: [] };
  const add = (list: AppSpecIssue[], message: string, where: SourceLocation): void => {
    list.push({ message, ...where });
  };
  for (const scripts of spec.hooks.values()) {
    for (const script of scripts) {
      const loc = script.location;
      const found = await resolveInBundle(root, loc);
      if (found.kind === 'missing') {
        add(report.errors, `Script does not exist at specified location: ${join(dir, loc.replace(/^\/+/, ''))}`, script.where);
      } else if (found.kind === 'outside') {
        add(report.errors, `Script at specified location: ${loc} resolves outside the bundle directory (${found.path})`, script.where);
      } else if (found.isDirectory) {
        add(report.errors, `Script at specified location: ${loc} is a directory, not a script`, script.where);
      } else if ((found.mode & 0o111) === 0) {
        add(report.warnings, `Script at specified location: ${loc} is not executable; the agent will make it executable (chmod +x) at run time`, script.where);
      }
    }
  }
  for (const mapping of spec.files) {
    const found = await resolveInBundle(root, mapping.source);
    if (found.kind === 'missing') {
      add(report.errors, `The files source ${mapping.source} does not exist in the bundle (${join(dir, mapping.source.replace(/^\/+/, ''))})`, mapping.where);
    } else if (found.kind === 'outside') {
      add(report.errors, `The files source ${mapping.source} resolves outside the bundle directory (${found.path})`, mapping.where);
    }
  }
  return report;
}

function print(io: Pick<CliIo, 'stdout'>, report: Report, file: string, json: boolean): void {
  const valid = report.errors.length === 0;
  if (json) {
    const item = (i: AppSpecIssue): Record<string, unknown> => ({ message: i.message, path: i.path, line: i.line, column: i.column, file: i.file });
    io.stdout(`${JSON.stringify({ valid, errors: report.errors.map(item), warnings: report.warnings.map(item) })}\n`);
    return;
  }
  const line = (kind: string, i: AppSpecIssue): string => (i.line > 0 ? `${kind}: ${formatIssue(i)}\n` : `${kind}: ${i.message} (at ${i.file})\n`);
  for (const issue of report.errors) io.stdout(line('error', issue));
  for (const issue of report.warnings) io.stdout(line('warning', issue));
  const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;
  const counts = `${plural(report.errors.length, 'error')}, ${plural(report.warnings.length, 'warning')}`;
  io.stdout(valid ? `${file}: valid (${counts})\n` : `${file}: invalid (${counts})\n`);
}
