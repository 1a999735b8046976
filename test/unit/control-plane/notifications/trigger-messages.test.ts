/**
 * CodeDeploy trigger notifications, pure: which trigger event each engine event is, the service's
 * date format, and the Subject and Message of deployment, instance and test notifications (nested
 * members as JSON strings, as the service sends them).
 */
import { describe, expect, it } from 'vitest';
import type { EngineEvent } from '../../../../control-plane/engine/engine.js';
import type { DeploymentInfo, InstanceTarget, TriggerConfig } from '../../../../control-plane/model.js';
import {
  deploymentMessage,
  instanceMessage,
  serviceDate,
  statusWord,
  testMessage,
  triggerNoticesOf,
} from '../../../../control-plane/notifications/trigger-messages.js';

const identity = { region: 'eu-west-2', accountId: '111122223333' };
const trigger: TriggerConfig = {
  triggerName: 'deploys',
  triggerTargetArn: 'arn:aws:sns:eu-west-2:111122223333:t',
  triggerEvents: ['DeploymentFailure'],
};
const status = (s: DeploymentInfo['status']): EngineEvent => ({ type: 'deployment-status', deploymentId: 'd-1', status: s });
const target = (s: string): EngineEvent => ({ type: 'target-status', deploymentId: 'd-1', instanceName: 'host-1', status: s });

describe('trigger events', () => {
  it.each([
    [status('Created'), 'user', [{ event: 'DeploymentStart', status: 'CREATED' }]],
    [status('InProgress'), 'user', []],
    [status('Created'), 'codeDeployRollback', [{ event: 'DeploymentStart', status: 'CREATED' }]],
    [status('InProgress'), 'codeDeployRollback', [{ event: 'DeploymentRollback', status: 'IN_PROGRESS' }]],
    [status('Succeeded'), 'user', [{ event: 'DeploymentSuccess', status: 'SUCCEEDED' }]],
    [status('Failed'), 'user', [{ event: 'DeploymentFailure', status: 'FAILED' }]],
    [status('Stopped'), 'user', [{ event: 'DeploymentStop', status: 'STOPPED' }]],
    [status('Ready'), 'user', [{ event: 'DeploymentReady', status: 'READY' }]],
    [target('InProgress'), 'user', [{ event: 'InstanceStart', status: 'IN_PROGRESS', instanceName: 'host-1' }]],
    [target('Succeeded'), 'user', [{ event: 'InstanceSuccess', status: 'SUCCEEDED', instanceName: 'host-1' }]],
    [target('Failed'), 'user', [{ event: 'InstanceFailure', status: 'FAILED', instanceName: 'host-1' }]],
    [target('Ready'), 'user', [{ event: 'InstanceReady', status: 'READY', instanceName: 'host-1' }]],
    [target('Skipped'), 'user', []],
    [{ type: 'lifecycle-event', deploymentId: 'd-1', instanceName: 'h', lifecycleEventName: 'Install', status: 'Failed' }, 'user', []],
  ] as [EngineEvent, DeploymentInfo['creator'], unknown[]][])('%o by %s', (event, creator, expected) => {
    expect(triggerNoticesOf(event, creator)).toEqual(expected);
  });

  it('status words and dates are written as the service writes them', () => {
    expect(statusWord('InProgress')).toBe('IN_PROGRESS');
    expect(serviceDate(Date.UTC(2022, 9, 3, 5, 6, 7) / 1000 + 0.9)).toBe('Mon Oct 03 05:06:07 UTC 2022');
  });
});

const info = {
  applicationName: 'Shop',
  deploymentGroupName: 'web',
  deploymentId: 'd-FAILED01',
  createTime: Date.UTC(2022, 9, 14, 8, 38, 46) / 1000,
  completeTime: Date.UTC(2022, 9, 14, 8, 46, 18) / 1000,
  status: 'Failed',
  errorInformation: { code: 'HEALTH_CONSTRAINTS', message: 'too many failed' },
  deploymentOverview: { Pending: 0, InProgress: 0, Succeeded: 1, Failed: 1, Skipped: 2, Ready: 0 },
  rollbackInfo: { rollbackDeploymentId: 'd-ROLLBACK' },
  creator: 'user',
} as DeploymentInfo;

