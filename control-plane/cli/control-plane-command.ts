/**
 * `codedeploy-control-plane`: flags, start, and a clean stop on SIGINT/SIGTERM. Flags are parsed
 * with node:util parseArgs (no hand-written option parsing); every value is checked here so a
 * typo is a one-line error naming the flag, not a stack trace.
 */
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { Logger } from 'pino';
import type { CliIo } from '../../common/cli-io.js';
import { createLogger } from '../../common/logger.js';
import { packageVersion } from '../../common/version.js';
import { startControlPlane, type ControlPlane } from '../server.js';
import { runAddHostCli } from './add-host-command.js';
import { ENDPOINT_FLAG_OPTIONS, ENDPOINT_FLAGS_HELP, endpointBannerLines, readEndpointFlags } from './endpoint-flags.js';
import { chooseLogFormat, logDestination, useColor, type LogFormat } from './log-format.js';

export const CONTROL_PLANE_HELP = `Usage: codedeploy-control-plane [options]
       codedeploy-control-plane add-host NAME [--tag KEY=VALUE ...] [--start]   (see add-host --help)

A local CodeDeploy control plane: the agent-facing commands API (long poll, signed deployment
specifications), the public CodeDeploy API for the aws CLI and SDKs, an S3-compatible endpoint,
a GitHub-compatible archive endpoint and push webhook, the Elastic Load Balancing v2 API of local
HTTP load balancers (aws elbv2), a small SNS for deployment notifications (aws sns), STS
GetCallerIdentity, and a web console for browsers at /, all on one port, with state in SQLite.
Each load balancer listener opens its own port on --host.

Options:
  --data-dir DIR          state (SQLite, CA, S3 objects); default ~/.local/share/codedeploy-control-plane
  --host ADDR             listen address (default 127.0.0.1; 0.0.0.0 in containers)
  --port N                listen port (default 8080; 0 picks a free one)
  --region NAME           region in ARNs and specs (default us-east-1)
  --account-id ID         12-digit account id in ARNs (default 000000000000)
  --github-repos-dir DIR  local git repositories served as <owner>/<repo> (default DATA_DIR/github)
  --push-config FILE      deploy on push: which groups follow which repository and branch, and the
                          webhook secret (default DATA_DIR/push-deployments.yml; absent: off);
                          GitHub push webhooks go to POST /github/webhook
  --command-timeout S     a host command not completed within S seconds fails (default 4200)
  --long-poll S           how long PollHostCommand waits for work (default 45)
  --allow-traffic-timeout S
                          AllowTraffic fails a host not healthy in its target groups within S
                          seconds of its registration (default 300)
  --ca-cert FILE          sign deployment specifications with this CA certificate (PEM) ...
  --ca-key FILE           ... and its PKCS#8 private key (default: a CA created in DATA_DIR/ca)
${ENDPOINT_FLAGS_HELP}  --log-level LEVEL       trace|debug|info|warn|error (default info); logs go to stdout
  --log-format FORMAT     json|pretty (default: pretty on a terminal, JSON lines otherwise)
  --version               print the version
  -h, --help              this help

Point agents at it with, in codedeployagent.yml:
  :deploy_control_endpoint: http://HOST:PORT
  :s3_endpoint_override: http://HOST:PORT
  :github_api_url: http://HOST:PORT/github
  :deployment_spec_ca_file: DATA_DIR/ca/ca.pem
  :ca_bundle: DATA_DIR/ca/ca.pem        (with --tls, and https:// above)
and the aws CLI with --endpoint-url http://HOST:PORT (any credentials are accepted; with --tls,
https://HOST:PORT and --ca-bundle DATA_DIR/ca/ca.pem).
Or let add-host register a host and write its files: codedeploy-control-plane add-host NAME --tag env=dev
`;

export interface ControlPlaneCliOptions {
  io: CliIo;
  env: NodeJS.ProcessEnv;
  /** Resolves when the process should stop (signals); tests pass their own. */
  stopSignal: Promise<string>;
  /** Called once listening (tests). */
  onListening?: (cp: ControlPlane) => void;
  logger?: Logger;
  /** Whether stdout is a terminal (readable logs by default); default false. */
  stdoutIsTTY?: boolean;
}

function positiveNumber(flag: string, text: string | undefined, fallback: number, allowZero = false): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isFinite(n) || n < 0 || (!allowZero && n === 0))
    throw new UsageError(`${flag} must be a ${allowZero ? 'non-negative' : 'positive'} number, got "${text}"`);
  return n;
}

class UsageError extends Error {}

