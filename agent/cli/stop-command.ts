/**
 * codedeploy-agent stop | restart: the official agent's operator verbs, for an agent started by
 * hand (outside systemd). stop sends the running agent SIGTERM - the graceful stop systemd also
 * uses - and waits for it to exit; restart is stop, then start in the foreground. The agent is
 * found through its host lock, never through the pid file alone (agent/ops/stop/agent-process.ts).
 * An agent that is a systemd unit's main process is left to systemctl unless --force.
 */
import type { CliIo } from '../../common/cli-io.js';
import { errnoCode, toError } from '../../common/errors.js';
import type { AgentConfig } from '../config/agent-config.js';
import { CONFIG_OPTION_HELP, loadConfigForOps, parseConfigFileArgs, usageError } from './config-option.js';
import {
  deploymentInProgress,
  findRunningAgent,
  systemctlCommand,
  systemdServiceOf,
  waitForExit,
  type SystemdOptions,
} from '../ops/stop/agent-process.js';

/** Added to the agent's own shutdown wait for the default --timeout (the unit's TimeoutStopSec has the same margin). */
const STOP_MARGIN_SECONDS = 60;

export const STOP_USAGE = `Usage: codedeploy-agent stop [--timeout SECONDS] [--force] [--config_file PATH]

Stops the running agent the way systemd does: sends it SIGTERM and waits until it has exited.
The agent stops polling at once, lets running deployments finish for up to
:kill_agent_max_wait_time_seconds:, then stops their hooks and reports them failed. Unlike the
official agent, stop does not refuse while a deployment runs (restart does).

The agent is the process that holds <pid_dir>/<program_name>.lock; a pid file left by a crash, or
a pid that another program now has, is never signalled. When the agent is the main process of a
systemd unit, stop refuses and says to use "systemctl stop codedeploy-agent" (systemd would see
its service die behind its back); --force stops it anyway.

Options:
  --timeout SECONDS                   How long to wait for the agent to exit [default:
                                      :kill_agent_max_wait_time_seconds: + :hook_kill_grace_seconds:
                                      + ${STOP_MARGIN_SECONDS}, 7270 with the defaults]; 0: send the signal, do not wait
  --force                             Stop an agent that systemd runs
${CONFIG_OPTION_HELP}
  -h, --help                          Show this help

Exit codes: 0 stopped, or nothing was running ("Nothing running that could be stopped"); 1 not
stopped (still running at the timeout, refused under systemd, no permission to signal it, error);
2 usage error. Run as the user the agent runs as, or with sudo.
`;

export const RESTART_USAGE = `Usage: codedeploy-agent restart [--force] [--timeout SECONDS] [--config_file PATH]

Stops the running agent (as "codedeploy-agent stop" does), then runs the agent in the foreground,
as "codedeploy-agent start" does: the command does not return while the new agent runs (the agent
never forks). With nothing running, it only starts. On a host where the agent is a service, use
"sudo systemctl restart codedeploy-agent" instead: restart refuses when the running agent is a
systemd unit's main process.

Like the official agent, restart refuses while a deployment is in progress (a command of the
running agent, or a fresh file in <root_dir>/ongoing-deployment/), with "... will not be shut down
right now, as a deployment is already in progress"; wait for it to finish, or use --force (the
agent then still lets the running deployment finish for up to :kill_agent_max_wait_time_seconds:).

Options:
  --force                             Restart even during a deployment, or when systemd runs the agent
  --timeout SECONDS                   How long to wait for the old agent to exit [default: as for stop]
${CONFIG_OPTION_HELP}
  -h, --help                          Show this help

Exit codes: those of start once the new agent runs (0 after a stop, 78 configuration error, 1
could not start); 1 when the running agent was not stopped; 2 usage error.
`;

export interface StopContext extends SystemdOptions {
  /** Poll interval while waiting for the exit (tests); default 200 ms. */
  intervalMs?: number;
}

interface StopArgs {
  configPath: string;
  force: boolean;
  timeoutSeconds: number | undefined;
}

/** stop's and restart's own flags, beside --config_file and --help. */
const STOP_FLAGS = { timeout: 'string', force: 'boolean' } as const;

/**
 * stop's or restart's options and the agent's config, or the exit code when that already is the
 * answer: 0 after --help, 2 after a usage error, 1 when the config cannot be read.
 */
async function parseStopArgs(
  command: 'stop' | 'restart',
  usage: string,
  args: string[],
  io: CliIo,
): Promise<{ args: StopArgs; config: Readonly<AgentConfig> } | number> {
  const parsed = await parseConfigFileArgs(command, usage, args, io, { flags: STOP_FLAGS });
  if (typeof parsed === 'number') return parsed;
  const { timeout, force } = parsed.flags;
  if (timeout !== undefined && (!/^\d+$/.test(timeout) || !Number.isSafeInteger(Number(timeout))))
    return usageError(io, command, `--timeout needs a whole number of seconds (0 or more), not "${timeout}"`, usage);
  const loaded = await loadConfigForOps(parsed.configPath);
  if ('error' in loaded) {
    io.stderr(`codedeploy-agent ${command}: ${loaded.error}\n`);
    return 1;
  }
  const timeoutSeconds = timeout === undefined ? undefined : Number(timeout);
  return { args: { configPath: parsed.configPath, force: force === true, timeoutSeconds }, config: loaded.config };
}

