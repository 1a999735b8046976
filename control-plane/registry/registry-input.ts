/**
 * Reading and checking the registry operations' inputs: names, tags, tag filters, rollback and
 * deployment-style settings, revisions and list pagination. Each check throws the real service's
 * error code with a message naming the member and saying how to fix it, so the registry operations
 * stay a readable sequence of "read, check, store".
 */
import { ApiError, arrayMember, booleanMember, objectMember, stringMember } from '../api/api-error.js';
import { quoted } from '../log/clip.js';
import type { AutoRollbackConfiguration, RevisionLocation, Tag, TagFilter } from '../model.js';
import { checkGitHubLocation, checkS3Location } from './revision-fields.js';

export type Input = Record<string, unknown>;

/** The page size of every List operation (the real service answers at most 100 names a page too). */
export const PAGE_SIZE = 100;
const NAME_MAX = 100;
const TAG_KEY_MAX = 128;
const TAG_VALUE_MAX = 256;
const FILTER_TYPES = ['KEY_ONLY', 'VALUE_ONLY', 'KEY_AND_VALUE'];
const ROLLBACK_EVENTS = ['DEPLOYMENT_FAILURE', 'DEPLOYMENT_STOP_ON_ALARM', 'DEPLOYMENT_STOP_ON_REQUEST'];
export const LOCAL_ONLY = 'the local control plane supports only in-place deployments (IN_PLACE, WITHOUT_TRAFFIC_CONTROL) to on-premises instances';

/**
 * The characters CodeDeploy allows in application, deployment group and deployment configuration
 * names (CodeDeploy quotas: letters, digits, and . _ + = , @ -).
 */
const NAME_CHARACTERS = /^[A-Za-z0-9._+=,@-]+$/;

export interface NameCodes {
  required: string;
  invalid: string;
  what: string;
  /** Also held to NAME_CHARACTERS (instance names have their own rule, checkInstanceName). */
  charset?: boolean;
}

/** A required name member: absent or empty → `<requiredCode>`, too long or bad characters → `<invalidCode>`. */
export function nameMember(input: Input, member: string, codes: NameCodes): string {
  const v = stringMember(input, member);
  if (v === undefined || v === '') throw new ApiError(codes.required, `The ${codes.what} must be specified (${member}).`);
  checkName(v, member, codes);
  return v;
}

export function checkName(v: string, member: string, codes: Omit<NameCodes, 'required'>): void {
  if (v.length > NAME_MAX) throw new ApiError(codes.invalid, `The ${codes.what} in ${member} is ${v.length} characters long: use 1 to ${NAME_MAX} characters.`);
  if (codes.charset && !NAME_CHARACTERS.test(v)) {
    throw new ApiError(codes.invalid, `The ${codes.what} ${quoted(v)} in ${member} is not valid: use letters, digits and . _ + = , @ - only.`);
  }
}

export const APPLICATION: NameCodes = { required: 'ApplicationNameRequiredException', invalid: 'InvalidApplicationNameException', what: 'application name', charset: true };
export const GROUP: NameCodes = { required: 'DeploymentGroupNameRequiredException', invalid: 'InvalidDeploymentGroupNameException', what: 'deployment group name', charset: true };
export const CONFIG: NameCodes = { required: 'DeploymentConfigNameRequiredException', invalid: 'InvalidDeploymentConfigNameException', what: 'deployment configuration name', charset: true };
export const INSTANCE: NameCodes = { required: 'InstanceNameRequiredException', invalid: 'InvalidInstanceNameException', what: 'on-premises instance name' };

/** Instance names become part of an ARN and of log lines: no whitespace, control characters or slashes. */
export function checkInstanceName(v: string, member: string): void {
  checkName(v, member, INSTANCE);
  // eslint-disable-next-line no-control-regex
  if (/[\s\u0000-\u001f\u007f/]/.test(v)) {
    throw new ApiError('InvalidInstanceNameException', `The on-premises instance name ${quoted(v)} in ${member} is not valid: use letters, digits and . _ - (no spaces or slashes).`);
  }
}

