/**
 * codedeploy-agent logs [--follow|-f] [--deployment d-ID] [--group ID] [--json] [--config_file PATH]
 *
 * Prints a deployment's logs/scripts.log (default: the most recent deployment on this host), or
 * follows it like `tail -F` across deployments (agent/ops/logs/log-follower.ts). [stderr] lines are red
 * only when stdout is a terminal and NO_COLOR is not set. Ctrl-C ends following with exit 0.
 * Exit codes: 0 ok, 1 nothing to show or a file cannot be read, 2 usage error.
 */
import { parseArgs } from 'node:util';
import { toError } from '../../common/errors.js';
import { OpsReadError } from '../ops/access.js';
import { CONFIG_OPTION_HELP, configPathFrom, loadConfigForOps } from './config-option.js';
import { NoDeploymentError, streamDeploymentLogs, type DeploymentRef } from '../ops/logs/log-follower.js';
import { ScriptsLogParser } from '../ops/logs/scripts-log-parser.js';
import type { CliIo } from '../../common/cli-io.js';

export const LOGS_USAGE = `Usage: codedeploy-agent logs [options]

Prints a deployment's scripts.log (the output of its hook scripts): the most recent deployment on
this host unless --deployment or --group says which. With --follow it keeps printing lines as the
hooks write them and moves on to each new deployment as it starts, printing
"==> d-ID (group G) <==" when the deployment it prints from changes (like tail -F).

Options:
  -f, --follow                        Keep printing new lines (Ctrl-C to stop)
  --deployment d-ID                   This deployment
  --group ID                          Deployments of this deployment group only (its id, as under root_dir)
  --json                              One JSON object per line:
                                      {"time","deploymentId","event","script","stream","message"}
${CONFIG_OPTION_HELP}
  -h, --help                          Show this help

Exit codes: 0 ok, 1 nothing to show or a file cannot be read, 2 usage error.
`;

export interface LogsContext {
  /** stdout is a terminal (colour). Default process.stdout.isTTY. */
  isTTY?: boolean;
  /** Ends --follow. Default: SIGINT or SIGTERM, or stdout closing (EPIPE). */
  signal?: AbortSignal;
  /** Resolves when stdout can take more (backpressure). Default: process.stdout's drain. */
  waitDrain?: () => Promise<void>;
  pollMs?: number;
  scanMs?: number;
}

const RED = '\u001b[31m';
const RESET = '\u001b[0m';
const STDERR_LINE = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} \[stderr\]/;

interface ParsedArgs {
  follow: boolean;
  json: boolean;
  deploymentId?: string;
  groupId?: string;
  configPath: string;
}

