/**
 * The members that locate a revision, checked once for every way a revision comes in
 * (RegisterApplicationRevision, CreateDeployment, a group's target revision), with the service's
 * `InvalidRevisionException`. They end up in signed specifications, in URLs the agent fetches and
 * in hook environments (BUNDLE_COMMIT), so nothing vague is let through:
 *   - GitHub: `repository` is `owner/name` (letters, digits, `_ . -`, neither part starting with
 *     `-` or `.`); `commitId` is a 40-hex SHA-1 (what the API documents, "the SHA1 commit ID") or a
 *     branch or tag name by git's refname rules (the agent asks for `tarball/<commitId>`, which
 *     GitHub resolves), at most 100 characters; an option-like string or a revision expression
 *     (`HEAD^{tree}`, `a..b`) is refused.
 *   - S3: `bucket` is a bucket name (letters, digits, `. _ -`, up to 255 characters, as legacy
 *     us-east-1 buckets allow), `key` 1..1024 bytes of UTF-8 without control characters, and
 *     `version` and `eTag` (when not empty) up to 1024 printable ASCII characters.
 * Required members are checked before formats, so a missing key is reported as missing.
 * `revisionLocation` reads a whole RevisionLocation with these checks, for the registry and for
 * CreateDeployment alike.
 */
import { ApiError } from '../api/api-error.js';
import { hasControlCharacter, objectMember, stringMember, type Input } from '../api/input-readers.js';
import { quoted } from '../log/clip.js';
import type { RevisionLocation } from '../model.js';
import { isRefName } from '../github/local-git.js';

const BUCKET = /^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$/;
const KEY_MAX_BYTES = 1024;
const TOKEN = /^[\x21-\x7e]{1,1024}$/;
const GITHUB_PART = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$/;
const COMMIT_SHA = /^[0-9a-fA-F]{40}$/;

function invalid(message: string): ApiError {
  return new ApiError('InvalidRevisionException', message);
}

export interface S3LocationFields {
  bucket?: unknown;
  key?: unknown;
  version?: unknown;
  eTag?: unknown;
}

/** `where` is the member path for messages, e.g. `revision.s3Location`. */
export function checkS3Location(s3: S3LocationFields, where: string): { bucket: string; key: string } {
  const { bucket, key, version, eTag } = s3;
  if (typeof bucket !== 'string' || bucket === '') throw invalid(`${where}.bucket is required for an S3 revision.`);
  if (typeof key !== 'string' || key === '') throw invalid(`${where}.key is required for an S3 revision.`);
  if (!BUCKET.test(bucket))
    throw invalid(`${where}.bucket ${quoted(bucket)} is not a valid bucket name: use letters, digits, dots, hyphens and underscores.`);
  if (Buffer.byteLength(key, 'utf8') > KEY_MAX_BYTES) throw invalid(`${where}.key is longer than ${KEY_MAX_BYTES} bytes (the S3 limit).`);
  if (hasControlCharacter(key)) throw invalid(`${where}.key ${quoted(key)} contains control characters.`);
  if (version !== undefined && version !== '' && (typeof version !== 'string' || !TOKEN.test(version)))
    throw invalid(`${where}.version ${quoted(version)} is not a valid S3 version id.`);
  if (eTag !== undefined && eTag !== '' && (typeof eTag !== 'string' || !TOKEN.test(eTag)))
    throw invalid(`${where}.eTag ${quoted(eTag)} is not a valid ETag.`);
  return { bucket, key };
}

export interface GitHubLocationFields {
  repository?: unknown;
  commitId?: unknown;
}

export function checkGitHubLocation(gh: GitHubLocationFields, where: string): { repository: string; commitId: string } {
  const { repository, commitId } = gh;
  const parts = typeof repository === 'string' ? repository.split('/') : [];
  if (typeof repository !== 'string' || parts.length !== 2 || !parts.every((p) => GITHUB_PART.test(p))) {
    throw invalid(`${where}.repository ${quoted(repository ?? null)} is not valid: use "owner/repository".`);
  }
  if (typeof commitId !== 'string' || commitId === '') throw invalid(`${where}.commitId is required for a GitHub revision.`);
  if (!COMMIT_SHA.test(commitId) && !(commitId.length <= 100 && isRefName(commitId))) {
    throw invalid(
      `${where}.commitId ${quoted(commitId)} is not valid: use the 40-character SHA-1 of the commit (git rev-parse <ref>) or a branch or tag name.`,
    );
  }
  return { repository, commitId };
}

