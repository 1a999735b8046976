/**
 * codedeploy-agent doctor [--json] [--config_file PATH]: checks what the agent needs from this
 * host (agent/ops/doctor/doctor-checks.ts) and says what to do about each problem. Exit 1 when any check
 * fails (warnings do not fail), 2 on a usage error.
 */
import { CONFIG_OPTION_HELP, parseConfigFileArgs } from './config-option.js';
import { runDoctorChecks } from '../ops/doctor/doctor-checks.js';
import { doctorJson, formatChecks, useUnicode } from '../ops/doctor/doctor-format.js';
import { doctorExitCode } from '../ops/doctor/doctor-rules.js';
import type { CliIo } from '../../common/cli-io.js';

export const DOCTOR_USAGE = `Usage: codedeploy-agent doctor [options]

Checks this host for what the agent needs: the config, the directories and their permissions,
free disk in root_dir, the host identity (on-premises file or EC2 instance metadata), the region
and endpoint, a real request to the endpoint (TLS included), the credentials and their expiry,
the clock, and the tools the last deployment needs. Each problem comes with what to do.
Works without root for what is readable; run it with sudo for the full picture.

Options:
  --json                              Print {"ok","summary","checks":[{"name","status","detail","hint"}]}
${CONFIG_OPTION_HELP}
  -h, --help                          Show this help

Exit codes: 0 no check failed (warnings allowed), 1 a check failed, 2 usage error.
`;

export interface DoctorContext {
  isTTY?: boolean;
  now?: () => Date;
}

export async function runDoctor(args: string[], io: CliIo, env: NodeJS.ProcessEnv, ctx: DoctorContext = {}): Promise<number> {
  const parsed = await parseConfigFileArgs('doctor', DOCTOR_USAGE, args, io, { json: true });
  if (typeof parsed === 'number') return parsed;
  const { configPath } = parsed;
  const results = await runDoctorChecks({ configPath, env, ...(ctx.now ? { now: ctx.now } : {}) });
  if (parsed.json) io.stdout(`${JSON.stringify(doctorJson(results))}\n`);
  else io.stdout(formatChecks(results, { unicode: useUnicode(env, ctx.isTTY ?? process.stdout.isTTY === true) }));
  return doctorExitCode(results);
}