type StopOutcome = { stopped: true; pid?: number } | { stopped: false };

/** The shared part of stop and restart; prints as it goes. */
async function stopAgent(
  command: 'stop' | 'restart',
  config: Readonly<AgentConfig>,
  a: StopArgs,
  io: CliIo,
  ctx: StopContext,
): Promise<StopOutcome> {
  const name = config.programName;
  const fail = (message: string): StopOutcome => {
    io.stderr(`codedeploy-agent ${command}: ${message}\n`);
    return { stopped: false };
  };
  const found = await findRunningAgent(config, ctx);
  if (found.kind === 'error') return fail(found.message);
  for (const note of found.notes) io.stdout(`Note: ${note}\n`);
  if (found.kind === 'none') {
    io.stdout(command === 'stop' ? 'Nothing running that could be stopped\n' : `No AWS CodeDeploy agent running\n`);
    return { stopped: true };
  }
  const { pid } = found;

  const unit = await systemdServiceOf(pid, name, ctx);
  if (unit && !a.force) {
    return fail(
      `${name} (pid ${pid}) runs under systemd as ${unit.unit}: use "${systemctlCommand(command, unit)}" (systemd would otherwise ${command === 'stop' ? 'see its service die behind its back' : 'lose track of the agent'}), or --force to ${command} it here anyway`,
    );
  }
  if (command === 'restart') {
    io.stdout('Checking first if a deployment is already in progress\n');
    const inProgress = await deploymentInProgress(config, pid);
    if (inProgress && !a.force)
      return fail(
        `${name} (pid ${pid}) will not be shut down right now, as a deployment is already in progress (${inProgress}); try again when it has finished, or use --force`,
      );
  }

  const timeoutSeconds = a.timeoutSeconds ?? config.killAgentMaxWaitTimeSeconds + config.hookKillGraceSeconds + STOP_MARGIN_SECONDS;
  const busy = await deploymentInProgress(config, pid);
  try {
    process.kill(pid, 'SIGTERM');
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ESRCH') {
      io.stdout(`${name} (pid ${pid}) had already exited\n`);
      return { stopped: true, pid };
    }
    if (code === 'EPERM') return fail(`permission denied to signal ${name} (pid ${pid}): run "sudo codedeploy-agent ${command}"`);
    return fail(`could not signal ${name} (pid ${pid}): ${toError(err).message}`);
  }
  io.stdout(
    `Stopping ${name} (pid ${pid}): sent SIGTERM${busy ? `; running deployments get up to ${config.killAgentMaxWaitTimeSeconds} s to finish (${busy})` : ''}\n`,
  );
  if (timeoutSeconds === 0) {
    io.stdout(`Not waiting (--timeout 0): "codedeploy-agent status" says when it has stopped\n`);
    return { stopped: true, pid };
  }
  io.stdout(`Waiting up to ${timeoutSeconds} s for it to exit\n`);
  const started = Date.now();
  const exited = await waitForExit(pid, timeoutSeconds * 1000, {
    ...(ctx.procRoot !== undefined ? { procRoot: ctx.procRoot } : {}),
    ...(ctx.intervalMs !== undefined ? { intervalMs: ctx.intervalMs } : {}),
    progress: async (waited) => {
      const what = await deploymentInProgress(config, pid);
      io.stdout(`Still stopping after ${waited} s${what ? `: waiting for ${what}` : ''}\n`);
    },
  });
  if (!exited)
    return fail(
      `${name} (pid ${pid}) is still running ${timeoutSeconds} s after SIGTERM. It keeps stopping on its own; see "codedeploy-agent status" and its log. "kill -KILL ${pid}" ends it at once (running commands are then reported failed at the next start)`,
    );
  io.stdout(`Stopped ${name} (pid ${pid}) after ${Math.round((Date.now() - started) / 1000)} s\n`);
  return { stopped: true, pid };
}

export async function runStop(args: string[], io: CliIo, ctx: StopContext = {}): Promise<number> {
  const parsed = await parseStopArgs('stop', STOP_USAGE, args, io);
  if (typeof parsed === 'number') return parsed;
  return (await stopAgent('stop', parsed.config, parsed.args, io, ctx)).stopped ? 0 : 1;
}

export async function runRestart(args: string[], io: CliIo, env: NodeJS.ProcessEnv, ctx: StopContext = {}): Promise<number> {
  const parsed = await parseStopArgs('restart', RESTART_USAGE, args, io);
  if (typeof parsed === 'number') return parsed;
  const outcome = await stopAgent('restart', parsed.config, parsed.args, io, ctx);
  if (!outcome.stopped) return 1;
  io.stdout(`Starting ${parsed.config.programName} in the foreground (config ${parsed.args.configPath})\n`);
  const { runStart } = await import('./start-command.js');
  return runStart(['--config_file', parsed.args.configPath], io, env);
}
