/**
 * codedeploy-agent start [--config_file PATH]: runs the daemon in the foreground (systemd
 * Type=notify; no forking, no master process). SIGTERM and SIGINT stop it gracefully. Exit codes:
 * 0 after a stop, 78 (EX_CONFIG) for a configuration error, 1 for any other failure to start.
 */
import { loadAgentConfig } from '../config/agent-config.js';
import { runDaemon } from '../daemon.js';
import { toError } from '../../common/errors.js';
import { startExitCode } from '../errors.js';
import { CONFIG_OPTION_HELP, parseConfigFileArgs } from './config-option.js';
import type { CliIo } from '../../common/cli-io.js';

export const START_USAGE = `Usage: codedeploy-agent start [--config_file PATH]

Runs the agent in the foreground: polls the CodeDeploy commands API for this host's commands and
runs them. Stop it with SIGTERM or SIGINT ("codedeploy-agent stop", "systemctl stop
codedeploy-agent"): polling stops at once, running commands get up to
:kill_agent_max_wait_time_seconds: to finish. The config flag may also come before the command
("codedeploy-agent --config_file PATH start", the official position).

Options:
${CONFIG_OPTION_HELP}
  -h, --help                          Show this help

Exit codes:
  0   stopped by SIGTERM or SIGINT
  78  configuration error (EX_CONFIG): the config file is missing, unreadable or invalid, a value
      is wrong, :user:/:group: does not exist, :deployment_spec_ca_file: cannot be read or holds
      no certificate, :log_dir: cannot be written (permissions). The unit's
      RestartPreventExitStatus=78 stops systemd from retrying: fix it, then start again.
  1   any other failure to start: no identity or region yet (instance metadata), the network,
      credentials, another agent still holding the host lock, a full disk. systemd retries
      (Restart=on-failure, every 10 s).
  2   usage error
`;

export function stopSignal(): Promise<string> {
  return new Promise((resolve) => {
    const handler = (signal: NodeJS.Signals) => {
      process.off('SIGTERM', handler);
      process.off('SIGINT', handler);
      resolve(signal);
    };
    process.on('SIGTERM', handler);
    process.on('SIGINT', handler);
  });
}

export async function runStart(args: string[], io: CliIo, env: NodeJS.ProcessEnv): Promise<number> {
  const parsed = await parseConfigFileArgs('start', START_USAGE, args, io);
  if (typeof parsed === 'number') return parsed;
  const path = parsed.configPath;
  let config;
  let configWarnings: readonly string[] = [];
  try {
    const loaded = await loadAgentConfig(path);
    config = loaded.config;
    configWarnings = loaded.warnings;
    for (const w of loaded.warnings) io.stderr(`codedeploy-agent: warning: ${w}\n`);
  } catch (err) {
    io.stderr(`codedeploy-agent: ${toError(err).message}\n`);
    return startExitCode(err);
  }
  return runDaemon({ config, env, configWarnings, report: (line) => io.stderr(`${line}\n`), stopSignal: stopSignal() });
}