export function stringList(input: Input, member: string): string[] | undefined {
  const list = arrayMember(input, member);
  if (!list) return undefined;
  return list.map((v, i) => {
    if (typeof v !== 'string') throw new ApiError('ValidationException', `1 validation error detected: Value at '${member}.${i + 1}' failed to satisfy constraint: Member must be a string`);
    return v;
  });
}

function structList(input: Input, member: string): Input[] | undefined {
  const list = arrayMember(input, member);
  if (!list) return undefined;
  return list.map((v, i) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) {
      throw new ApiError('ValidationException', `1 validation error detected: Value at '${member}.${i + 1}' failed to satisfy constraint: Member must be a structure`);
    }
    return v as Input;
  });
}

/** A Tag list (`[{Key, Value}]`); a tag without a Key, or too long, is InvalidTagException. */
export function tagList(input: Input, member: string, invalidCode = 'InvalidTagException'): Tag[] | undefined {
  return structList(input, member)?.map((t, i) => {
    const where = `${member}.${i + 1}`;
    const Key = stringMember(t, 'Key');
    const Value = stringMember(t, 'Value');
    if (Key === undefined || Key === '') throw new ApiError(invalidCode, `The tag at ${where} has no Key: every tag needs a Key (Value is optional).`);
    if (Key.length > TAG_KEY_MAX) throw new ApiError(invalidCode, `The tag Key at ${where} is longer than ${TAG_KEY_MAX} characters.`);
    if (Value !== undefined && Value.length > TAG_VALUE_MAX) throw new ApiError(invalidCode, `The tag Value at ${where} is longer than ${TAG_VALUE_MAX} characters.`);
    return Value === undefined ? { Key } : { Key, Value };
  });
}

/**
 * A TagFilter list. A missing Type is inferred from what is given (Key and Value: KEY_AND_VALUE,
 * only Key: KEY_ONLY, only Value: VALUE_ONLY) so `Key=a,Value=b` from the CLI works; the stored
 * filter always carries its Type.
 */
export function tagFilterList(input: Input, member: string, invalidCode = 'InvalidTagException'): TagFilter[] | undefined {
  return structList(input, member)?.map((f, i) => tagFilter(f, `${member}.${i + 1}`, invalidCode));
}

function tagFilter(f: Input, where: string, invalidCode: string): TagFilter {
  const Key = stringMember(f, 'Key') || undefined;
  const Value = stringMember(f, 'Value') || undefined;
  const given = stringMember(f, 'Type');
  const Type = given ?? (Key !== undefined && Value !== undefined ? 'KEY_AND_VALUE' : Key !== undefined ? 'KEY_ONLY' : 'VALUE_ONLY');
  if (!FILTER_TYPES.includes(Type)) throw new ApiError(invalidCode, `The tag filter at ${where} has Type ${JSON.stringify(Type)}: use KEY_ONLY, VALUE_ONLY or KEY_AND_VALUE.`);
  if ((Type === 'KEY_ONLY' || Type === 'KEY_AND_VALUE') && Key === undefined) throw new ApiError(invalidCode, `The tag filter at ${where} is ${Type} but has no Key.`);
  if ((Type === 'VALUE_ONLY' || Type === 'KEY_AND_VALUE') && Value === undefined) throw new ApiError(invalidCode, `The tag filter at ${where} is ${Type} but has no Value.`);
  if (Key !== undefined && Key.length > TAG_KEY_MAX) throw new ApiError(invalidCode, `The tag filter Key at ${where} is longer than ${TAG_KEY_MAX} characters.`);
  if (Value !== undefined && Value.length > TAG_VALUE_MAX) throw new ApiError(invalidCode, `The tag filter Value at ${where} is longer than ${TAG_VALUE_MAX} characters.`);
  return { ...(Key !== undefined ? { Key } : {}), ...(Value !== undefined ? { Value } : {}), Type: Type as TagFilter['Type'] };
}

