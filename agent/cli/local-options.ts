/**
 * codedeploy-local's options: parsing, flag-compatible with the official docopt CLI (docs/reference.md
 * section 9.1). The checks of the values (docs/reference.md section 9.2) belong to the modules that own the
 * concepts: bundle locations (deployment/bundle-location.ts) and lifecycle events
 * (deployment/lifecycle-check.ts); validateLocalOptions runs them in the official order.
 */
import { parseArgs } from 'node:util';
import { FILE_EXISTS_BEHAVIORS } from '../../appspec/model.js';
import { AgentError, ErrorCodes } from '../errors.js';
import { toError } from '../../common/errors.js';
import type { BundleType } from '../spec/bundle-type.js';
import { checkBundleLocation, type PathFacts } from '../deployment/bundle-location.js';
import { checkEventOrder } from '../deployment/lifecycle-check.js';

export interface LocalOptions {
  bundleLocation: string;
  type: BundleType;
  fileExistsBehavior: string;
  deploymentGroupId: string;
  deploymentGroupName: string;
  applicationName: string;
  /** As given with --events, or undefined for the default list. */
  events?: string[];
  /** Set only when -c was given (else local-config.ts looks at the default files). */
  configFile?: string;
  /** Set only when --appspec-filename was given. */
  appSpecFilename?: string;
  help: boolean;
  version: boolean;
}

export const LOCAL_DEFAULTS = {
  type: 'directory',
  fileExistsBehavior: 'DISALLOW',
  deploymentGroupId: 'default-local-deployment-group',
  deploymentGroupName: 'LocalFleet',
  configFile: '/etc/codedeploy-agent/conf/codedeployagent.yml',
} as const;

export const LOCAL_USAGE = `Usage: codedeploy-local [options]

Runs a CodeDeploy deployment on this host from a local bundle, with no control plane.

Options:
  -l, --bundle-location <value>          Bundle to deploy: a local directory or archive (relative paths are fine),
                                         s3://bucket/key[?versionId=..&etag=..],
                                         https://github.com/<owner>/<repo>, or
                                         https://api.github.com/repos/<owner>/<repo>/(tarball|zipball)/<ref>
                                         [default: the current directory]
  -t, --type <value>                     tgz, tar, zip or directory [default: directory]
  -b, --file-exists-behavior <value>     DISALLOW, OVERWRITE or RETAIN (any case) for files that already exist
                                         at a destination; an appspec file_exists_behavior wins [default: DISALLOW]
  -g, --deployment-group <value>         Deployment group id: the folder under root_dir
                                         [default: default-local-deployment-group]
  -d, --deployment-group-name <value>    DEPLOYMENT_GROUP_NAME for the scripts [default: LocalFleet]
  -a, --application-name <value>         APPLICATION_NAME for the scripts [default: the bundle location]
  -e, --events <comma-separated>         Lifecycle events to run, in order, instead of all of them;
                                         DownloadBundle and Install are added where they belong
  -c, --agent-configuration-file <path>  Agent configuration; must exist when given [default:
                                         /etc/codedeploy-agent/conf/codedeployagent.yml, else
                                         /opt/codedeploy-agent/conf/codedeployagent.yml; with neither,
                                         built-in defaults, and when not root a per-user root in
                                         $XDG_STATE_HOME/codedeploy-agent or ~/.local/state/codedeploy-agent]
  -A, --appspec-filename <value>         AppSpec file name in the bundle [default: appspec.yml, then appspec.yaml]
  -h, --help                             Show this help
  -v, --version                          Show the version

Hook scripts run in :working_directory: when the configuration sets it (it must exist), else in
/opt/codedeploy-agent when a configuration file was found and that directory exists, else in the
current directory.

Ctrl-C (SIGINT) or SIGTERM stops the running hook script and everything it started, reports what
was interrupted and exits 130 (SIGINT) or 143 (SIGTERM).

Exit status: 0 when the deployment succeeded, 1 when it failed or an option is invalid, 2 on a usage error,
130/143 when interrupted.
`;

const usage = (message: string): never => {
  throw new AgentError(ErrorCodes.USAGE, message);
};

export function parseLocalArgs(argv: string[], cwd: string): LocalOptions {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: false,
      strict: true,
      options: {
        'bundle-location': { type: 'string', short: 'l' },
        type: { type: 'string', short: 't' },
        'file-exists-behavior': { type: 'string', short: 'b' },
        'deployment-group': { type: 'string', short: 'g' },
        'deployment-group-name': { type: 'string', short: 'd' },
        'application-name': { type: 'string', short: 'a' },
        events: { type: 'string', short: 'e' },
        'agent-configuration-file': { type: 'string', short: 'c' },
        'appspec-filename': { type: 'string', short: 'A' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
      },
    });
  } catch (err) {
    return usage(toError(err).message);
  }
  const v = parsed.values;
  const bundleLocation = v['bundle-location'] ?? cwd;
  const options: LocalOptions = {
    bundleLocation,
    type: (v.type ?? LOCAL_DEFAULTS.type) as BundleType,
    fileExistsBehavior: v['file-exists-behavior'] ?? LOCAL_DEFAULTS.fileExistsBehavior,
    deploymentGroupId: v['deployment-group'] ?? LOCAL_DEFAULTS.deploymentGroupId,
    deploymentGroupName: v['deployment-group-name'] ?? LOCAL_DEFAULTS.deploymentGroupName,
    applicationName: v['application-name'] ?? bundleLocation,
    help: v.help ?? false,
    version: v.version ?? false,
  };
  if (v.events !== undefined) {
    options.events = v.events
      .split(',')
      .map((e) => e.trim())
      .filter((e) => e !== '');
  }
  if (v['appspec-filename'] !== undefined) options.appSpecFilename = v['appspec-filename'];
  if (v['agent-configuration-file'] !== undefined) options.configFile = v['agent-configuration-file'];
  return options;
}

/**
 * CLIValidator#validate: the location checks (deployment/bundle-location.ts), then
 * --file-exists-behavior, then the order of --events (deployment/lifecycle-check.ts), with the
 * official messages. The official tool does not check --file-exists-behavior at all (a bad value
 * reached the installer); ours fails here, in the style of its type check, before anything is done.
 * Any case is accepted (overwrite means OVERWRITE): o.fileExistsBehavior is upper-cased here.
 */
export async function validateLocalOptions(o: LocalOptions, facts: PathFacts, cwd = process.cwd()): Promise<void> {
  await checkBundleLocation(o, facts, cwd);
  o.fileExistsBehavior = checkFileExistsBehavior(o.fileExistsBehavior);
  if (o.events) checkEventOrder(o.events);
}

/** The value upper-cased, or a LOCAL_VALIDATION error naming the value as given and the valid ones. */
export function checkFileExistsBehavior(given: string): string {
  const value = given.toUpperCase();
  if ((FILE_EXISTS_BEHAVIORS as readonly string[]).includes(value)) return value;
  throw new AgentError(
    ErrorCodes.LOCAL_VALIDATION,
    `file-exists-behavior ${given} is not a valid value. Must be one of ${FILE_EXISTS_BEHAVIORS.join(',')}`,
  );
}
