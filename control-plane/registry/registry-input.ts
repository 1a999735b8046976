/**
 * The registry operations' own members: on-premises instance names, tags, tag filters and tag
 * sets (and how filters match tags), and the deployment style and load balancer settings (and what
 * an in-place-only control plane refuses). They are built
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
  integerValue,
  objectMember,
  oneOf,
  stringMember,
  structList,
  type Input,
} from '../api/input-readers.js';
import { quoted } from '../log/clip.js';
import type { BlueGreenDeploymentConfiguration, DeploymentStyle, LoadBalancerInfo, Tag, TagFilter } from '../model.js';

const TAG_KEY_MAX = 128;
const TAG_VALUE_MAX = 256;
const FILTER_TYPES = ['KEY_ONLY', 'VALUE_ONLY', 'KEY_AND_VALUE'] as const;
export const LOCAL_ONLY = 'the local control plane deploys to on-premises instances (in place, or blue/green to existing instances)';

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

/** The deployment-style members of Create/UpdateDeploymentGroup as given (undefined: not given). */
export interface TrafficSettings {
  deploymentStyle?: DeploymentStyle;
  loadBalancerInfo?: LoadBalancerInfo;
  blueGreenDeploymentConfiguration?: BlueGreenDeploymentConfiguration;
}

const WAIT_MINUTES_MAX = 2880;
const BLUE_GREEN_CODE = 'InvalidBlueGreenDeploymentConfigurationException';

export function defaultBlueGreen(): BlueGreenDeploymentConfiguration {
  return {
    terminateBlueInstancesOnDeploymentSuccess: { action: 'TERMINATE', terminationWaitTimeInMinutes: 0 },
    deploymentReadyOption: { actionOnTimeout: 'CONTINUE_DEPLOYMENT', waitTimeInMinutes: 0 },
    greenFleetProvisioningOption: { action: 'DISCOVER_EXISTING' },
  };
}

/** blueGreenDeploymentConfiguration with the defaults filled in (TERMINATE after 0 minutes; CONTINUE_DEPLOYMENT). */
function blueGreenConfiguration(input: Input): BlueGreenDeploymentConfiguration | undefined {
  const bg = objectMember(input, 'blueGreenDeploymentConfiguration');
  if (!bg) return undefined;
  const member = 'blueGreenDeploymentConfiguration';
  const minutes = (o: Input | undefined, name: string, path: string): number => {
    const v = o?.[name];
    return v === undefined || v === null ? 0 : integerValue(v, path, { code: BLUE_GREEN_CODE, min: 0, max: WAIT_MINUTES_MAX });
  };
  const terminate = objectMember(bg, 'terminateBlueInstancesOnDeploymentSuccess');
  const ready = objectMember(bg, 'deploymentReadyOption');
  const green = objectMember(bg, 'greenFleetProvisioningOption');
  const greenAction = stringMember(green ?? {}, 'action') ?? 'DISCOVER_EXISTING';
  if (greenAction !== 'DISCOVER_EXISTING')
    throw new ApiError(
      BLUE_GREEN_CODE,
      `${member}.greenFleetProvisioningOption.action ${JSON.stringify(greenAction)} is not supported: the local control plane cannot provision instances; use DISCOVER_EXISTING and name the green instances with CreateDeployment's targetInstances.tagFilters.`,
    );
  return {
    terminateBlueInstancesOnDeploymentSuccess: {
      action:
        oneOf(stringMember(terminate ?? {}, 'action'), ['TERMINATE', 'KEEP_ALIVE'] as const, {
          code: BLUE_GREEN_CODE,
          member: `${member}.terminateBlueInstancesOnDeploymentSuccess.action`,
        }) ?? 'TERMINATE',
      terminationWaitTimeInMinutes: minutes(
        terminate,
        'terminationWaitTimeInMinutes',
        `${member}.terminateBlueInstancesOnDeploymentSuccess.terminationWaitTimeInMinutes`,
      ),
    },
    deploymentReadyOption: {
      actionOnTimeout:
        oneOf(stringMember(ready ?? {}, 'actionOnTimeout'), ['CONTINUE_DEPLOYMENT', 'STOP_DEPLOYMENT'] as const, {
          code: BLUE_GREEN_CODE,
          member: `${member}.deploymentReadyOption.actionOnTimeout`,
        }) ?? 'CONTINUE_DEPLOYMENT',
      waitTimeInMinutes: minutes(ready, 'waitTimeInMinutes', `${member}.deploymentReadyOption.waitTimeInMinutes`),
    },
    greenFleetProvisioningOption: { action: 'DISCOVER_EXISTING' },
  };
}

const TARGET_GROUPS_MAX = 10;

/**
 * Reads deploymentStyle and loadBalancerInfo: IN_PLACE with or without traffic control, and
 * target groups (by name) of the local load balancers, each of which must exist
 * (`hasTargetGroup`). Refuses what the local control plane cannot do: blue/green, Classic Load
 * Balancers (elbInfoList), ECS target group pairs, ECS services and Auto Scaling groups.
 */