export async function runControlPlaneCli(argv: string[], o: ControlPlaneCliOptions): Promise<number> {
  // Subcommands come first; without one, this is the server.
  if (argv[0] === 'add-host') return runAddHostCli(argv.slice(1), { io: o.io, env: o.env, stopSignal: o.stopSignal });
  if (argv[0] !== undefined && !argv[0].startsWith('-')) {
    o.io.stderr(`codedeploy-control-plane: unknown command "${argv[0]}" (the one command is add-host; no command starts the server)\n`);
    return 2;
  }
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        'data-dir': { type: 'string' },
        host: { type: 'string' },
        port: { type: 'string' },
        region: { type: 'string' },
        'account-id': { type: 'string' },
        'github-repos-dir': { type: 'string' },
        'push-config': { type: 'string' },
        'command-timeout': { type: 'string' },
        'long-poll': { type: 'string' },
        'allow-traffic-timeout': { type: 'string' },
        'ca-cert': { type: 'string' },
        'ca-key': { type: 'string' },
        ...ENDPOINT_FLAG_OPTIONS,
        'log-level': { type: 'string' },
        'log-format': { type: 'string' },
        version: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    o.io.stderr(`codedeploy-control-plane: ${(err as Error).message}\nRun codedeploy-control-plane --help for the options.\n`);
    return 2;
  }
  if (values.help) {
    o.io.stdout(CONTROL_PLANE_HELP);
    return 0;
  }
  if (values.version) {
    o.io.stdout(`${packageVersion()}\n`);
    return 0;
  }
  let settings;
  let logFormat: LogFormat | undefined;
  try {
    const port = positiveNumber('--port', values.port, 8080, true);
    if (!Number.isInteger(port) || port > 65535) throw new UsageError(`--port must be an integer from 0 to 65535, got "${values.port}"`);
    const accountId = values['account-id'];
    if (accountId !== undefined && !/^\d{12}$/.test(accountId)) throw new UsageError(`--account-id must be 12 digits, got "${accountId}"`);
    const region = values.region;
    if (region !== undefined && !/^[a-z0-9-]{1,30}$/.test(region))
      throw new UsageError(`--region must look like us-east-1, got "${region}"`);
    if ((values['ca-cert'] === undefined) !== (values['ca-key'] === undefined))
      throw new UsageError('--ca-cert and --ca-key go together: give both or neither');
    const endpoint = readEndpointFlags(values);
    if ('error' in endpoint) throw new UsageError(endpoint.error);
    const level = values['log-level'] ?? 'info';
    if (!['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'].includes(level))
      throw new UsageError(`--log-level must be one of trace, debug, info, warn, error; got "${level}"`);
    logFormat = chooseLogFormat(values['log-format'], o.stdoutIsTTY === true);
    if (logFormat === undefined) throw new UsageError(`--log-format must be json or pretty, got "${values['log-format']}"`);
    const home = o.env.HOME ?? homedir();
    settings = {
      dataDir: resolve(values['data-dir'] ?? join(o.env.XDG_DATA_HOME ?? join(home, '.local', 'share'), 'codedeploy-control-plane')),
      host: values.host ?? '127.0.0.1',
      port,
      region,
      accountId,
      githubReposDir: values['github-repos-dir'] === undefined ? undefined : resolve(values['github-repos-dir']),
      pushConfigFile: values['push-config'] === undefined ? undefined : resolve(values['push-config']),
      commandTimeoutSeconds: positiveNumber('--command-timeout', values['command-timeout'], 4200),
      longPollSeconds: positiveNumber('--long-poll', values['long-poll'], 45),
      allowTrafficTimeoutSeconds: positiveNumber('--allow-traffic-timeout', values['allow-traffic-timeout'], 300),
      caCertFile: values['ca-cert'] === undefined ? undefined : resolve(values['ca-cert']),
      caKeyFile: values['ca-key'] === undefined ? undefined : resolve(values['ca-key']),
      ...endpoint,
      level,
    };
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    o.io.stderr(`codedeploy-control-plane: ${err.message}\n`);
    return 2;
  }

  const logger =
    o.logger ??
    createLogger({
      name: 'codedeploy-control-plane',
      level: settings.level,
      destination: logDestination(logFormat, (text) => o.io.stdout(text), { colorize: useColor(o.stdoutIsTTY === true, o.env) }),
    });
  let cp: ControlPlane;
  try {
    cp = await startControlPlane({ ...settings, env: o.env, logger });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why =
      e.code === 'EADDRINUSE'
        ? `port ${settings.port} on ${settings.host} is already in use (pick another with --port)`
        : e.code === 'EACCES'
          ? `permission denied (${e.message}); check --data-dir and --port`
          : e.message;
    o.io.stderr(`codedeploy-control-plane: cannot start: ${why}\n`);
    return 1;
  }
  o.io.stderr(
    [
      `codedeploy-control-plane ${packageVersion()} listening on ${cp.url} (data in ${cp.dataDir})`,
      `  console: ${cp.consoleUrl}`,
      ...endpointBannerLines(cp),
      `           aws elbv2 describe-target-groups --endpoint-url ${cp.url}`,
      '',
    ].join('\n'),
  );
  o.onListening?.(cp);
  const signal = await o.stopSignal;
  logger.info({ signal }, `Stopping (${signal})`);
  await cp.close();
  return 0;
}
