/**
 * The engine's module-level functions, called on their own over a real engine store (in-memory
 * SQLite) and the fake registry, without the engine around them: a deployment's evaluation, the
 * command timeout, how a deployment ends, and when it rolls back.
 */
import { describe, expect, it } from 'vitest';
import type { EngineContext } from '../../../../control-plane/engine/engine-context.js';
import { createEngineStore, type DeploymentRow } from '../../../../control-plane/engine/engine-store.js';
import { evaluateDeployment, expireCommands } from '../../../../control-plane/engine/deployment-evaluation.js';
import { finishDeployment, MANUAL_STOP, wantsRollback } from '../../../../control-plane/engine/deployment-outcome.js';
import { insertDeployment } from '../../../../control-plane/engine/deployment-records.js';
import type { AutoRollbackConfiguration, DeploymentInfo } from '../../../../control-plane/model.js';
import { openDatabase } from '../../../../control-plane/store/database.js';
import { silentLogger } from '../../../helpers/temp.js';
import { FakeRegistry, s3Revision } from '../fake-registry.js';

const T0 = 1_700_000_000_000;

function setup(opts: { hosts?: number; config?: string; groupRollback?: AutoRollbackConfiguration } = {}) {
  const registry = new FakeRegistry();
  registry.addApplication('web');
  const group = registry.addGroup('web', 'prod', { config: opts.config, autoRollback: opts.groupRollback });
  for (let i = 1; i <= (opts.hosts ?? 3); i++) registry.addInstance(`host-${i}`);
  const ctx: EngineContext = {
    store: createEngineStore(openDatabase(':memory:')),
    effects: { events: [], wake: new Set() },
    now: T0,
    log: silentLogger(),
    registry,
    commandTimeoutMs: 60_000,
    allowTrafficTimeoutMs: 300_000,
    blockTrafficTimeoutMs: 60_000,
  };
  const create = (extra: Partial<Pick<DeploymentInfo, 'creator' | 'autoRollbackConfiguration'>> = {}): DeploymentRow => {
    const config = registry.getDeploymentConfig(group.deploymentConfigName);
    const info = insertDeployment(ctx, {
      group,
      deploymentConfigName: group.deploymentConfigName,
      mhh: config?.minimumHealthyHosts ?? { type: 'MOST_CONCURRENCY', value: 0 },
      revision: s3Revision(),
      creator: extra.creator ?? 'user',
      ignoreApplicationStopFailures: false,
      fileExistsBehavior: 'DISALLOW',
      updateOutdatedInstancesOnly: false,
      ...(extra.autoRollbackConfiguration ? { autoRollbackConfiguration: extra.autoRollbackConfiguration } : {}),
    });
    return ctx.store.getDeployment(info.deploymentId) as DeploymentRow;
  };
  return { ctx, registry, create };
}

describe('evaluateDeployment', () => {
  it('starts a Created deployment and as many hosts as the batching window allows', () => {
    const { ctx, create } = setup({ hosts: 3, config: 'CodeDeployDefault.OneAtATime' });
    const row = create();
    evaluateDeployment(ctx, row);
    expect(ctx.store.getDeployment(row.deploymentId)?.info).toMatchObject({ status: 'InProgress', startTime: T0 / 1000 });
    expect(ctx.store.targetCounts(row.deploymentId)).toMatchObject({ InProgress: 1, Pending: 2 });
    expect([...ctx.effects.wake]).toEqual(['host-1']);
    expect(ctx.effects.events.filter((e) => e.type === 'deployment-status').map((e) => (e as { status: string }).status)).toEqual([
      'Created',
      'InProgress',
    ]);
  });

  it('starts every host at once under AllAtOnce', () => {
    const { ctx, create } = setup({ hosts: 3, config: 'CodeDeployDefault.AllAtOnce' });
    const row = create();
    evaluateDeployment(ctx, row);
    expect(ctx.store.targetCounts(row.deploymentId)).toMatchObject({ InProgress: 3 });
    expect([...ctx.effects.wake].sort()).toEqual(['host-1', 'host-2', 'host-3']);
  });

  it('fails a deployment without targets with NO_INSTANCES', () => {
    const { ctx, create } = setup({ hosts: 0 });
    const row = create();
    evaluateDeployment(ctx, row);
    expect(ctx.store.getDeployment(row.deploymentId)?.info).toMatchObject({
      status: 'Failed',
      errorInformation: { code: 'NO_INSTANCES' },
      completeTime: T0 / 1000,
    });
  });
});

