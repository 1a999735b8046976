/**
 * The configuration codedeploy-local runs with (README, `codedeploy-local`):
 * - `-c FILE`: that file, which must exist (the official message when it does not);
 * - else the first of the default files that exists (/etc/codedeploy-agent/conf/codedeployagent.yml,
 *   then /opt/codedeploy-agent/conf/codedeployagent.yml, as the agent's own commands look);
 * - else, with no file at all: as root the built-in defaults (the official layout under
 *   /opt/codedeploy-agent and /var/log/aws/codedeploy-agent); as any other user a per-user root in
 *   the XDG state directory ($XDG_STATE_HOME/codedeploy-agent, or ~/.local/state/codedeploy-agent)
 *   with deployment-root/ and logs/ under it, and one line on stderr that says so.
 * Hooks' working directory: `:working_directory:` when the file sets it (it must exist, checked
 * before anything runs); else, when a config file was found and /opt/codedeploy-agent exists (the
 * agent's install directory, where the official agent's hooks run), that; else the caller's
 * current directory, as the official codedeploy-local's hooks inherit it.
 */
import { stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import {
  configWithOverrides,
  DEFAULT_CONFIG_FILE,
  FALLBACK_CONFIG_FILE,
  loadAgentConfig,
  type AgentConfig,
} from '../config/agent-config.js';
import { AgentError, ErrorCodes } from '../errors.js';

/** The host facts the choice depends on; tests replace them so the machine's own files do not matter. */
export interface LocalDefaults {
  /** Config files tried in order when -c is not given. */
  configFiles: readonly string[];
  /** The hooks' working directory when the config does not set one and this directory exists. */
  workingDirectory: string;
  /** Whether the process runs as root (euid 0). */
  isRoot: boolean;
}

export function hostLocalDefaults(): LocalDefaults {
  return {
    configFiles: [DEFAULT_CONFIG_FILE, FALLBACK_CONFIG_FILE],
    workingDirectory: '/opt/codedeploy-agent',
    isRoot: process.geteuid?.() === 0,
  };
}

export interface LocalConfig {
  config: Readonly<AgentConfig>;
  /** The config file read, or undefined when there is none (defaults). */
  file?: string;
  warnings: string[];
  /** One line for stderr when no config file was found: where deployments and the log go. */
  notice?: string;
}

async function isKind(path: string, kind: 'file' | 'directory'): Promise<boolean> {
  try {
    const s = await stat(path);
    return kind === 'file' ? s.isFile() : s.isDirectory();
  } catch {
    return false;
  }
}

/** $XDG_STATE_HOME/codedeploy-agent (when absolute, as the XDG spec requires), else ~/.local/state/codedeploy-agent. */
export function userStateDir(env: NodeJS.ProcessEnv): string {
  const xdg = env.XDG_STATE_HOME;
  if (xdg !== undefined && isAbsolute(xdg)) return join(xdg, 'codedeploy-agent');
  const home = env.HOME !== undefined && isAbsolute(env.HOME) ? env.HOME : homedir();
  return join(home, '.local', 'state', 'codedeploy-agent');
}

export async function resolveLocalConfig(o: {
  /** -c as given, or undefined. */
  configFile: string | undefined;
  cwd: string;
  env: NodeJS.ProcessEnv;
  defaults: LocalDefaults;
}): Promise<LocalConfig> {
  let file: string | undefined;
  if (o.configFile !== undefined) {
    file = resolve(o.cwd, o.configFile);
    if (!(await isKind(file, 'file'))) {
      throw new AgentError(ErrorCodes.CONFIG_INVALID, `configuration file ${o.configFile} does not exist or is not readable`);
    }
  } else {
    for (const candidate of o.defaults.configFiles) {
      if (await isKind(candidate, 'file')) {
        file = candidate;
        break;
      }
    }
  }

  let config: Readonly<AgentConfig>;
  let warnings: string[] = [];
  let workingDirectorySet = false;
  let notice: string | undefined;
  if (file !== undefined) {
    const loaded = await loadAgentConfig(file);
    config = loaded.config;
    warnings = loaded.warnings;
    workingDirectorySet = loaded.setKeys.has('working_directory');
  } else {
    const state = o.defaults.isRoot ? undefined : userStateDir(o.env);
    config = state
      ? configWithOverrides({ rootDir: join(state, 'deployment-root'), logDir: join(state, 'logs') }, `(per-user defaults under ${state})`)
      : configWithOverrides({}, '(built-in defaults)');
    notice =
      `codedeploy-local: no configuration file (${o.defaults.configFiles.join(', ')})${state ? ', not running as root' : ''}:` +
      ` deployments go to ${config.rootDir}, the log to ${join(config.logDir, 'codedeploy-local.log')} (use -c FILE to choose)\n`;
  }
  if (!workingDirectorySet) {
    // With no config file at all the agent is not installed here: a /opt/codedeploy-agent that
    // exists is then most likely the deployment root codedeploy-local itself made (as root), which
    // must not move the next run's hooks out of the caller's directory.
    const installed = file !== undefined && (await isKind(o.defaults.workingDirectory, 'directory'));
    const workingDirectory = installed ? o.defaults.workingDirectory : o.cwd;
    config = Object.freeze({ ...config, workingDirectory });
  }
  return { config, warnings, ...(file !== undefined ? { file } : {}), ...(notice ? { notice } : {}) };
}
