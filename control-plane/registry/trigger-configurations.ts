/**
 * A deployment group's `triggerConfigurations`, checked as the service checks them: at most
 * MAX_TRIGGERS triggers (TriggerTargetsLimitExceededException), each with a name unique in the
 * group, the ARN of an existing topic and at least one event of TRIGGER_EVENT_TYPES
 * (InvalidTriggerConfigException, with a message naming the trigger and what to fix). Topics are
 * the local SNS's (control-plane/sns/), reached through the `TriggerTopics` port so the registry
 * does not depend on it. The service sends a test notification to the topic of a trigger that is
 * new to the group (`addedTriggers`); the port does that.
 */
import { ApiError } from '../api/api-error.js';
import { checkString, stringList, stringMember, structList, type Input } from '../api/input-readers.js';
import { quoted } from '../log/clip.js';
import { TRIGGER_EVENT_TYPES, type DeploymentGroupInfo, type TriggerConfig, type TriggerEventType } from '../model.js';

export const MAX_TRIGGERS = 10;
const TRIGGER_NAME_MAX = 256;
const CODE = 'InvalidTriggerConfigException';

export interface TriggerTopics {
  /** Whether the local SNS has a topic with this ARN. */
  hasTopic(topicArn: string): boolean;
  /** The group was saved with these triggers new to it (sends each one's test notification). */
  triggersAdded(group: DeploymentGroupInfo, added: readonly TriggerConfig[]): void;
}

/** The triggers given in `triggerConfigurations`, checked; undefined when the member is absent. */
export function triggerConfigurations(input: Input, topics: TriggerTopics | undefined): TriggerConfig[] | undefined {
  const list = structList(input, 'triggerConfigurations');
  if (list === undefined) return undefined;
  if (list.length > MAX_TRIGGERS)
    throw new ApiError(
      'TriggerTargetsLimitExceededException',
      `triggerConfigurations has ${list.length} triggers; a deployment group can have at most ${MAX_TRIGGERS}.`,
    );
  const names = new Set<string>();
  return list.map((t, i) => {
    const where = `triggerConfigurations.${i + 1}`;
    const triggerName = stringMember(t, 'triggerName') ?? '';
    if (triggerName === '') throw new ApiError(CODE, `${where}.triggerName is required: every trigger needs a name.`);
    checkString(triggerName, `${where}.triggerName`, { code: CODE, max: TRIGGER_NAME_MAX, noControlCharacters: true });
    if (names.has(triggerName))
      throw new ApiError(
        CODE,
        `${where}: the trigger name ${quoted(triggerName)} is used twice; trigger names must be unique in a deployment group.`,
      );
    names.add(triggerName);
    const triggerTargetArn = stringMember(t, 'triggerTargetArn') ?? '';
    if (triggerTargetArn === '')
      throw new ApiError(CODE, `${where}.triggerTargetArn is required: the ARN of an SNS topic (aws sns create-topic).`);
    if (!topics?.hasTopic(triggerTargetArn))
      throw new ApiError(
        CODE,
        `${where}.triggerTargetArn: the topic ${quoted(triggerTargetArn)} does not exist in the local SNS; create it first (aws sns create-topic --name <name> --endpoint-url <control plane URL>) and use the TopicArn it prints.`,
      );
    const events = stringList(t, 'triggerEvents') ?? [];
    if (events.length === 0)
      throw new ApiError(CODE, `${where}.triggerEvents is empty: name at least one of ${TRIGGER_EVENT_TYPES.join(', ')}.`);
    const triggerEvents: TriggerEventType[] = [];
    for (const e of events) {
      const known = TRIGGER_EVENT_TYPES.find((k) => k === e);
      if (!known)
        throw new ApiError(CODE, `${where}.triggerEvents: ${quoted(e)} is not an event type; use ${TRIGGER_EVENT_TYPES.join(', ')}.`);
      if (!triggerEvents.includes(known)) triggerEvents.push(known);
    }
    return { triggerName, triggerTargetArn, triggerEvents };
  });
}

/** The triggers of `after` that `before` did not have (by name and topic). */
export function addedTriggers(before: readonly TriggerConfig[], after: readonly TriggerConfig[]): TriggerConfig[] {
  return after.filter((t) => !before.some((b) => b.triggerName === t.triggerName && b.triggerTargetArn === t.triggerTargetArn));
}
