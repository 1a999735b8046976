/**
 * codedeploy-agent start [--config_file PATH]: runs the daemon in the foreground (systemd
 * Type=notify; no forking, no master process). SIGTERM and SIGINT stop it gracefully.
 */
import { access } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { DEFAULT_CONFIG_FILE, FALLBACK_CONFIG_FILE, loadAgentConfig } from '../config/agent-config.js';
import { runDaemon } from '../daemon.js';
import { toError } from '../errors.js';
import type { CliIo } from './io.js';

export const START_USAGE = `Usage: codedeploy-agent start [--config_file PATH]

Runs the agent in the foreground: polls the CodeDeploy commands API for this host's commands and
runs them. Stop it with SIGTERM or SIGINT: polling stops at once, running commands get up to
:kill_agent_max_wait_time_seconds: to finish.

Options:
  --config_file, --config-file PATH   Agent configuration [default: ${DEFAULT_CONFIG_FILE} if it exists,
                                      else ${FALLBACK_CONFIG_FILE}]
  -h, --help                          Show this help
`;

export async function defaultConfigPath(): Promise<string> {
  try {
    await access(DEFAULT_CONFIG_FILE);
    return DEFAULT_CONFIG_FILE;
  } catch {
    return FALLBACK_CONFIG_FILE;
  }
}

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
  let values;
  try {
    values = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: { config_file: { type: 'string' }, 'config-file': { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    }).values;
  } catch (err) {
    io.stderr(`codedeploy-agent start: ${toError(err).message}\n\n${START_USAGE}`);
    return 2;
  }
  if (values.help) {
    io.stdout(START_USAGE);
    return 0;
  }
  const path = values.config_file ?? values['config-file'] ?? (await defaultConfigPath());
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
