/**
 * `codedeploy-control-plane add-host NAME`: registers a host with a running control plane, tags
 * it and writes the agent's files in one step (control-plane/hosts/add-host.ts), then says what
 * to run next, or runs the agent itself with --start. Problems are one line each: exit 2 for
 * usage (a bad flag, name or tag), 1 for anything else (the control plane unreachable, another
 * identity under the name, a directory that cannot be written).
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { CliIo } from '../../common/cli-io.js';
import { toError } from '../../common/errors.js';
import { addHost, AddHostError, type AddHostResult } from '../hosts/add-host.js';
import { HostInputError, parseTagArgument } from '../hosts/host-input.js';
import { runAgentInForeground } from './agent-process.js';

export const DEFAULT_CONTROL_PLANE_URL = 'http://127.0.0.1:8080';

export const ADD_HOST_HELP = `Usage: codedeploy-control-plane add-host NAME [options]

Attaches a host to a running control plane in one step: registers the on-premises instance NAME
(IAM user arn:aws:iam::<account>:user/NAME), adds the tags, and writes into DIR
  codedeployagent.yml         the agent config: this control plane's endpoints, and root_dir,
                              log_dir, pid_dir and working_directory under DIR (no root needed)
  codedeploy.onpremises.yml   the host's identity (0600; placeholder keys: any are accepted)
  ca.pem                      the CA certificate that signs deployment specifications
Running it again for the same host re-tags it and rewrites the files.

Options:
  --tag KEY=VALUE     tag the instance (repeatable; KEY= for an empty value; at most 10)
  --dir DIR           where the files go (default ./NAME)
  --endpoint URL      the control plane (default $CODEDEPLOY_CONTROL_PLANE_URL or ${DEFAULT_CONTROL_PLANE_URL})
  --region NAME       region in the identity file (default the control plane's)
  --ca-bundle FILE    CA to trust for an https endpoint (default $AWS_CA_BUNDLE); also the
                      agent's :ca_bundle: (default DIR/ca.pem)
  --print             print the two files instead of writing them (the host is still registered)
  --start             then run the agent in the foreground (Ctrl-C stops it)
  -h, --help          this help

Example:
  codedeploy-control-plane add-host web-1 --tag env=dev --tag role=web --start
`;

export interface AddHostCliOptions {
  io: CliIo;
  env: NodeJS.ProcessEnv;
  /** Resolves on SIGINT/SIGTERM; forwarded to the agent with --start. */
  stopSignal: Promise<string>;
  /** With --start: called with the agent's pid (tests). */
  onAgentStarted?: (pid: number) => void;
}

const PREFIX = 'codedeploy-control-plane add-host';

export async function runAddHostCli(argv: string[], o: AddHostCliOptions): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: true,
      options: {
        tag: { type: 'string', multiple: true },
        dir: { type: 'string' },
        endpoint: { type: 'string' },
        region: { type: 'string' },
        'ca-bundle': { type: 'string' },
        print: { type: 'boolean' },
        start: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    return usage(o.io, `${toError(err).message}; run ${PREFIX} --help for the options`);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    o.io.stdout(ADD_HOST_HELP);
    return 0;
  }
  const [name, ...extra] = positionals;
  if (name === undefined) return usage(o.io, `give the host's name, e.g. ${PREFIX} web-1 --tag env=dev`);
  if (extra.length > 0) return usage(o.io, `one host at a time: unexpected ${JSON.stringify(extra[0])}`);
  if (values.print && values.start) return usage(o.io, '--print and --start do not go together: --print writes nothing to start');
  const region = values.region;
  if (region !== undefined && !/^[a-z0-9-]{1,30}$/.test(region)) return usage(o.io, `--region must look like us-east-1, got "${region}"`);

  let result: AddHostResult;
  try {
    const tags = (values.tag ?? []).map(parseTagArgument);
    const endpoint = values.endpoint ?? (o.env.CODEDEPLOY_CONTROL_PLANE_URL || DEFAULT_CONTROL_PLANE_URL);
    const caBundle = values['ca-bundle'] ?? (endpoint.startsWith('https:') ? o.env.AWS_CA_BUNDLE || undefined : undefined);
    result = await addHost({
      name,
      endpoint,
      tags,
      dir: resolve(values.dir ?? name),
      region,
      caBundle: caBundle === undefined ? undefined : resolve(caBundle),
      print: values.print === true,
    });
  } catch (err) {
    if (err instanceof HostInputError) return usage(o.io, err.message);
    o.io.stderr(`${PREFIX}: ${err instanceof AddHostError ? err.message : toError(err).message}\n`);
    return 1;
  }

  if (values.print) {
    o.io.stdout(`# ${result.layout.configFile}\n${result.files.config}\n# ${result.layout.onPremisesFile}\n${result.files.onPremises}`);
    o.io.stderr(`${registered(result)}\n`);
    return 0;
  }
  o.io.stdout(report(result, values.start === true));
  if (!values.start) return 0;
  return runAgentInForeground({
    configFile: result.layout.configFile,
    io: o.io,
    env: o.env,
    stopSignal: o.stopSignal,
    onStarted: o.onAgentStarted,
  });
}

function usage(io: CliIo, message: string): 2 {
  io.stderr(`${PREFIX}: ${message}\n`);
  return 2;
}

function registered(r: AddHostResult): string {
  const tags = r.tags.length > 0 ? `; tags ${r.tags.map((t) => `${t.Key}=${t.Value}`).join(', ')}` : '';
  return r.alreadyRegistered
    ? `${r.name} was already registered with ${r.endpoint} as ${r.iamUserArn}${tags}`
    : `Registered ${r.name} with ${r.endpoint} as ${r.iamUserArn}${tags}`;
}

/** What was done and what to run next. */
function report(r: AddHostResult, starting: boolean): string {
  const l = r.layout;
  const filter = r.tags[0] ? `Key=${r.tags[0].Key},Value=${r.tags[0].Value},Type=KEY_AND_VALUE` : `Key=KEY,Value=VALUE,Type=KEY_AND_VALUE`;
  const lines = [
    registered(r),
    `Wrote ${l.configFile}`,
    `      ${l.onPremisesFile}`,
    `      ${l.caFile}`,
    '',
    starting ? 'Starting the agent (Ctrl-C stops it):' : 'Next, start the agent:',
    `  codedeploy-agent start --config_file ${l.configFile}`,
    `Then deploy to it (a deployment group selects hosts by tag):`,
    `  aws deploy create-deployment-group --endpoint-url ${r.endpoint} --application-name APP --deployment-group-name GROUP \\`,
    `    --service-role-arn arn:aws:iam::${r.iamUserArn.split(':')[4]}:role/CodeDeploy --on-premises-instance-tag-filters ${filter}`,
    `  aws deploy create-deployment --endpoint-url ${r.endpoint} --application-name APP --deployment-group-name GROUP \\`,
    `    --s3-location bucket=BUCKET,key=KEY,bundleType=tgz`,
    '',
  ];
  return lines.join('\n');
}
