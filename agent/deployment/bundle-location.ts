/**
 * A bundle location as codedeploy-local takes it (docs/reference.md section 9.1): a local directory or
 * archive, s3://bucket/key[?versionId=..&etag=..], or a GitHub https URL. Here are its kind, the
 * official CLIValidator checks with the official messages (docs/reference.md section 9.2), and the Revision of the
 * specification it becomes (docs/reference.md section 9.3). Local paths are checked through injected PathFacts.
 */
import { join, resolve } from 'node:path';
import { AgentError, ErrorCodes } from '../errors.js';
import { BUNDLE_TYPES, type BundleType } from '../spec/bundle-type.js';

export type LocationKind = 's3' | 'github' | 'local';

export interface PathFacts {
  /** undefined when the path does not exist. */
  kind(path: string): Promise<'file' | 'directory' | undefined>;
}

export interface BundleLocation {
  bundleLocation: string;
  type: BundleType;
  /** The appspec file name the user asked for; undefined: appspec.yml, then appspec.yaml. */
  appSpecFilename?: string;
}

const invalid = (message: string): never => {
  throw new AgentError(ErrorCodes.LOCAL_VALIDATION, message);
};

export function locationKind(location: string): LocationKind {
  if (/^s3:\/\//i.test(location)) return 's3';
  if (/^https:\/\//i.test(location)) return 'github';
  return 'local';
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

/** CLIValidator's location checks: the official ones, in the official order, with the official messages. */
export async function checkBundleLocation(o: BundleLocation, facts: PathFacts, cwd: string): Promise<void> {
  if (!BUNDLE_TYPES.includes(o.type)) invalid(`type ${o.type} is not a valid type. Must be one of tgz,tar,zip,directory`);
  const loc = o.bundleLocation;
  if (!isValidUri(loc)) invalid(`location ${loc} is not a valid uri`);
  if (/^http:\/\//i.test(loc)) invalid(`location ${loc} cannot be http, only encrypted (https) url endpoints supported`);
  if (locationKind(loc) !== 'local') return;
  const path = resolve(cwd, loc);
  const kind = await facts.kind(path);
  if (kind === undefined) invalid(`location ${loc} is specified as a file or directory which does not exist`);
  if (o.type === 'directory' && kind === 'file') invalid(`location ${loc} is specified with type directory but it is a file`);
  if (o.type !== 'directory' && kind === 'directory')
    invalid(`location ${loc} is specified as a compressed local file but it is a directory`);
  if (o.type !== 'directory') return;
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

/** The specification's Revision (RevisionType and its sub-object) for a checked location. */
export function revisionJson(o: BundleLocation, cwd: string): Record<string, unknown> {
  const location = o.bundleLocation;
  const kind = locationKind(location);
  if (kind === 's3') {
    const url = new URL(location);
    const s3: Record<string, unknown> = {
      Bucket: url.hostname,
      Key: decodeURIComponent(url.pathname.replace(/^\//, '')),
      BundleType: o.type,
    };
    const version = url.searchParams.get('versionId');
    const etag = url.searchParams.get('etag');
    if (version) s3.Version = version;
    if (etag) s3.ETag = etag;
    return { RevisionType: 'S3', S3Revision: s3 };
  }
  if (kind === 'github') return { RevisionType: 'GitHub', GitHubRevision: githubRevision(location, o.type) };
  const path = resolve(cwd, location);
  return o.type === 'directory'
    ? { RevisionType: 'Local Directory', LocalRevision: { Location: path, BundleType: 'directory' } }
    : { RevisionType: 'Local File', LocalRevision: { Location: path, BundleType: o.type } };
}

function githubRevision(location: string, type: string): Record<string, unknown> {
  const bundleType = type === 'zip' || type === 'tar' ? type : 'zip';
  const api = /^https:\/\/api\.github\.com\/repos\/([^/]+)\/([^/]+)\/(tarball|zipball)\/([^/?#]+)/i.exec(location);
  if (api) {
    return { Account: api[1], Repository: api[2], CommitId: api[4], BundleType: api[3] === 'tarball' ? 'tar' : 'zip' };
  }
  const web = /^https:\/\/github\.com\/([^/]+)\/([^/?#]+?)(?:\.git)?\/?$/i.exec(location);
  if (web) return { Account: web[1], Repository: web[2], CommitId: 'HEAD', BundleType: bundleType };
  throw new AgentError(
    ErrorCodes.LOCAL_VALIDATION,
    `location ${location} is not a supported https location: use https://github.com/<owner>/<repo> or https://api.github.com/repos/<owner>/<repo>/(tarball|zipball)/<ref>`,
  );
}
