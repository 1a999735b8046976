/**
 * codedeploy-agent validate <bundle-dir | appspec-file> [--json] [--appspec-filename NAME]
 *
 * Parses an appspec and prints every problem with its location. Given a bundle directory it also
 * checks what the deployment will need from the bundle (deployment/bundle-check.ts, with the
 * deployment's own lookup and confinement rules). Exit codes: 0 valid, 1 invalid, 2 usage error.
 */
import { stat } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { formatIssue, type AppSpecIssue } from '../../appspec/index.js';
import { errnoCode, toError } from '../../common/errors.js';
import type { CliIo } from '../../common/cli-io.js';
import { checkAppSpecFile, checkBundle, type CheckReport } from '../deployment/bundle-check.js';

export const VALIDATE_USAGE = `Usage: codedeploy-agent validate <bundle-dir | appspec-file> [options]

Checks an AppSpec file and prints every problem with its location (file:line:column, key path).
Given a bundle directory, it reads appspec.yml (or appspec.yaml) and also checks that hook scripts
and files sources exist inside the bundle, and that scripts are executable. A hook name that is not
a lifecycle event is a warning, with a "did you mean" suggestion when one is close.

Options:
  --json                     Print the result as JSON: {"valid","errors","warnings"}
  --appspec-filename NAME    The AppSpec file name inside the bundle (default appspec.yml)
  -h, --help                 Show this help

Exit codes: 0 valid, 1 invalid, 2 usage error.
`;

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

  const { report, file } = isDirectory ? await checkBundle(target, appSpecFilename) : await checkAppSpecFile(target, target);
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

function print(io: Pick<CliIo, 'stdout'>, report: CheckReport, file: string, json: boolean): void {
  const valid = report.errors.length === 0;
  if (json) {
    const item = (i: AppSpecIssue): Record<string, unknown> => ({
      message: i.message,
      path: i.path,
      line: i.line,
      column: i.column,
      file: i.file,
    });
    io.stdout(`${JSON.stringify({ valid, errors: report.errors.map(item), warnings: report.warnings.map(item) })}\n`);
    return;
  }
  const line = (kind: string, i: AppSpecIssue): string =>
    i.line > 0 ? `${kind}: ${formatIssue(i)}\n` : `${kind}: ${i.message} (at ${i.file})\n`;
  for (const issue of report.errors) io.stdout(line('error', issue));
  for (const issue of report.warnings) io.stdout(line('warning', issue));
  const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;
  const counts = `${plural(report.errors.length, 'error')}, ${plural(report.warnings.length, 'warning')}`;
  io.stdout(valid ? `${file}: valid (${counts})\n` : `${file}: invalid (${counts})\n`);
}
