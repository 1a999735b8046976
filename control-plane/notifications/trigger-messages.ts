/**
 * CodeDeploy's trigger notifications, pure: which trigger event an engine event is
 * (`triggerNoticesOf`), and the Subject and Message published for it.
 *
 * Event mapping: DeploymentStart when a deployment is created (status CREATED, as the service
 * reports it); DeploymentRollback when a rollback deployment (creator codeDeployRollback) goes
 * InProgress (IN_PROGRESS; its creation is a DeploymentStart like any other, and the deployment it
 * rolls back reports its own DeploymentFailure or DeploymentStop); DeploymentSuccess, Failure and
 * Stop when a deployment ends (SUCCEEDED, FAILED, STOPPED); DeploymentReady when a blue/green
 * deployment waits in Ready (READY). InstanceStart, Success, Failure and Ready when a target's
 * status becomes InProgress, Succeeded, Failed or Ready.
 *
 * Deployment messages follow what the service sends (observed messages, not the user guide's
 * sample, which shows nested objects and epoch times): a JSON object with region, accountId,
 * eventTriggerName, applicationName, deploymentId, deploymentGroupName, createTime and
 * completeTime (null until it ends) as "Thu Oct 13 15:50:45 UTC 2022", deploymentOverview (only
 * once it ends or is Ready) and errorInformation (`{"ErrorCode","ErrorMessage"}`) and
 * rollbackInformation as JSON *strings*, and status; Subject "<STATUS>: AWS CodeDeploy <id> in
 * <region> to <application>". Where ours differ: rollbackInformation is sent whenever the
 * deployment has rollback information (the service was seen sending "{}" on the failing deployment's
 * message), and Subjects are clipped to SNS's 100 characters.
 * Instance messages carry the user guide's fields (instanceId: the instance ARN, lastUpdatedAt,
 * instanceStatus, lifecycleEvents as a JSON string of {LifecycleEvent, LifecycleEventStatus,
 * StartTime, EndTime}) plus applicationName and deploymentGroupName, dates as above; their Subject
 * "<STATUS>: AWS CodeDeploy <id> in <region> on instance <name>" is ours (not documented).
 * The test notification sent when a trigger is added is ours too (the service documents that it
 * sends one, not its text): status TEST and a sentence saying which trigger of which group.
 */
import type { EngineEvent } from '../engine/engine.js';
import type {
  ControlPlaneIdentity,
  DeploymentGroupInfo,
  DeploymentInfo,
  InstanceTarget,
  TriggerConfig,
  TriggerEventType,
} from '../model.js';

const SUBJECT_MAX = 100;

export interface TriggerNotice {
  event: TriggerEventType;
  /** The status word of the message: CREATED, IN_PROGRESS, SUCCEEDED, FAILED, STOPPED, READY. */
  status: string;
  /** Instance events: the instance. */
  instanceName?: string;
}

const INSTANCE_EVENTS: Record<string, TriggerEventType> = {
  InProgress: 'InstanceStart',
  Succeeded: 'InstanceSuccess',
  Failed: 'InstanceFailure',
  Ready: 'InstanceReady',
};

/** The trigger events an engine event is, for a deployment made by `creator`. */
export function triggerNoticesOf(event: EngineEvent, creator: DeploymentInfo['creator']): TriggerNotice[] {
  if (event.type === 'target-status') {
    const type = INSTANCE_EVENTS[event.status];
    return type ? [{ event: type, status: statusWord(event.status), instanceName: event.instanceName }] : [];
  }
  if (event.type !== 'deployment-status') return [];
  switch (event.status) {
    case 'Created':
      return [{ event: 'DeploymentStart', status: 'CREATED' }];
    case 'InProgress':
      return creator === 'codeDeployRollback' ? [{ event: 'DeploymentRollback', status: 'IN_PROGRESS' }] : [];
    case 'Succeeded':
      return [{ event: 'DeploymentSuccess', status: 'SUCCEEDED' }];
    case 'Failed':
      return [{ event: 'DeploymentFailure', status: 'FAILED' }];
    case 'Stopped':
      return [{ event: 'DeploymentStop', status: 'STOPPED' }];
    case 'Ready':
      return [{ event: 'DeploymentReady', status: 'READY' }];
    default:
      return [];
  }
}

