#!/usr/bin/env node
/**
 * The entry of the self-contained release executable: one file that is both codedeploy-agent and
 * codedeploy-local. It runs as codedeploy-local when invoked under that name (a symlink or a copy;
 * argv0 keeps the name the shell used, while execPath is the resolved file) or as
 * `codedeploy-agent local ...`; anything else is codedeploy-agent.
 *
 * Start-up is most of what a short command costs, so this module loads only the program it runs
 * (the release bundles it as CommonJS, where a dynamic import is evaluated when reached) and
 * answers `--version` before loading either. No top-level await: the bundle is a CommonJS script,
 * the form whose V8 code cache Node's single executable applications use.
 */
import { originalEnv } from './boot.js';
import { writeSync } from 'node:fs';
import { basename } from 'node:path';
import { processIo } from '../../common/cli-io.js';
import { packageVersion } from '../../common/version.js';

const LOCAL_NAME = 'codedeploy-local';
const VERSION_ARGS = new Set(['version', '--version', '-v']);

/** Which program a command line asks for, and the arguments that program gets. */
export function pickProgram(argv0: string, argv: readonly string[]): { program: 'agent' | 'local'; args: string[] } {
  const invokedAs = [argv0, argv[1] ?? ''].map((p) => basename(p).replace(/\.(js|ts|mjs|cjs)$/, ''));
  if (invokedAs.some((name) => name.startsWith(LOCAL_NAME))) return { program: 'local', args: argv.slice(2) };
  if (argv[2] === 'local') return { program: 'local', args: argv.slice(3) };
  return { program: 'agent', args: argv.slice(2) };
}

async function main(): Promise<number> {
  const { program, args } = pickProgram(process.argv0, process.argv);
  process.argv = [process.argv[0] ?? '', process.argv[1] ?? '', ...args];
  if (program === 'local') return (await import('./local-main.js')).runLocalMain(args, originalEnv);
  if (args.length === 1 && VERSION_ARGS.has(args[0] ?? '')) {
    // Not through process.stdout, whose first use loads the stream modules (~8 ms of ~110).
    writeSync(1, `${packageVersion()}\n`);
    return 0;
  }
  const code = await (await import('./agent-cli.js')).runAgentCli(args, processIo, originalEnv);
  // The agent's usage does not know it shares this file with codedeploy-local.
  if (['help', '--help', '-h'].includes(args[0] ?? '')) {
    processIo.stdout(
      `\nThis executable is also codedeploy-local: run it as "codedeploy-agent local [options]"\nor under the name codedeploy-local (e.g. a symlink); "codedeploy-agent local --help" for its options.\n`,
    );
  }
  return code;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    // What a top-level await's rejection did: the stack on stderr, exit 1.
    process.exitCode = 1;
    throw err;
  },
);