describe('messages', () => {
  it('of a deployment: subject, fields in order, nested members as JSON strings', () => {
    const p = deploymentMessage(identity, trigger, info, 'FAILED');
    expect(p.subject).toBe('FAILED: AWS CodeDeploy d-FAILED01 in eu-west-2 to Shop');
    expect(p.message).toBe(
      JSON.stringify({
        region: 'eu-west-2',
        accountId: '111122223333',
        eventTriggerName: 'deploys',
        applicationName: 'Shop',
        deploymentId: 'd-FAILED01',
        deploymentGroupName: 'web',
        createTime: 'Fri Oct 14 08:38:46 UTC 2022',
        completeTime: 'Fri Oct 14 08:46:18 UTC 2022',
        deploymentOverview: '{"Succeeded":1,"Failed":1,"Skipped":2,"InProgress":0,"Pending":0}',
        status: 'FAILED',
        errorInformation: '{"ErrorCode":"HEALTH_CONSTRAINTS","ErrorMessage":"too many failed"}',
        rollbackInformation: '{"RollbackDeploymentId":"d-ROLLBACK"}',
      }),
    );
    const created = JSON.parse(
      deploymentMessage(identity, trigger, { ...info, completeTime: undefined, rollbackInfo: undefined }, 'CREATED').message,
    ) as Record<string, unknown>;
    expect(created['completeTime']).toBeNull();
    expect(created).not.toHaveProperty('deploymentOverview');
    expect(created).not.toHaveProperty('errorInformation');
    const rollback = JSON.parse(
      deploymentMessage(
        identity,
        trigger,
        { ...info, deploymentId: 'd-R', rollbackInfo: { rollbackTriggeringDeploymentId: 'd-M' } },
        'IN_PROGRESS',
      ).message,
    ) as Record<string, string>;
    expect(JSON.parse(rollback['rollbackInformation'] ?? '')).toEqual({
      RollbackMessage: 'Deployment d-R is triggered to roll back deployment d-M.',
      RollbackTriggeringDeploymentId: 'd-M',
    });
  });

  it('of an instance: the instance ARN, its status and its lifecycle events as a JSON string', () => {
    const t: InstanceTarget = {
      deploymentId: 'd-FAILED01',
      targetId: 'host-1',
      targetArn: 'arn:aws:codedeploy:eu-west-2:111122223333:instance/host-1',
      status: 'Succeeded',
      lastUpdatedAt: Date.UTC(2022, 9, 14, 8, 40, 0) / 1000,
      lifecycleEvents: [
        {
          lifecycleEventName: 'Install',
          status: 'Succeeded',
          startTime: Date.UTC(2022, 9, 14, 8, 39, 0) / 1000,
          endTime: Date.UTC(2022, 9, 14, 8, 39, 1) / 1000,
        },
        { lifecycleEventName: 'ValidateService', status: 'Pending' },
      ],
    };
    const p = instanceMessage(identity, trigger, info, t, 'SUCCEEDED');
    expect(p.subject).toBe('SUCCEEDED: AWS CodeDeploy d-FAILED01 in eu-west-2 on instance host-1');
    const body = JSON.parse(p.message) as Record<string, string>;
    expect(body).toMatchObject({ instanceId: t.targetArn, instanceStatus: 'Succeeded', lastUpdatedAt: 'Fri Oct 14 08:40:00 UTC 2022' });
    expect(JSON.parse(body['lifecycleEvents'] ?? '')).toEqual([
      {
        LifecycleEvent: 'Install',
        LifecycleEventStatus: 'Succeeded',
        StartTime: 'Fri Oct 14 08:39:00 UTC 2022',
        EndTime: 'Fri Oct 14 08:39:01 UTC 2022',
      },
      { LifecycleEvent: 'ValidateService', LifecycleEventStatus: 'Pending' },
    ]);
  });

  it('of a test: status TEST; subjects stay within SNS limits', () => {
    const group = { applicationName: 'Shöp'.repeat(30), deploymentGroupName: 'web' } as Parameters<typeof testMessage>[1];
    const p = testMessage(identity, group, trigger);
    expect(p.subject.length).toBe(100);
    expect(p.subject).toMatch(/^TEST: AWS CodeDeploy trigger deploys in eu-west-2 to Sh\?p/);
    expect(JSON.parse(p.message)).toMatchObject({ status: 'TEST', eventTriggerName: 'deploys', deploymentGroupName: 'web' });
  });
});