/** A tag set (`{<listMember>: [[filter…]…]}`) flattened to one filter list. */
export function tagSetFilters(input: Input, member: string, listMember: string, invalidCode = 'InvalidTagException'): { filters: TagFilter[]; lists: number } | undefined {
  const set = objectMember(input, member);
  if (!set) return undefined;
  const lists = arrayMember(set, listMember) ?? [];
  const filters = lists.flatMap((list, i) => tagFilterList({ [`${member}.${listMember}.${i + 1}`]: list }, `${member}.${listMember}.${i + 1}`, invalidCode) ?? []);
  return { filters, lists: lists.length };
}

/** Does an instance with these tags match the filter (KEY_ONLY, VALUE_ONLY, KEY_AND_VALUE)? */
export function tagsMatch(tags: readonly Tag[], filters: readonly TagFilter[]): boolean {
  return filters.some((f) =>
    tags.some((t) => {
      if (f.Type === 'KEY_ONLY') return t.Key === f.Key;
      if (f.Type === 'VALUE_ONLY') return (t.Value ?? '') === f.Value;
      return t.Key === f.Key && (t.Value ?? '') === f.Value;
    }),
  );
}

export function rollbackConfig(input: Input): AutoRollbackConfiguration | undefined {
  const c = objectMember(input, 'autoRollbackConfiguration');
  if (!c) return undefined;
  const enabled = booleanMember(c, 'enabled') ?? false;
  const events = stringList(c, 'events') ?? [];
  const bad = events.find((e) => !ROLLBACK_EVENTS.includes(e));
  if (bad !== undefined) throw new ApiError('InvalidAutoRollbackConfigException', `autoRollbackConfiguration.events has ${JSON.stringify(bad)}: use ${ROLLBACK_EVENTS.join(', ')}.`);
  if (enabled && events.length === 0) throw new ApiError('InvalidAutoRollbackConfigException', 'autoRollbackConfiguration is enabled but lists no events: add DEPLOYMENT_FAILURE.');
  return { enabled, events: [...new Set(events)] as AutoRollbackConfiguration['events'] };
}

/** Refuses every blue/green, traffic-control, load-balancer, ECS and Auto Scaling setting. */
export function checkInPlaceOnly(input: Input): void {
  const style = objectMember(input, 'deploymentStyle');
  if (style) {
    const type = stringMember(style, 'deploymentType') ?? 'IN_PLACE';
    const option = stringMember(style, 'deploymentOption') ?? 'WITHOUT_TRAFFIC_CONTROL';
    if (type !== 'IN_PLACE') throw new ApiError('InvalidDeploymentStyleException', `deploymentStyle.deploymentType ${JSON.stringify(type)} is not supported: ${LOCAL_ONLY}. Use IN_PLACE.`);
    if (option !== 'WITHOUT_TRAFFIC_CONTROL') {
      throw new ApiError('InvalidDeploymentStyleException', `deploymentStyle.deploymentOption ${JSON.stringify(option)} is not supported: ${LOCAL_ONLY}. Use WITHOUT_TRAFFIC_CONTROL.`);
    }
  }
  const present = (member: string): boolean => {
    const v = input[member];
    if (v === undefined || v === null) return false;
    if (Array.isArray(v)) return v.length > 0;
    if (typeof v === 'object') return Object.keys(v).length > 0;
    return true;
  };
  const refused: [string, string][] = [
    ['loadBalancerInfo', 'InvalidLoadBalancerInfoException'],
    ['blueGreenDeploymentConfiguration', 'InvalidBlueGreenDeploymentConfigurationException'],
    ['ecsServices', 'InvalidECSServiceException'],
    ['autoScalingGroups', 'InvalidAutoScalingGroupException'],
  ];
  for (const [member, code] of refused) {
    if (present(member)) throw new ApiError(code, `${member} is not supported: ${LOCAL_ONLY}. Remove ${member}.`);
  }
}

export function outdatedInstancesStrategy(input: Input): 'UPDATE' | 'IGNORE' | undefined {
  const v = stringMember(input, 'outdatedInstancesStrategy');
  if (v === undefined) return undefined;
  if (v !== 'UPDATE' && v !== 'IGNORE') throw new ApiError('ValidationException', `outdatedInstancesStrategy ${JSON.stringify(v)} is not valid: use UPDATE or IGNORE.`);
  return v;
}

