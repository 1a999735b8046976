/**
 * codedeploy-local's options: parsing (flag-compatible with the official docopt CLI, reference
 * section 9.1) and validation with the official messages (section 9.2). Pure apart from the
 * existence checks of local paths, which go through the injected stat function.
 */
import { parseArgs } from 'node:util';
import { join, resolve } from 'node:path';
import { AgentError, ErrorCodes } from '../errors.js';
import { BUNDLE_TYPES, type BundleType } from '../bundle/types.js';
import { DEFAULT_ORDERED_LIFECYCLE_EVENTS } from '../deployment/lifecycle.js';

export interface LocalOptions {
  bundleLocation: string;
  type: BundleType;
  fileExistsBehavior: string;
  deploymentGroupId: string;
  deploymentGroupName: string;
  applicationName: string;
  /** As given with --events, or undefined for the default list. */
  events?: string[];
  configFile: string;
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
  -b, --file-exists-behavior <value>     DISALLOW, OVERWRITE or RETAIN for files that already exist at a
                                         destination; an appspec file_exists_behavior wins [default: DISALLOW]
  -g, --deployment-group <value>         Deployment group id: the folder under root_dir
                                         [default: default-local-deployment-group]
  -d, --deployment-group-name <value>    DEPLOYMENT_GROUP_NAME for the scripts [default: LocalFleet]
  -a, --application-name <value>         APPLICATION_NAME for the scripts [default: the bundle location]
  -e, --events <comma-separated>         Lifecycle events to run, in order, instead of all of them;
                                         DownloadBundle and Install are added where they belong
  -c, --agent-configuration-file <path>  Agent configuration [default: /etc/codedeploy-agent/conf/codedeployagent.yml]
  -A, --appspec-filename <value>         AppSpec file name in the bundle [default: appspec.yml, then appspec.yaml]
  -h, --help                             Show this help
  -v, --version                          Show the version

Exit status: 0 when the deployment succeeded, 1 when it failed or an option is invalid, 2 on a usage error.
`;

const usage = (message: string): never => {
  throw new AgentError(ErrorCodes.USAGE, message);
};
const invalid = (message: string): never => {
  throw new AgentError(ErrorCodes.LOCAL_VALIDATION, message);
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
    return usage((err as Error).message);
  }
  const v = parsed.values;
  const bundleLocation = v['bundle-location'] ?? cwd;
  const options: LocalOptions = {
    bundleLocation,
    type: (v.type ?? LOCAL_DEFAULTS.type) as BundleType,
    fileExistsBehavior: (v['file-exists-behavior'] ?? LOCAL_DEFAULTS.fileExistsBehavior).toUpperCase(),
    deploymentGroupId: v['deployment-group'] ?? LOCAL_DEFAULTS.deploymentGroupId,
    deploymentGroupName: v['deployment-group-name'] ?? LOCAL_DEFAULTS.deploymentGroupName,
    applicationName: v['application-name'] ?? bundleLocation,
    configFile: v['agent-configuration-file'] ?? LOCAL_DEFAULTS.configFile,
    help: v.help ?? false,
    version: v.version ?? false,
  };
  if (v.events !== undefined) {
    options.events = v.events.split(',').map((e) => e.trim()).filter((e) => e !== '');
  }
  if (v['appspec-filename'] !== undefined) options.appSpecFilename = v['appspec-filename'];
  return options;
}

export type LocationKind = 's3' | 'github' | 'local';

export interface PathFacts {
  /** undefined when the path does not exist. */
  kind(path: string): Promise<'file' | 'directory' | undefined>;
}

/** RFC 3986 characters (brackets only in an IPv6 host), as Ruby's URI.parse enforces them. */
function isValidUri(location: string): boolean {
  const m = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/([^/?#]*)(.*)$/.exec(location);
  if (!m) return true; // a plain path
  const [, authority = '', rest = ''] = m;
  const authorityOk = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~%!$&'()*+,;=:@]*)$/.test(authority);
  const restOk = /^[A-Za-z0-9\-._~%!$&'()*+,;=:@/?#]*$/.test(rest);
  return authorityOk && restOk;
}

export function locationKind(location: string): LocationKind {
  if (/^s3:\/\//i.test(location)) return 's3';
  if (/^https:\/\//i.test(location)) return 'github';
  return 'local';
}

const NEW_REVISION_EVENTS = ['AfterInstall', 'ApplicationStart', 'BeforeAllowTraffic', 'AfterAllowTraffic', 'ValidateService'];

/** CLIValidator#validate: the official checks, in the official order, with the official messages. */
export async function validateLocalOptions(o: LocalOptions, facts: PathFacts, cwd = process.cwd()): Promise<void> {
  if (!BUNDLE_TYPES.includes(o.type)) invalid(`type ${o.type} is not a valid type. Must be one of tgz,tar,zip,directory`);
  const loc = o.bundleLocation;
  if (!isValidUri(loc)) invalid(`location ${loc} is not a valid uri`);
  if (/^http:\/\//i.test(loc)) invalid(`location ${loc} cannot be http, only encrypted (https) url endpoints supported`);
  if (locationKind(loc) === 'local') {
    const path = resolve(cwd, loc);
    const kind = await facts.kind(path);
    if (kind === undefined) invalid(`location ${loc} is specified as a file or directory which does not exist`);
    if (o.type === 'directory' && kind === 'file') invalid(`location ${loc} is specified with type directory but it is a file`);
    if (o.type !== 'directory' && kind === 'directory') invalid(`location ${loc} is specified as a compressed local file but it is a directory`);
    if (o.type === 'directory') {
      if (o.appSpecFilename !== undefined) {
        if ((await facts.kind(join(path, o.appSpecFilename))) !== 'file') {
          const n = o.appSpecFilename;
          invalid(
            `Expecting appspec file at location ${loc}/${n} but it is not found there. Please either run the CLI from within a directory containing the ${n} file or specify a bundle location containing an ${n} file in its root directory`,
          );
        }
      } else if ((await facts.kind(join(path, 'appspec.yml'))) !== 'file' && (await facts.kind(join(path, 'appspec.yaml'))) !== 'file') {
        invalid(
          `Expecting appspec file at location ${loc}/appspec.yml or ${loc}/appspec.yaml but it is not found there. Please either run the CLI from within a directory containing the appspec.yml or appspec.yaml file or specify a bundle location containing an appspec.yml or appspec.yaml file in its root directory`,
        );
      }
    }
  }
  if (o.events) validateEventOrder(o.events);
}

function validateEventOrder(events: string[]): void {
  const list = events.join(',');
  const download = events.indexOf('DownloadBundle');
  if (download >= 0) {
    const before = events.slice(0, download);
    if (before.some((e) => NEW_REVISION_EVENTS.includes(e) || e === 'Install')) {
      invalid(`The only events that can be specified before DownloadBundle are BeforeBlockTraffic,AfterBlockTraffic,ApplicationStop. Please fix the order of your specified events: ${list}`);
    }
  }
  const installAt = events.indexOf('Install');
  if (installAt >= 0) {
    const before = events.slice(0, installAt);
    if (before.some((e) => NEW_REVISION_EVENTS.includes(e))) {
      invalid(`The only events that can be specified before Install are BeforeBlockTraffic,AfterBlockTraffic,ApplicationStop,DownloadBundle,BeforeInstall. Please fix the order of your specified events: ${list}`);
    }
  }
}

const RANK = new Map<string, number>(DEFAULT_ORDERED_LIFECYCLE_EVENTS.map((e, i) => [e, i]));
const rank = (e: string): number => RANK.get(e) ?? Number.POSITIVE_INFINITY;

/**
 * The events to run. DownloadBundle and Install are always run; when not listed, each is put where
 * it belongs in the default order (custom events count as new-revision events). The official agent
 * prepends them instead, which runs e.g. "--events BeforeInstall" after Install; we do not.
 */
export function eventsToRun(requested: string[] | undefined): string[] {
  if (!requested || requested.length === 0) return [...DEFAULT_ORDERED_LIFECYCLE_EVENTS];
  const events = [...requested];
  if (!events.includes('DownloadBundle')) {
    const at = events.findIndex((e) => rank(e) > rank('DownloadBundle'));
    events.splice(at < 0 ? events.length : at, 0, 'DownloadBundle');
  }
  if (!events.includes('Install')) {
    const from = events.indexOf('DownloadBundle') + 1;
    const offset = events.slice(from).findIndex((e) => rank(e) > rank('Install'));
    events.splice(offset < 0 ? events.length : from + offset, 0, 'Install');
  }
  return events;
}