/** "InProgress" -> "IN_PROGRESS". */
export function statusWord(status: string): string {
  return status.replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase();
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** Epoch seconds as the service writes dates in trigger messages: "Thu Oct 13 15:50:45 UTC 2022". */
export function serviceDate(epochSeconds: number): string {
  const d = new Date(Math.floor(epochSeconds * 1000));
  const two = (n: number) => String(n).padStart(2, '0');
  return (
    `${DAYS[d.getUTCDay()]} ${MONTHS[d.getUTCMonth()]} ${two(d.getUTCDate())} ` +
    `${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} UTC ${d.getUTCFullYear()}`
  );
}

export interface Published {
  subject: string;
  message: string;
}

/** SNS takes Subjects of at most 100 printable ASCII characters. */
const clipSubject = (s: string) => s.replace(/[^\x20-\x7e]/g, '?').slice(0, SUBJECT_MAX);

const ENDED = new Set(['SUCCEEDED', 'FAILED', 'STOPPED', 'READY']);

/** What every trigger message starts with: where, which trigger, which deployment. */
function messageHeader(identity: ControlPlaneIdentity, trigger: TriggerConfig, info: DeploymentInfo) {
  return {
    region: identity.region,
    accountId: identity.accountId,
    eventTriggerName: trigger.triggerName,
    applicationName: info.applicationName,
    deploymentId: info.deploymentId,
    deploymentGroupName: info.deploymentGroupName,
  };
}

export function deploymentMessage(identity: ControlPlaneIdentity, trigger: TriggerConfig, info: DeploymentInfo, status: string): Published {
  const o = info.deploymentOverview;
  const rollback = info.rollbackInfo;
  const rollbackMessage =
    rollback?.rollbackMessage ??
    (rollback?.rollbackTriggeringDeploymentId
      ? `Deployment ${info.deploymentId} is triggered to roll back deployment ${rollback.rollbackTriggeringDeploymentId}.`
      : undefined);
  const body = {
    ...messageHeader(identity, trigger, info),
    createTime: serviceDate(info.createTime),
    completeTime: info.completeTime !== undefined ? serviceDate(info.completeTime) : null,
    ...(ENDED.has(status)
      ? {
          deploymentOverview: JSON.stringify({
            Succeeded: o.Succeeded,
            Failed: o.Failed,
            Skipped: o.Skipped,
            InProgress: o.InProgress,
            Pending: o.Pending,
          }),
        }
      : {}),
    status,
    ...(info.errorInformation && (status === 'FAILED' || status === 'STOPPED')
      ? { errorInformation: JSON.stringify({ ErrorCode: info.errorInformation.code, ErrorMessage: info.errorInformation.message }) }
      : {}),
    ...(rollback
      ? {
          rollbackInformation: JSON.stringify({
            ...(rollbackMessage !== undefined ? { RollbackMessage: rollbackMessage } : {}),
            ...(rollback.rollbackDeploymentId ? { RollbackDeploymentId: rollback.rollbackDeploymentId } : {}),
            ...(rollback.rollbackTriggeringDeploymentId ? { RollbackTriggeringDeploymentId: rollback.rollbackTriggeringDeploymentId } : {}),
          }),
        }
      : {}),
  };
  return {
    subject: clipSubject(`${status}: AWS CodeDeploy ${info.deploymentId} in ${identity.region} to ${info.applicationName}`),
    message: JSON.stringify(body),
  };
}

export function instanceMessage(
  identity: ControlPlaneIdentity,
  trigger: TriggerConfig,
  info: DeploymentInfo,
  target: InstanceTarget,
  status: string,
): Published {
  const body = {
    ...messageHeader(identity, trigger, info),
    instanceId: target.targetArn,
    lastUpdatedAt: serviceDate(target.lastUpdatedAt),
    instanceStatus: target.status,
    lifecycleEvents: JSON.stringify(
      target.lifecycleEvents.map((e) => ({
        LifecycleEvent: e.lifecycleEventName,
        LifecycleEventStatus: e.status,
        ...(e.startTime !== undefined ? { StartTime: serviceDate(e.startTime) } : {}),
        ...(e.endTime !== undefined ? { EndTime: serviceDate(e.endTime) } : {}),
      })),
    ),
  };
  return {
    subject: clipSubject(`${status}: AWS CodeDeploy ${info.deploymentId} in ${identity.region} on instance ${target.targetId}`),
    message: JSON.stringify(body),
  };
}

export function testMessage(identity: ControlPlaneIdentity, group: DeploymentGroupInfo, trigger: TriggerConfig): Published {
  const body = {
    region: identity.region,
    accountId: identity.accountId,
    eventTriggerName: trigger.triggerName,
    applicationName: group.applicationName,
    deploymentGroupName: group.deploymentGroupName,
    status: 'TEST',
    message: `Test notification: trigger ${trigger.triggerName} of deployment group ${group.deploymentGroupName} (application ${group.applicationName}) publishes ${trigger.triggerEvents.join(', ')} to this topic.`,
  };
  return {
    subject: clipSubject(`TEST: AWS CodeDeploy trigger ${trigger.triggerName} in ${identity.region} to ${group.applicationName}`),
    message: JSON.stringify(body),
  };
}