async function parse(args: string[]): Promise<ParsedArgs | 'help'> {
  const { values } = parseArgs({
    args,
    strict: true,
    allowPositionals: false,
    options: {
      follow: { type: 'boolean', short: 'f' },
      deployment: { type: 'string' },
      group: { type: 'string' },
      json: { type: 'boolean' },
      config_file: { type: 'string' },
      'config-file': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return 'help';
  for (const [flag, value] of [
    ['--deployment', values.deployment],
    ['--group', values.group],
  ] as const) {
    // Names of directories under root_dir: no path separators, no "." or "..".
    if (value !== undefined && (value.trim() === '' || /[/\\]/.test(value) || value === '.' || value === '..')) {
      throw new Error(`${flag} must be a deployment${flag === '--group' ? ' group' : ''} id, not "${value}"`);
    }
  }
  return {
    follow: values.follow === true,
    json: values.json === true,
    ...(values.deployment !== undefined ? { deploymentId: values.deployment.trim() } : {}),
    ...(values.group !== undefined ? { groupId: values.group.trim() } : {}),
    configPath: await configPathFrom(values),
  };
}

/** Default context: Ctrl-C / SIGTERM / a closed stdout end following; stdout backpressure honoured. */
function processContext(): { ctx: Required<Pick<LogsContext, 'signal' | 'waitDrain'>>; dispose: () => void } {
  const controller = new AbortController();
  const stop = (): void => controller.abort();
  const onError = (err: unknown): void => {
    if ((err as { code?: unknown }).code === 'EPIPE') controller.abort();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  process.stdout.on('error', onError);
  return {
    ctx: {
      signal: controller.signal,
      waitDrain: () =>
        process.stdout.writableNeedDrain && !controller.signal.aborted
          ? new Promise<void>((resolve) => {
              const done = (): void => {
                process.stdout.off('drain', done);
                controller.signal.removeEventListener('abort', done);
                resolve();
              };
              process.stdout.once('drain', done);
              controller.signal.addEventListener('abort', done, { once: true });
            })
          : Promise.resolve(),
    },
    dispose: () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      process.stdout.off('error', onError);
    },
  };
}

export async function runLogs(args: string[], io: CliIo, env: NodeJS.ProcessEnv, ctx: LogsContext = {}): Promise<number> {
  let parsed: ParsedArgs | 'help';
  try {
    parsed = await parse(args);
  } catch (err) {
    io.stderr(`codedeploy-agent logs: ${toError(err).message}\n\n${LOGS_USAGE}`);
    return 2;
  }
  if (parsed === 'help') {
    io.stdout(LOGS_USAGE);
    return 0;
  }
  const loaded = await loadConfigForOps(parsed.configPath);
  if ('error' in loaded) {
    io.stderr(`codedeploy-agent logs: ${loaded.error}\n`);
    return 1;
  }
  const { config } = loaded;
  const colour = (ctx.isTTY ?? process.stdout.isTTY === true) && !env.NO_COLOR;
  const defaults = ctx.signal && ctx.waitDrain ? undefined : processContext();
  const signal = ctx.signal ?? defaults?.ctx.signal;
  const waitDrain = ctx.waitDrain ?? defaults?.ctx.waitDrain ?? (() => Promise.resolve());
  const parsers = new Map<string, ScriptsLogParser>();
  const parserFor = (ref: DeploymentRef): ScriptsLogParser => {
    const key = `${ref.deploymentGroupId}/${ref.deploymentId}`;
    let parser = parsers.get(key);
    if (!parser) {
      parser = new ScriptsLogParser(ref.deploymentId);
      parsers.set(key, parser);
    }
    return parser;
  };

  try {
    await streamDeploymentLogs({
      rootDir: config.rootDir,
      trackingName: config.ongoingDeploymentTracking,
      follow: parsed.follow,
      ...(parsed.deploymentId !== undefined ? { deploymentId: parsed.deploymentId } : {}),
      ...(parsed.groupId !== undefined ? { groupId: parsed.groupId } : {}),
      ...(signal ? { signal } : {}),
      ...(ctx.pollMs !== undefined ? { pollMs: ctx.pollMs } : {}),
      ...(ctx.scanMs !== undefined ? { scanMs: ctx.scanMs } : {}),
      onHeader: (ref) => {
        if (parsed.follow && !parsed.json) io.stdout(`==> ${ref.deploymentId} (group ${ref.deploymentGroupId}) <==\n`);
      },
      onLines: async (lines, ref) => {
        let text: string;
        if (parsed.json) {
          const parser = parserFor(ref);
          text = lines.map((line) => `${JSON.stringify(parser.parse(line))}\n`).join('');
        } else if (colour) {
          text = lines.map((line) => (STDERR_LINE.test(line) ? `${RED}${line}${RESET}\n` : `${line}\n`)).join('');
        } else {
          text = `${lines.join('\n')}\n`;
        }
        io.stdout(text);
        await waitDrain();
      },
      onNotice: (text) => io.stderr(`codedeploy-agent logs: ${text}\n`),
    });
    return 0;
  } catch (err) {
    if (err instanceof NoDeploymentError || err instanceof OpsReadError) {
      io.stderr(`codedeploy-agent logs: ${err.message}\n`);
      return 1;
    }
    io.stderr(`codedeploy-agent logs: ${toError(err).message}\n`);
    return 1;
  } finally {
    defaults?.dispose();
  }
}
