/**
 * What the agent's subcommands (start, logs, status, doctor, stop, restart) share: the config
 * file they read, its flags and help line, and the message when it cannot be read. Light on
 * purpose: it loads neither the daemon nor the AWS SDK.
 */
import { access } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import type { CliIo } from '../../common/cli-io.js';
import { DEFAULT_CONFIG_FILE, FALLBACK_CONFIG_FILE, loadAgentConfig, type AgentConfig } from '../config/agent-config.js';
import { AgentError } from '../errors.js';
import { toError } from '../../common/errors.js';

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

const CONFIG_FLAGS = ['--config_file', '--config-file'];

/** The value of a --config_file/--config-file flag at args[i] ("--config_file X" or "--config_file=X"). */
function configFlagAt(args: readonly string[], i: number): { value: string | undefined; width: number } | undefined {
  const arg = args[i] ?? '';
  for (const flag of CONFIG_FLAGS) {
    if (arg === flag) return { value: args[i + 1], width: 2 };
    if (arg.startsWith(`${flag}=`)) return { value: arg.slice(flag.length + 1), width: 1 };
  }
  return undefined;
}

/**
 * The official position of the config flag, before the command (`codedeploy-agent --config_file X
 * start`, as the official GLI command line has it), taken off argv. Returns the command line that
 * is left and the file, or the usage problem.
 */
export function takeGlobalConfigFile(argv: readonly string[]): { configFile?: string; rest: string[] } | { error: string } {
  let configFile: string | undefined;
  let i = 0;
  for (let flag = configFlagAt(argv, i); flag; flag = configFlagAt(argv, i)) {
    if (flag.value === undefined || flag.value === '') return { error: `${argv[i]?.split('=')[0] ?? '--config_file'} needs a file path` };
    if (configFile !== undefined && configFile !== flag.value)
      return { error: `--config_file is given twice with different files (${configFile} and ${flag.value}); give it once` };
    configFile = flag.value;
    i += flag.width;
  }
  return { ...(configFile !== undefined ? { configFile } : {}), rest: argv.slice(i) };
}

/**
 * A subcommand's arguments with the global config file added (in front, so it stays before a
 * `--`), or the usage problem when the subcommand names a different file itself.
 */
export function withGlobalConfigFile(args: readonly string[], configFile: string | undefined): string[] | { error: string } {
  if (configFile === undefined) return [...args];
  for (let i = 0; i < args.length && args[i] !== '--'; i++) {
    const own = configFlagAt(args, i);
    if (own?.value !== undefined && own.value !== configFile)
      return {
        error: `--config_file is given twice with different files (${configFile} before the command, ${own.value} after it); give it once`,
      };
  }
  return ['--config_file', configFile, ...args];
}

export const CONFIG_OPTION_HELP = `  --config_file, --config-file PATH   Agent configuration [default: ${DEFAULT_CONFIG_FILE} if it exists,
                                      else ${FALLBACK_CONFIG_FILE}]`;

/** Prints a usage error with the usage under it (codedeploy-agent COMMAND: MESSAGE) and returns its exit code, 2. */
export function usageError(io: CliIo, command: string, message: string, usage: string): 2 {
  io.stderr(`codedeploy-agent ${command}: ${message}\n\n${usage}`);
  return 2;
}

/** A command's own flags beside the shared ones, by name: a flag that takes a value, or a switch. */
export type ExtraFlags = Readonly<Record<string, 'string' | 'boolean'>>;
/** What parseArgs found for each extra flag (undefined when not given). */
export type ExtraFlagValues<F extends ExtraFlags> = { [K in keyof F]: (F[K] extends 'string' ? string : boolean) | undefined };

/**
 * The flags start, status, doctor, stop and restart share (--config_file/--config-file, --help,
 * optionally --json), plus a command's own (opts.flags), parsed strictly. Returns the config path,
 * --json and the own flags' values, or the exit code when the command is already answered: 0 after
 * --help, 2 after a usage error (printed with the usage).
 */
export async function parseConfigFileArgs<const F extends ExtraFlags = Record<never, never>>(
  command: string,
  usage: string,
  args: string[],
  io: CliIo,
  opts: { json?: boolean; flags?: F } = {},
): Promise<{ configPath: string; json: boolean; flags: ExtraFlagValues<F> } | number> {
  const extra = Object.entries(opts.flags ?? {});
  let values: Record<string, string | boolean | undefined> & { config_file?: string; 'config-file'?: string };
  try {
    values = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        ...Object.fromEntries(extra.map(([name, type]) => [name, { type }])),
        ...(opts.json ? { json: { type: 'boolean' as const } } : {}),
        config_file: { type: 'string' },
        'config-file': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }).values;
  } catch (err) {
    return usageError(io, command, toError(err).message, usage);
  }
  if (values.help) {
    io.stdout(usage);
    return 0;
  }
  const flags = Object.fromEntries(extra.map(([name]) => [name, values[name]])) as ExtraFlagValues<F>;
  return { configPath: await configPathFrom(values), json: values.json === true, flags };
}