describe('expireCommands', () => {
  it('times out a command not completed within the timeout of becoming ready, and fails its host', () => {
    const { ctx, create } = setup({ hosts: 1 });
    const row = create();
    evaluateDeployment(ctx, row);
    ctx.now = T0 + 59_999;
    expireCommands(ctx);
    expect(ctx.store.openCommandsOf(row.deploymentId)).toHaveLength(1);
    ctx.now = T0 + 60_000;
    expireCommands(ctx);
    expect(ctx.store.openCommandsOf(row.deploymentId)).toHaveLength(0);
    const target = ctx.store.getTarget(row.deploymentId, 'host-1')?.target;
    expect(target?.status).toBe('Failed');
    expect(target?.lifecycleEvents[0]).toMatchObject({
      status: 'Failed',
      diagnostics: { errorCode: 'UnknownError', message: expect.stringContaining('timed out after 60 seconds') },
    });
  });
});

describe('finishDeployment', () => {
  it('skips hosts that never started and cancels their pending commands when stopped', () => {
    const { ctx, create } = setup({ hosts: 2, config: 'CodeDeployDefault.OneAtATime' });
    const row = create();
    evaluateDeployment(ctx, row);
    finishDeployment(ctx, row, 'Stopped', MANUAL_STOP);
    expect(ctx.store.getDeployment(row.deploymentId)?.info).toMatchObject({ status: 'Stopped', errorInformation: MANUAL_STOP });
    expect(ctx.store.getTarget(row.deploymentId, 'host-1')?.target.status).toBe('Failed');
    expect(ctx.store.getTarget(row.deploymentId, 'host-2')?.target.status).toBe('Skipped');
    expect(ctx.store.openCommandsOf(row.deploymentId)).toHaveLength(0);
  });
});

describe('wantsRollback', () => {
  const onFailure: AutoRollbackConfiguration = { enabled: true, events: ['DEPLOYMENT_FAILURE'] };
  const onStop: AutoRollbackConfiguration = { enabled: true, events: ['DEPLOYMENT_STOP_ON_REQUEST'] };

  type Row = [
    string,
    { groupRollback?: AutoRollbackConfiguration },
    Partial<Pick<DeploymentInfo, 'creator' | 'autoRollbackConfiguration'>>,
    'failure' | 'stop',
    boolean | undefined,
    boolean,
  ];
  it.each<Row>([
    ['the group asks for it on failure', { groupRollback: onFailure }, {}, 'failure', undefined, true],
    ['the group asks for it on stop only', { groupRollback: onStop }, {}, 'failure', undefined, false],
    [
      "the deployment's own configuration overrides the group's",
      { groupRollback: onFailure },
      { autoRollbackConfiguration: { enabled: false, events: [] } },
      'failure',
      undefined,
      false,
    ],
    [
      'a disabled configuration never rolls back',
      {},
      { autoRollbackConfiguration: { ...onFailure, enabled: false } },
      'failure',
      undefined,
      false,
    ],
    ['StopDeployment(autoRollbackEnabled) decides a stop', {}, {}, 'stop', true, true],
    ['StopDeployment(autoRollbackEnabled=false) wins over the group', { groupRollback: onStop }, {}, 'stop', false, false],
    ['a rollback is never rolled back', { groupRollback: onFailure }, { creator: 'codeDeployRollback' }, 'failure', undefined, false],
  ])('%s', (_, groupOpts, deploymentOpts, cause, requested, expected) => {
    const { ctx, create } = setup(groupOpts);
    expect(wantsRollback(ctx, create(deploymentOpts), cause, requested)).toBe(expected);
  });
});
