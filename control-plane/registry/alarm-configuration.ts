/**
 * A deployment group's `alarmConfiguration`. There is no CloudWatch behind the local control
 * plane, so alarms are kept and returned exactly as given (Terraform and other clients read them
 * back and would otherwise see a change on every refresh) but never evaluated; an enabled
 * configuration with alarms gets one WARN line saying so.
 */
import { ApiError } from '../api/api-error.js';
import { booleanMember, checkString, objectMember, structList, stringMember, type Input } from '../api/input-readers.js';
import type { Logger } from 'pino';
import type { AlarmConfiguration } from '../model.js';

/** The service's limit of alarms per deployment group. */
export const MAX_ALARMS = 10;
const ALARM_NAME_MAX = 255;

export function alarmConfiguration(input: Input): AlarmConfiguration | undefined {
  const c = objectMember(input, 'alarmConfiguration');
  if (!c) return undefined;
  const alarms = (structList(c, 'alarms') ?? []).map((a, i) => {
    const name = stringMember(a, 'name');
    const where = `alarmConfiguration.alarms.${i + 1}.name`;
    if (name === undefined || name === '')
      throw new ApiError('InvalidAlarmConfigException', `${where} is missing: every alarm needs a name.`);
    checkString(name, where, { code: 'InvalidAlarmConfigException', max: ALARM_NAME_MAX });
    return { name };
  });
  if (alarms.length > MAX_ALARMS)
    throw new ApiError(
      'AlarmsLimitExceededException',
      `alarmConfiguration lists ${alarms.length} alarms; at most ${MAX_ALARMS} are allowed.`,
    );
  const enabled = booleanMember(c, 'enabled') ?? false;
  if (enabled && alarms.length === 0)
    throw new ApiError(
      'InvalidAlarmConfigException',
      'alarmConfiguration is enabled but lists no alarms: add at least one, or disable it.',
    );
  return { enabled, ignorePollAlarmFailure: booleanMember(c, 'ignorePollAlarmFailure') ?? false, alarms };
}

/** The WARN line for an enabled configuration: it is kept, and does nothing here. */
export function noteAlarms(logger: Logger, alarms: AlarmConfiguration | undefined, group: string): void {
  if (!alarms?.enabled) return;
  logger.warn(
    { deploymentGroupName: group, alarms: alarms.alarms.map((a) => a.name) },
    'alarmConfiguration is kept but not evaluated: the local control plane has no CloudWatch alarms, so they never stop a deployment',
  );
}