export function trafficSettings(input: Input, hasTargetGroup: (name: string) => boolean): TrafficSettings {
  const out: TrafficSettings = {};
  const style = objectMember(input, 'deploymentStyle');
  if (style) {
    const type = stringMember(style, 'deploymentType') ?? 'IN_PLACE';
    const option = stringMember(style, 'deploymentOption') ?? 'WITHOUT_TRAFFIC_CONTROL';
    if (type !== 'IN_PLACE' && type !== 'BLUE_GREEN')
      throw new ApiError(
        'InvalidDeploymentStyleException',
        `deploymentStyle.deploymentType ${JSON.stringify(type)} is not valid: use IN_PLACE or BLUE_GREEN.`,
      );
    if (option !== 'WITHOUT_TRAFFIC_CONTROL' && option !== 'WITH_TRAFFIC_CONTROL') {
      throw new ApiError(
        'InvalidDeploymentStyleException',
        `deploymentStyle.deploymentOption ${JSON.stringify(option)} is not valid: use WITH_TRAFFIC_CONTROL or WITHOUT_TRAFFIC_CONTROL.`,
      );
    }
    out.deploymentStyle = { deploymentType: type, deploymentOption: option };
  }
  const lb = objectMember(input, 'loadBalancerInfo');
  if (lb) {
    if ((arrayMember(lb, 'elbInfoList') ?? []).length > 0)
      throw new ApiError(
        'InvalidLoadBalancerInfoException',
        'loadBalancerInfo.elbInfoList (Classic Load Balancers) is not supported: the local control plane runs Application Load Balancer target groups; use loadBalancerInfo.targetGroupInfoList with target group names (aws elbv2 create-target-group).',
      );
    if ((arrayMember(lb, 'targetGroupPairInfoList') ?? []).length > 0)
      throw new ApiError(
        'InvalidLoadBalancerInfoException',
        'loadBalancerInfo.targetGroupPairInfoList is for ECS deployments, which the local control plane does not run; use loadBalancerInfo.targetGroupInfoList.',
      );
    const groups = structList(lb, 'targetGroupInfoList') ?? [];
    if (groups.length > TARGET_GROUPS_MAX)
      throw new ApiError(
        'InvalidLoadBalancerInfoException',
        `loadBalancerInfo.targetGroupInfoList has ${groups.length} target groups; at most ${TARGET_GROUPS_MAX} are allowed.`,
      );
    const names: string[] = [];
    groups.forEach((g, i) => {
      const member = `loadBalancerInfo.targetGroupInfoList.${i + 1}.name`;
      const name = stringMember(g, 'name');
      if (!name)
        throw new ApiError(
          'InvalidLoadBalancerInfoException',
          `${member} is required: the name of a target group (aws elbv2 describe-target-groups).`,
        );
      if (!hasTargetGroup(name))
        throw new ApiError(
          'InvalidLoadBalancerInfoException',
          `${member}: no target group named ${quoted(name)} exists on the local control plane; create it first (aws elbv2 create-target-group --name ${name} --protocol HTTP --port 80 --endpoint-url <control plane URL>).`,
        );
      if (!names.includes(name)) names.push(name);
    });
    out.loadBalancerInfo = { targetGroupInfoList: names.map((name) => ({ name })) };
  }
  const present = (member: string): boolean => {
    const v = input[member];
    if (v === undefined || v === null) return false;
    if (Array.isArray(v)) return v.length > 0;
    if (typeof v === 'object') return Object.keys(v).length > 0;
    return true;
  };
  const blueGreen = blueGreenConfiguration(input);
  if (blueGreen) out.blueGreenDeploymentConfiguration = blueGreen;
  const refused: [string, string][] = [
    ['ecsServices', 'InvalidECSServiceException'],
    ['autoScalingGroups', 'InvalidAutoScalingGroupException'],
  ];
  for (const [member, code] of refused) {
    if (present(member)) throw new ApiError(code, `${member} is not supported: ${LOCAL_ONLY}. Remove ${member}.`);
  }
  return out;
}

/** A group WITH_TRAFFIC_CONTROL must name at least one target group, and blue/green needs traffic control (after an update's merge). */
export function checkTrafficControl(style: DeploymentStyle, loadBalancerInfo: LoadBalancerInfo | undefined): void {
  if (style.deploymentType === 'BLUE_GREEN' && style.deploymentOption !== 'WITH_TRAFFIC_CONTROL')
    throw new ApiError(
      'InvalidDeploymentStyleException',
      'deploymentStyle BLUE_GREEN moves traffic from the original instances to the new ones, so it needs deploymentOption WITH_TRAFFIC_CONTROL and loadBalancerInfo.',
    );
  if (style.deploymentOption === 'WITH_TRAFFIC_CONTROL' && (loadBalancerInfo?.targetGroupInfoList ?? []).length === 0)
    throw new ApiError(
      'InvalidLoadBalancerInfoException',
      'deploymentStyle.deploymentOption WITH_TRAFFIC_CONTROL needs loadBalancerInfo.targetGroupInfoList with at least one target group name; add one, or use WITHOUT_TRAFFIC_CONTROL.',
    );
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
