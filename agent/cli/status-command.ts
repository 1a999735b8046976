/**
 * codedeploy-agent status [--json] [--config_file PATH]: is the daemon running, who is it, what
 * does it do now, and how did the last deployments per group go (agent/ops/status/status-report.ts).
 * Exit codes like `systemctl status`: 0 running, 3 not running, 1 error, 2 usage error.
 */
import { toError } from '../../common/errors.js';
import { CONFIG_OPTION_HELP, parseConfigFileArgs, loadConfigForOps } from './config-option.js';
import { buildStatusReport, formatStatus, gatherStatus } from '../ops/status/status-report.js';
import type { CliIo } from '../../common/cli-io.js';

export const STATUS_USAGE = `Usage: codedeploy-agent status [options]

Shows whether the agent daemon is running (pid, uptime, version), its identity and endpoint, the
command it runs now (deployment, lifecycle event, script, elapsed time, and a bundle download's
bytes, total, percent and rate), and the last deployments of each deployment group with their
result. Works without root when the files are readable.

Options:
  --json                              Print one JSON object (stable keys) instead of text
${CONFIG_OPTION_HELP}
  -h, --help                          Show this help

Exit codes: 0 running, 3 not running, 1 error, 2 usage error.
`;

export interface StatusContext {
  now?: () => Date;
}

export async function runStatus(args: string[], io: CliIo, ctx: StatusContext = {}): Promise<number> {
  const parsed = await parseConfigFileArgs('status', STATUS_USAGE, args, io, { json: true });
  if (typeof parsed === 'number') return parsed;
  const path = parsed.configPath;
  const loaded = await loadConfigForOps(path);
  if ('error' in loaded) {
    io.stderr(`codedeploy-agent status: ${loaded.error}\n`);
    return 1;
  }
  const { config } = loaded;
  try {
    const report = buildStatusReport(await gatherStatus(config), (ctx.now ?? (() => new Date()))());
    io.stdout(parsed.json ? `${JSON.stringify(report)}\n` : formatStatus(report, config.programName));
    return report.running ? 0 : 3;
  } catch (err) {
    io.stderr(`codedeploy-agent status: ${toError(err).message}\n`);
    return 1;
  }
}
