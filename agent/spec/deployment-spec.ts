/**
 * The deployment specification: the JSON document inside GetDeploymentSpecification's envelope
 * (docs/reference.md section 3). Field rules and messages follow the official agent; on top of them,
 * identifiers that become directory names must be plain names, because the spec is untrusted.
 */
import { AgentError, ErrorCodes } from '../errors.js';
import type { ArchiveType, BundleType } from './bundle-type.js';

export interface Envelope {
  Format?: string | null;
  Payload?: string | null;
}

export type Revision =
  | { type: 'S3'; bucket: string; key: string; bundleType: ArchiveType; version?: string; etag?: string }
  | { type: 'GitHub'; account: string; repository: string; commitId: string; bundleType: 'tar' | 'zip' }
  | { type: 'Local File'; location: string; bundleType: BundleType }
  | { type: 'Local Directory'; location: string; bundleType: BundleType };

export interface DeploymentSpec {
  deploymentId: string;
  deploymentGroupId: string;
  deploymentGroupName: string;
  applicationName: string;
  deploymentCreator: string;
  deploymentType: string;
  appSpecFilename: string;
  revision: Revision;
  /** AgentActionOverrides.AgentOverrides.FileExistsBehavior, upper-cased; undefined when absent. */
  fileExistsBehavior?: string;
  allPossibleLifecycleEvents?: string[];
  /** Secret: never log it. */
  gitHubAccessToken?: string;
}

export interface SpecParseOptions {
  /** TEXT/JSON is accepted only from codedeploy-local or when the config allows unsigned specs. */
  allowUnsigned: boolean;
  /** Decodes a PKCS7/JSON payload into its verified JSON content (the daemon supplies it). */
  verifyPkcs7?: (payload: string) => string;
}

const fail = (message: string): never => {
  throw new AgentError(ErrorCodes.SPEC_INVALID, message);
};