export function computePlatform(input: Input): void {
  const v = stringMember(input, 'computePlatform');
  if (v !== undefined && v !== 'Server') {
    throw new ApiError('InvalidComputePlatformException', `computePlatform ${JSON.stringify(v)} is not supported: the local control plane deploys to servers only; use Server.`);
  }
}

const BUNDLE_TYPES = ['tar', 'tgz', 'zip', 'YAML', 'JSON'];

function invalidRevision(message: string): ApiError {
  return new ApiError('InvalidRevisionException', message);
}

/** A RevisionLocation (S3 or GitHub) checked and reduced to the members that identify it. */
export function revisionLocation(value: unknown, member = 'revision'): RevisionLocation {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalidRevision(`${member} must be a structure with revisionType and s3Location or gitHubLocation.`);
  const r = value as Input;
  const type = stringMember(r, 'revisionType') ?? (r.s3Location ? 'S3' : r.gitHubLocation ? 'GitHub' : undefined);
  if (type === 'S3') {
    const s3 = objectMember(r, 's3Location');
    if (!s3) throw invalidRevision(`${member}.s3Location is required for an S3 revision.`);
    const location = {
      bucket: stringMember(s3, 'bucket'),
      key: stringMember(s3, 'key'),
      bundleType: stringMember(s3, 'bundleType'),
      version: stringMember(s3, 'version') || undefined,
      eTag: stringMember(s3, 'eTag') || undefined,
    };
    const { bucket, key } = checkS3Location(location, `${member}.s3Location`);
    if (location.bundleType !== undefined && !BUNDLE_TYPES.includes(location.bundleType)) {
      throw invalidRevision(`${member}.s3Location.bundleType ${quoted(location.bundleType)} is not valid: use tar, tgz or zip.`);
    }
    const s3Location: NonNullable<RevisionLocation['s3Location']> = { bucket, key };
    if (location.bundleType !== undefined) s3Location.bundleType = location.bundleType as NonNullable<RevisionLocation['s3Location']>['bundleType'];
    if (location.version) s3Location.version = location.version;
    if (location.eTag) s3Location.eTag = location.eTag;
    return { revisionType: 'S3', s3Location };
  }
  if (type === 'GitHub') {
    const gh = objectMember(r, 'gitHubLocation');
    if (!gh) throw invalidRevision(`${member}.gitHubLocation is required for a GitHub revision.`);
    const { repository, commitId } = checkGitHubLocation({ repository: stringMember(gh, 'repository'), commitId: stringMember(gh, 'commitId') }, `${member}.gitHubLocation`);
    return { revisionType: 'GitHub', gitHubLocation: { repository, commitId } };
  }
  if (type === undefined) throw invalidRevision(`${member}.revisionType is required: use S3 or GitHub.`);
  throw invalidRevision(`${member}.revisionType ${quoted(type)} is not supported by the local control plane: use S3 or GitHub.`);
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

function invalidToken(): ApiError {
  return new ApiError('InvalidNextTokenException', 'The next token was specified in an invalid format: pass the nextToken of the previous answer unchanged.');
}

/** One page of `items` from the offset in `nextToken` (opaque base64 JSON). */
export function page<T>(items: readonly T[], input: Input): { items: T[]; nextToken?: string } {
  const token = stringMember(input, 'nextToken');
  let offset = 0;
  if (token !== undefined && token !== '') {
    try {
      const parsed: unknown = JSON.parse(Buffer.from(token, 'base64').toString('utf8'));
      const o = typeof parsed === 'object' && parsed !== null ? (parsed as Input).o : undefined;
      if (typeof o !== 'number' || !Number.isSafeInteger(o) || o < 0) throw invalidToken();
      offset = o;
    } catch {
      throw invalidToken();
    }
  }
  const slice = items.slice(offset, offset + PAGE_SIZE);
  const next = offset + PAGE_SIZE;
  return next < items.length ? { items: slice, nextToken: Buffer.from(JSON.stringify({ o: next }), 'utf8').toString('base64') } : { items: slice };
}

export function byName(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
