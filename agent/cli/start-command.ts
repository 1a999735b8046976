/**
 * codedeploy-agent start [--config_file PATH]: runs the daemon in the foreground (systemd
 * Type=notify; no forking, no master process). SIGTERM and SIGINT stop it gracefully.
 */
import { loadAgentConfig } from '../config/agent-config.js';
import { runDaemon } from '../daemon.js';
import { toError } from '../../common/errors.js';
import { CONFIG_OPTION_HELP, parseConfigFileArgs } from './config-option.js';
import type { CliIo } from '../../common/cli-io.js';

export const START_USAGE = `Usage: codedeploy-agent start [--config_file PATH]

Runs the agent in the foreground: polls the CodeDeploy commands API for this host's commands and
runs them. Stop it with SIGTERM or SIGINT: polling stops at once, running commands get up to
:kill_agent_max_wait_time_seconds: to finish.

Options:
${CONFIG_OPTION_HELP}
  -h, --help                          Show this help
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
  try {
    const loaded = await loadAgentConfig(path);
    config = loaded.config;
    for (const w of loaded.warnings) io.stderr(`codedeploy-agent: warning: ${w}\n`);
  } catch (err) {
    io.stderr(`codedeploy-agent: ${toError(err).message}\n`);
    return 1;
  }
  return runDaemon({ config, env, report: (line) => io.stderr(`${line}\n`), stopSignal: stopSignal() });
}
