#!/usr/bin/env node
/**
 * codedeploy-agent: the daemon (start) and the operator subcommands. Each subcommand parses its
 * own arguments and returns an exit code; this file only dispatches.
 */
import { originalEnv } from './boot.js';
import { packageVersion } from '../../common/version.js';
import { processIo, type CliIo } from '../../common/cli-io.js';

const USAGE = `Usage: codedeploy-agent <command> [options]

Commands:
  start [--config_file PATH]                      Run the agent (foreground; systemd Type=notify)
  validate <bundle-dir | appspec-file> [--json]   Check an appspec (and a bundle's scripts and sources)
  logs [-f] [--deployment d-ID] [--group ID] [--json]
                                                  Print (or follow) a deployment's scripts.log
  status [--json]                                 Is the agent running, what does it do, last deployments
  doctor [--json]                                 Check this host for what the agent needs
  version                                         Print the agent version
  help                                            Show this help

Run "codedeploy-agent <command> --help" for a command's options.
`;

export async function runAgentCli(argv: string[], io: CliIo, env: NodeJS.ProcessEnv): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    // Subcommands are loaded on demand: start pulls in the AWS SDK, which `validate` does not need.
    case 'start':
      return (await import('./start-command.js')).runStart(rest, io, env);
    case 'validate':
      return (await import('./validate.js')).runValidate(rest, io);
    case 'logs':
      return (await import('./logs-command.js')).runLogs(rest, io, env);
    case 'status':
      return (await import('./status-command.js')).runStatus(rest, io);
    case 'doctor':
      return (await import('./doctor-command.js')).runDoctor(rest, io, env);
    case 'version':
    case '--version':
    case '-v':
      io.stdout(`${packageVersion()}\n`);
      return 0;
    case 'help':
    case '--help':
    case '-h':
      io.stdout(USAGE);
      return 0;
    case undefined:
      io.stderr(USAGE);
      return 2;
    default:
      io.stderr(`codedeploy-agent: unknown command "${command}"\n\n${USAGE}`);
      return 2;
  }
}

process.exitCode = await runAgentCli(process.argv.slice(2), processIo, originalEnv);
