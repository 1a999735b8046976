/**
 * codedeploy-agent's command line: the daemon (start) and the operator subcommands. Each subcommand
 * parses its own arguments and returns an exit code; this module only dispatches, loading the
 * subcommand it runs and nothing else (start pulls in the AWS SDK, which `status` does not need).
 * The entry points are codedeploy-agent.ts (npm) and agent-main.ts (the release executable).
 */
import { packageVersion } from '../../common/version.js';
import type { CliIo } from '../../common/cli-io.js';
import { takeGlobalConfigFile, withGlobalConfigFile } from './config-option.js';
import { DEFAULT_CONFIG_FILE, FALLBACK_CONFIG_FILE } from '../config/agent-config.js';

const USAGE = `Usage: codedeploy-agent [--config_file PATH] <command> [options]

Commands:
  start [--config_file PATH]                      Run the agent (foreground; systemd Type=notify)
  stop [--timeout S] [--force]                    Stop the running agent (SIGTERM) and wait for it to exit
  restart [--force] [--timeout S]                 Stop the running agent, then run start (foreground)
  validate <bundle-dir | appspec-file> [--json]   Check an appspec (and a bundle's scripts and sources)
  logs [-f] [--deployment d-ID] [--group ID] [--json]
                                                  Print (or follow) a deployment's scripts.log
  status [--json]                                 Is the agent running, what does it do, last deployments
  doctor [--json]                                 Check this host for what the agent needs
  version                                         Print the agent version
  help                                            Show this help

Global option (the official agent's position; also accepted after the command):
  --config_file, --config-file PATH   Agent configuration for start, stop, restart, status, logs
                                      and doctor [default: ${DEFAULT_CONFIG_FILE}
                                      if it exists, else ${FALLBACK_CONFIG_FILE}]

Environment the agent reads:
  AWS_REGION, AWS_HOST_IDENTIFIER   Override the region and host identifier from the instance
                                    metadata (an on-premises file's values win over both)
  AWS_CA_BUNDLE                     PEM CA bundle for TLS to CodeDeploy, S3 and GitHub when
                                    :ca_bundle: is not set
  NOTIFY_SOCKET, WATCHDOG_USEC, WATCHDOG_PID
                                    Set by systemd (Type=notify, WatchdogSec=): readiness, status
                                    and watchdog pings go there
  HTTPS_PROXY, HTTP_PROXY, NO_PROXY Not read by the agent: set :proxy_uri: in the config file (the
                                    official key); hooks inherit them like the rest of the environment
  NODE_OPTIONS                      Ignored by the self-contained executable (it is meant for the
                                    applications hooks start); give the agent Node.js flags with
                                    codedeploy-agent --node-options='...' start. The npm-style
                                    install's node does read it.
  Hooks get the agent's environment minus credentials, tokens and systemd's variables.

Exit codes of start: 0 stopped by SIGTERM/SIGINT; 78 configuration error (systemd does not
restart it: RestartPreventExitStatus=78); 1 any other failure to start (retried). Each command
documents its own: "codedeploy-agent <command> --help".
`;

/** The commands that read the agent configuration (and so take --config_file). */
const CONFIG_COMMANDS = new Set(['start', 'stop', 'restart', 'status', 'logs', 'doctor']);

export async function runAgentCli(argv: string[], io: CliIo, env: NodeJS.ProcessEnv): Promise<number> {
  const global = takeGlobalConfigFile(argv);
  if ('error' in global) {
    io.stderr(`codedeploy-agent: ${global.error}\n\n${USAGE}`);
    return 2;
  }
  const [command, ...given] = global.rest;
  let rest = given;
  if (global.configFile !== undefined && command !== undefined && CONFIG_COMMANDS.has(command)) {
    const merged = withGlobalConfigFile(given, global.configFile);
    if (!Array.isArray(merged)) {
      io.stderr(`codedeploy-agent ${command}: ${merged.error}\n`);
      return 2;
    }
    rest = merged;
  } else if (global.configFile !== undefined && command === 'validate') {
    io.stderr(`codedeploy-agent validate: --config_file does not apply (validate reads no agent configuration); leave it out\n`);
    return 2;
  }
  switch (command) {
    // Subcommands are loaded on demand: start pulls in the AWS SDK, which `validate` does not need.
    case 'start':
      return (await import('./start-command.js')).runStart(rest, io, env);
    case 'stop':
      return (await import('./stop-command.js')).runStop(rest, io);
    case 'restart':
      return (await import('./stop-command.js')).runRestart(rest, io, env);
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