export function parseDeploymentSpec(envelope: Envelope | null | undefined, options: SpecParseOptions): DeploymentSpec {
  if (envelope === null || envelope === undefined) fail('Provided deployment spec was nil');
  const format = envelope?.Format ?? '';
  const payload = envelope?.Payload ?? '';
  let json: string;
  if (format === 'PKCS7/JSON') {
    if (!options.verifyPkcs7) fail('Unsupported DeploymentSpecification format: PKCS7/JSON (no signature verifier configured)');
    json = (options.verifyPkcs7 as (p: string) => string)(payload);
  } else if (format === 'TEXT/JSON' && options.allowUnsigned) {
    json = payload;
  } else {
    json = fail(`Unsupported DeploymentSpecification format: ${format}`);
  }
  let data: unknown;
  try {
    data = JSON.parse(json);
  } catch (err) {
    fail(`The deployment specification is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) fail('The deployment specification must be a JSON object');
  return specFromJson(data as Record<string, unknown>);
}

export interface AsyncSpecParseOptions {
  /** TEXT/JSON is accepted only from codedeploy-local or when the config allows unsigned specs. */
  allowUnsigned: boolean;
  /** Verifies a PKCS7/JSON payload and returns its JSON content (createPkcs7Verifier in pkcs7-verifier.ts). */
  verifyPkcs7?: (payload: string) => Promise<string>;
}

/**
 * parseDeploymentSpec for asynchronous signature verifiers (pkijs verifies through WebCrypto):
 * a PKCS7/JSON payload is verified first, then the same synchronous rules apply to its content.
 */
export async function parseDeploymentSpecAsync(
  envelope: Envelope | null | undefined,
  options: AsyncSpecParseOptions,
): Promise<DeploymentSpec> {
  const { verifyPkcs7 } = options;
  if (envelope?.Format === 'PKCS7/JSON' && verifyPkcs7) {
    const json = await verifyPkcs7(envelope.Payload ?? '');
    return parseDeploymentSpec(envelope, { allowUnsigned: options.allowUnsigned, verifyPkcs7: () => json });
  }
  return parseDeploymentSpec(envelope, { allowUnsigned: options.allowUnsigned });
}

function isSet(obj: Record<string, unknown>, key: string): boolean {
  const v = obj[key];
  return v !== undefined && v !== null && v !== '';
}

function str(obj: Record<string, unknown>, key: string, message: string): string {
  const v = obj[key];
  if (!isSet(obj, key) || (typeof v !== 'string' && typeof v !== 'number')) fail(message);
  return String(v);
}

function optStr(obj: Record<string, unknown>, key: string): string | undefined {
  const v = obj[key];
  return typeof v === 'string' && v !== '' ? v : typeof v === 'number' ? String(v) : undefined;
}

/** Names that become directories under root_dir: no separators, no dot-dot, printable. */
function plainName(value: string, field: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._:@+=-]{0,254}$/.test(value) || value.includes('..')) {
    fail(
      `Deployment Spec has an invalid ${field} (${JSON.stringify(value)}): it must be a plain name of letters, digits, '.', '_', '-' (it is used as a directory name)`,
    );
  }
  return value;
}

export function specFromJson(d: Record<string, unknown>): DeploymentSpec {
  let deploymentId = str(d, 'DeploymentId', 'Deployment Spec has no DeploymentId');
  if (deploymentId.startsWith('arn:')) {
    const resource = deploymentId.split(':').slice(5).join(':');
    deploymentId = resource.includes('/') ? resource.slice(resource.indexOf('/') + 1) : resource;
  }
  const deploymentGroupId = str(d, 'DeploymentGroupId', 'Deployment Spec has no DeploymentGroupId');
  const deploymentGroupName = str(d, 'DeploymentGroupName', 'Deployment Spec has no DeploymentGroupName');
  const applicationName = str(d, 'ApplicationName', 'Deployment Spec has no ApplicationName');
  plainName(deploymentId, 'DeploymentId');
  plainName(deploymentGroupId, 'DeploymentGroupId');

  if (!('Revision' in d) || d.Revision === null || d.Revision === undefined) fail('Must specify a revison');
  const rev = d.Revision;
  if (typeof rev !== 'object' || rev === null || Array.isArray(rev)) fail('Must specify a revision source');
  const revision = parseRevision(rev as Record<string, unknown>);

  const overrides = d.AgentActionOverrides as Record<string, unknown> | undefined;
  const agentOverrides =
    overrides && typeof overrides === 'object' ? (overrides.AgentOverrides as Record<string, unknown> | undefined) : undefined;
  const feb = agentOverrides && typeof agentOverrides === 'object' ? agentOverrides.FileExistsBehavior : undefined;

  let events: string[] | undefined;
  if (Array.isArray(d.AllPossibleLifecycleEvents)) events = d.AllPossibleLifecycleEvents.map((e) => String(e));

  const spec: DeploymentSpec = {
    deploymentId,
    deploymentGroupId,
    deploymentGroupName,
    applicationName,
    deploymentCreator: optStr(d, 'DeploymentCreator') ?? 'user',
    deploymentType: optStr(d, 'DeploymentType') ?? 'IN_PLACE',
    appSpecFilename: optStr(d, 'AppSpecFilename') ?? 'appspec.yml',
    revision,
  };
  if (typeof feb === 'string' && feb !== '') spec.fileExistsBehavior = feb.toUpperCase();
  if (events) spec.allPossibleLifecycleEvents = events;
  const token = optStr(d, 'GitHubAccessToken');
  if (token) spec.gitHubAccessToken = token;
  return spec;
}

function parseRevision(r: Record<string, unknown>): Revision {
  const type = r.RevisionType;
  const sub = (key: string): Record<string, unknown> | undefined => {
    const v = r[key];
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  };
  switch (type) {
    case 'S3': {
      const s3 = sub('S3Revision') ?? fail('S3Revision in Deployment Spec must specify Bucket, Key and BundleType');
      const msg = 'S3Revision in Deployment Spec must specify Bucket, Key and BundleType';
      const bucket = str(s3, 'Bucket', msg);
      const key = str(s3, 'Key', msg);
      const bundleType = str(s3, 'BundleType', msg);
      if (!['tar', 'tgz', 'zip'].includes(bundleType)) fail('BundleType in S3Revision must be tar, tgz or zip');
      const rev: Revision = { type: 'S3', bucket, key, bundleType: bundleType as ArchiveType };
      const version = optStr(s3, 'Version');
      const etag = optStr(s3, 'ETag');
      if (version) rev.version = version;
      if (etag) rev.etag = etag;
      return rev;
    }
    case 'GitHub': {
      const msg = 'GitHubRevision in Deployment Spec must specify Account, Repository and CommitId';
      const gh = sub('GitHubRevision') ?? fail(msg);
      const account = str(gh, 'Account', msg);
      const repository = str(gh, 'Repository', msg);
      const commitId = str(gh, 'CommitId', msg);
      if (gh.Anonymous === false && !('OAuthToken' in gh)) fail(msg);
      const bt = optStr(gh, 'BundleType') ?? 'tar';
      if (bt !== 'tar' && bt !== 'zip') return fail(`GitHub revision specified with bundle_type other than zip or tar [bundle_type=${bt}`);
      for (const [name, value] of [
        ['Account', account],
        ['Repository', repository],
        ['CommitId', commitId],
      ] as const) {
        if (!/^[A-Za-z0-9._-]+$/.test(value) || value === '.' || value === '..')
          fail(`GitHubRevision ${name} has invalid characters: ${JSON.stringify(value)}`);
      }
      return { type: 'GitHub', account, repository, commitId, bundleType: bt };
    }
    case 'Local File':
    case 'Local Directory': {
      const msg = 'LocalRevision in Deployment Spec must specify Location and BundleType';
      const local = sub('LocalRevision') ?? fail(msg);
      const location = str(local, 'Location', msg);
      const bundleType = str(local, 'BundleType', msg);
      if (!['tar', 'tgz', 'zip', 'directory'].includes(bundleType)) fail('BundleType in LocalRevision must be tar, tgz, zip, or directory');
      return { type, location, bundleType: bundleType as BundleType };
    }
    case undefined:
    case null:
    case '':
      return fail('Must specify a revision source');
    default:
      return fail('Exactly one of S3Revision, GitHubRevision, or LocalRevision must be specified');
  }
}
