/**
 * What the operator commands (logs, status, doctor) share: the config file they read (the same
 * default as `start`, without importing start-command.ts, which loads the daemon and the AWS SDK)
 * and the message when it cannot be read.
 */
import { access } from 'node:fs/promises';
import { DEFAULT_CONFIG_FILE, FALLBACK_CONFIG_FILE, loadAgentConfig, type AgentConfig } from '../config/agent-config.js';
import { AgentError, toError } from '../errors.js';

export async function defaultConfigFile(): Promise<string> {
  try {
    await access(DEFAULT_CONFIG_FILE);
    return DEFAULT_CONFIG_FILE;
  } catch {
    return FALLBACK_CONFIG_FILE;
  }
}

export async function configPathFrom(values: { config_file?: string | undefined; 'config-file'?: string | undefined }): Promise<string> {
  return values.config_file ?? values['config-file'] ?? (await defaultConfigFile());
}

/** The config, or the message to print (permission problems say to use sudo). */
export async function loadConfigForOps(path: string): Promise<{ config: Readonly<AgentConfig> } | { error: string }> {
  try {
    return { config: (await loadAgentConfig(path)).config };
  } catch (err) {
    const errno = err instanceof AgentError ? err.details.errno : undefined;
    if (errno === 'EACCES' || errno === 'EPERM') return { error: `permission denied reading ${path}; run with sudo` };
    return { error: toError(err).message };
  }
}

export const CONFIG_OPTION_HELP = `  --config_file, --config-file PATH   Agent configuration [default: ${DEFAULT_CONFIG_FILE} if it exists,
                                      else ${FALLBACK_CONFIG_FILE}]`;
