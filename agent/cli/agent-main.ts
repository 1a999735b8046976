#!/usr/bin/env node
/**
 * The entry of the self-contained release executable: one file that is both codedeploy-agent and
 * codedeploy-local. It runs as codedeploy-local when invoked under that name (a symlink or a copy;
 * argv0 keeps the name the shell used, while execPath is the resolved file) or as
 * `codedeploy-agent local ...`; anything else is codedeploy-agent.
 *
 * Both CLIs run their main at import time from process.argv, so this module only shapes argv and
 * imports one of them: the npm bin entries keep working unchanged and nothing is duplicated.
 */
import { basename } from 'node:path';

const LOCAL_NAME = 'codedeploy-local';

/** Which program a command line asks for, and the arguments that program gets. */
export function pickProgram(argv0: string, argv: readonly string[]): { program: 'agent' | 'local'; args: string[] } {
  const invokedAs = [argv0, argv[1] ?? ''].map((p) => basename(p).replace(/\.(js|ts|mjs)$/, ''));
  if (invokedAs.some((name) => name.startsWith(LOCAL_NAME))) return { program: 'local', args: argv.slice(2) };
  if (argv[2] === 'local') return { program: 'local', args: argv.slice(3) };
  return { program: 'agent', args: argv.slice(2) };
}

const { program, args } = pickProgram(process.argv0, process.argv);
process.argv = [process.argv[0] ?? '', process.argv[1] ?? '', ...args];
if (program === 'local') {
  await import('./codedeploy-local.js');
} else {
  await import('./codedeploy-agent.js');
  // The agent's usage does not know it shares this file with codedeploy-local.
  if (['help', '--help', '-h'].includes(args[0] ?? '')) {
    process.stdout.write(
      `\nThis executable is also codedeploy-local: run it as "codedeploy-agent local [options]"\nor under the name codedeploy-local (e.g. a symlink); "codedeploy-agent local --help" for its options.\n`,
    );
  }
}
