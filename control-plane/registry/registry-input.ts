/**
 * The registry operations' own members: on-premises instance names, tags, tag filters and tag
 * sets (and how filters match tags), and the deployment-style settings an in-place-only control
 * plane refuses. They are built
 * on the shared readers (api/input-readers.ts: names, lists, enums, pages) and throw the real
 * service's error codes with a message naming the member and saying how to fix it, so the registry
 * operations stay a readable sequence of "read, check, store".
 */
import { ApiError } from '../api/api-error.js';
import {
  arrayMember,
  checkName,
  checkString,
  INSTANCE,
  objectMember,
  oneOf,
  stringMember,
  structList,
  type Input,
} from '../api/input-readers.js';
import { quoted } from '../log/clip.js';
import type { Tag, TagFilter } from '../model.js';

const TAG_KEY_MAX = 128;
const TAG_VALUE_MAX = 256;
const FILTER_TYPES = ['KEY_ONLY', 'VALUE_ONLY', 'KEY_AND_VALUE'] as const;
export const LOCAL_ONLY =
  'the local control plane supports only in-place deployments (IN_PLACE, WITHOUT_TRAFFIC_CONTROL) to on-premises instances';

/** Instance names become part of an ARN and of log lines: no whitespace, control characters or slashes. */
export function checkInstanceName(v: string, member: string): void {
  checkName(v, member, INSTANCE);
  // eslint-disable-next-line no-control-regex
  if (/[\s\u0000-\u001f\u007f/]/.test(v)) {
    throw new ApiError(
      'InvalidInstanceNameException',
      `The on-premises instance name ${quoted(v)} in ${member} is not valid: use letters, digits and . _ - (no spaces or slashes).`,
    );
  }
}

/** A Tag list (`[{Key, Value}]`); a tag without a Key, or too long, is InvalidTagException. */
export function tagList(input: Input, member: string, invalidCode = 'InvalidTagException'): Tag[] | undefined {
  return structList(input, member)?.map((t, i) => {
    const where = `${member}.${i + 1}`;
    const Key = stringMember(t, 'Key');
    const Value = stringMember(t, 'Value');
    if (Key === undefined || Key === '')
      throw new ApiError(invalidCode, `The tag at ${where} has no Key: every tag needs a Key (Value is optional).`);
    checkString(Key, `${where}.Key`, { code: invalidCode, max: TAG_KEY_MAX });
    if (Value !== undefined) checkString(Value, `${where}.Value`, { code: invalidCode, max: TAG_VALUE_MAX });
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
  const given = oneOf(stringMember(f, 'Type'), FILTER_TYPES, { code: invalidCode, member: `${where}.Type` });
  const Type = given ?? (Key !== undefined && Value !== undefined ? 'KEY_AND_VALUE' : Key !== undefined ? 'KEY_ONLY' : 'VALUE_ONLY');
  if ((Type === 'KEY_ONLY' || Type === 'KEY_AND_VALUE') && Key === undefined)
    throw new ApiError(invalidCode, `The tag filter at ${where} is ${Type} but has no Key.`);
  if ((Type === 'VALUE_ONLY' || Type === 'KEY_AND_VALUE') && Value === undefined)
    throw new ApiError(invalidCode, `The tag filter at ${where} is ${Type} but has no Value.`);
  if (Key !== undefined) checkString(Key, `${where}.Key`, { code: invalidCode, max: TAG_KEY_MAX });
  if (Value !== undefined) checkString(Value, `${where}.Value`, { code: invalidCode, max: TAG_VALUE_MAX });
  return { ...(Key !== undefined ? { Key } : {}), ...(Value !== undefined ? { Value } : {}), Type };
}

/** A tag set (`{<listMember>: [[filter…]…]}`) flattened to one filter list. */
export function tagSetFilters(
  input: Input,
  member: string,
  listMember: string,
  invalidCode = 'InvalidTagException',
): { filters: TagFilter[]; lists: number } | undefined {
  const set = objectMember(input, member);
  if (!set) return undefined;
  const lists = arrayMember(set, listMember) ?? [];
  const filters = lists.flatMap(
    (list, i) => tagFilterList({ [`${member}.${listMember}.${i + 1}`]: list }, `${member}.${listMember}.${i + 1}`, invalidCode) ?? [],
  );
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

/** Refuses every blue/green, traffic-control, load-balancer, ECS and Auto Scaling setting. */
export function checkInPlaceOnly(input: Input): void {
  const style = objectMember(input, 'deploymentStyle');
  if (style) {
    const type = stringMember(style, 'deploymentType') ?? 'IN_PLACE';
    const option = stringMember(style, 'deploymentOption') ?? 'WITHOUT_TRAFFIC_CONTROL';
    if (type !== 'IN_PLACE')
      throw new ApiError(
        'InvalidDeploymentStyleException',
        `deploymentStyle.deploymentType ${JSON.stringify(type)} is not supported: ${LOCAL_ONLY}. Use IN_PLACE.`,
      );
    if (option !== 'WITHOUT_TRAFFIC_CONTROL') {
      throw new ApiError(
        'InvalidDeploymentStyleException',
        `deploymentStyle.deploymentOption ${JSON.stringify(option)} is not supported: ${LOCAL_ONLY}. Use WITHOUT_TRAFFIC_CONTROL.`,
      );
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
  return oneOf(stringMember(input, 'outdatedInstancesStrategy'), ['UPDATE', 'IGNORE'] as const, {
    code: 'ValidationException',
    member: 'outdatedInstancesStrategy',
  });
}

export function computePlatform(input: Input): void {
  const v = stringMember(input, 'computePlatform');
  if (v !== undefined && v !== 'Server') {
    throw new ApiError(
      'InvalidComputePlatformException',
      `computePlatform ${JSON.stringify(v)} is not supported: the local control plane deploys to servers only; use Server.`,
    );
  }
}