/** Bundle types a registered revision may have; a deployment needs an archive (ARCHIVES). */
const BUNDLE_TYPES = ['tar', 'tgz', 'zip', 'YAML', 'JSON'];
const ARCHIVES = ['tar', 'tgz', 'zip'];

export interface RevisionRules {
  /**
   * CreateDeployment's stricter rule: bundleType is required and must be an archive, because a
   * deployment the agent cannot unpack should be refused with the field named, not fail on every host.
   */
  deployable?: boolean;
}

/** A RevisionLocation (S3 or GitHub) checked and reduced to the members that identify it, with revisionType explicit. */
export function revisionLocation(value: unknown, member = 'revision', rules: RevisionRules = {}): RevisionLocation {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw invalid(`${member} must be a structure with revisionType and s3Location or gitHubLocation.`);
  const r = value as Input;
  const type = stringMember(r, 'revisionType') ?? (r.s3Location ? 'S3' : r.gitHubLocation ? 'GitHub' : undefined);
  if (type === 'S3') {
    const s3 = objectMember(r, 's3Location');
    if (!s3) throw invalid(`${member}.s3Location is required for an S3 revision.`);
    const location = {
      bucket: stringMember(s3, 'bucket'),
      key: stringMember(s3, 'key'),
      bundleType: stringMember(s3, 'bundleType'),
      version: stringMember(s3, 'version') || undefined,
      eTag: stringMember(s3, 'eTag') || undefined,
    };
    const { bucket, key } = checkS3Location(location, `${member}.s3Location`);
    const bundleType = location.bundleType;
    if (
      rules.deployable
        ? bundleType === undefined || !ARCHIVES.includes(bundleType)
        : bundleType !== undefined && !BUNDLE_TYPES.includes(bundleType)
    ) {
      throw invalid(
        `${member}.s3Location.bundleType ${quoted(bundleType ?? null)} is not valid: use tar, tgz or zip${rules.deployable ? ' (the local control plane deploys archives only)' : ''}.`,
      );
    }
    const s3Location: NonNullable<RevisionLocation['s3Location']> = { bucket, key };
    if (bundleType !== undefined) s3Location.bundleType = bundleType as NonNullable<RevisionLocation['s3Location']>['bundleType'];
    if (location.version) s3Location.version = location.version;
    if (location.eTag) s3Location.eTag = location.eTag;
    return { revisionType: 'S3', s3Location };
  }
  if (type === 'GitHub') {
    const gh = objectMember(r, 'gitHubLocation');
    if (!gh) throw invalid(`${member}.gitHubLocation is required for a GitHub revision.`);
    const { repository, commitId } = checkGitHubLocation(
      { repository: stringMember(gh, 'repository'), commitId: stringMember(gh, 'commitId') },
      `${member}.gitHubLocation`,
    );
    return { revisionType: 'GitHub', gitHubLocation: { repository, commitId } };
  }
  if (type === undefined) throw invalid(`${member}.revisionType is required: use S3 or GitHub.`);
  throw invalid(`${member}.revisionType ${quoted(type)} is not supported by the local control plane: use S3 or GitHub.`);
}

/**
 * The identity of a revision, as one string: S3 (bucket, key, bundleType, version, eTag without
 * quotes) or GitHub (repository, commitId). Undefined for kinds the registry does not keep.
 */
export function revisionKey(r: RevisionLocation): string | undefined {
  const type = r.revisionType ?? (r.s3Location ? 'S3' : r.gitHubLocation ? 'GitHub' : undefined);
  if (type === 'S3' && r.s3Location?.bucket && r.s3Location.key) {
    const s = r.s3Location;
    return JSON.stringify(['S3', s.bucket, s.key, s.bundleType ?? '', s.version ?? '', (s.eTag ?? '').replace(/"/g, '')]);
  }
  if (type === 'GitHub' && r.gitHubLocation?.repository && r.gitHubLocation.commitId) {
    return JSON.stringify(['GitHub', r.gitHubLocation.repository, r.gitHubLocation.commitId]);
  }
  return undefined;
}
