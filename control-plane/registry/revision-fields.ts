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
 */
import { ApiError } from '../api/api-error.js';
import { quoted } from '../log/clip.js';
import { isRefName } from '../github/local-git.js';

const BUCKET = /^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$/;
const KEY_MAX_BYTES = 1024;
const TOKEN = /^[\x21-\x7e]{1,1024}$/;
const GITHUB_PART = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$/;
const COMMIT_SHA = /^[0-9a-fA-F]{40}$/;

function invalid(message: string): ApiError {
  return new ApiError('InvalidRevisionException', message);
}

function hasControlCharacter(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
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
  if (!BUCKET.test(bucket)) throw invalid(`${where}.bucket ${quoted(bucket)} is not a valid bucket name: use letters, digits, dots, hyphens and underscores.`);
  if (Buffer.byteLength(key, 'utf8') > KEY_MAX_BYTES) throw invalid(`${where}.key is longer than ${KEY_MAX_BYTES} bytes (the S3 limit).`);
  if (hasControlCharacter(key)) throw invalid(`${where}.key ${quoted(key)} contains control characters.`);
  if (version !== undefined && version !== '' && (typeof version !== 'string' || !TOKEN.test(version))) throw invalid(`${where}.version ${quoted(version)} is not a valid S3 version id.`);
  if (eTag !== undefined && eTag !== '' && (typeof eTag !== 'string' || !TOKEN.test(eTag))) throw invalid(`${where}.eTag ${quoted(eTag)} is not a valid ETag.`);
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
    throw invalid(`${where}.commitId ${quoted(commitId)} is not valid: use the 40-character SHA-1 of the commit (git rev-parse <ref>) or a branch or tag name.`);
  }
  return { repository, commitId };
}
