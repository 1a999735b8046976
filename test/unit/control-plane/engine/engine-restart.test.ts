import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDatabase } from '../../../../control-plane/store/database.js';
import { IN_PLACE_LIFECYCLE } from '../../../../control-plane/model.js';
import { tempDir } from '../../../helpers/temp.js';
import { FakeRegistry, createHarness, s3Revision } from '../fake-registry.js';

describe('restart on the same database', () => {
  it('a re-created engine continues a deployment mid-way: handed-out commands complete, timeouts and batching go on', async () => {
    const file = join(await tempDir('cda-engine-'), 'control-plane.db');
    const registry = new FakeRegistry();
    registry.addApplication('web');
    registry.addGroup('web', 'prod', { config: 'CodeDeployDefault.OneAtATime' });
    for (const name of ['host-01', 'host-02', 'host-03']) registry.addInstance(name);
    const clock = { now: 1_700_000_000_000 };

    const first = createHarness({ registry, db: openDatabase(file), clock, commandTimeoutSeconds: 60 });
    const id = first.engine.createDeployment({ applicationName: 'web', deploymentGroupName: 'prod', revision: s3Revision() }).deploymentId;
    // host-01 runs all its commands; host-02 gets its first command and acknowledges it.
    for (let i = 0; i < IN_PLACE_LIFECYCLE.length; i++) {
      const cmd = await first.poll('host-01');
      if (!cmd) throw new Error('host-01 has no command');
      await first.ack(cmd);
      await first.complete(cmd, true);
    }
    const inFlight = await first.poll('host-02');
    if (!inFlight) throw new Error('host-02 has no command');
    expect(await first.ack(inFlight)).toBe('InProgress');
    first.close();
    first.db.close();

    clock.now += 10_000;
    const second = createHarness({ registry, db: openDatabase(file), clock, commandTimeoutSeconds: 60 });
    const resumed = second.engine.getDeployment(id);
    expect(resumed).toMatchObject({ status: 'InProgress', deploymentOverview: { Succeeded: 1, InProgress: 1, Pending: 1 } });
    expect(await second.update(inFlight)).toBe('InProgress');
    await second.complete(inFlight, true);
    // host-02's second command is pollable from the new engine.
    const next = await second.poll('host-02');
    expect(next?.CommandName).toBe(IN_PLACE_LIFECYCLE[1]);
    expect(next?.Nonce).toBeGreaterThan(inFlight.Nonce);
    // It is never completed: the timeout, counted from the database, fails host-02.
    clock.now += 60_000;
    second.engine.tick();
    expect(second.engine.listTargets(id).find((t) => t.targetId === 'host-02')?.status).toBe('Failed');
    expect(second.engine.getDeployment(id)).toMatchObject({
      status: 'Failed',
      deploymentOverview: { Succeeded: 1, Failed: 1, Skipped: 1 },
    });
    second.close();
    second.db.close();
  });

  it('a deployment created before the restart starts on the first tick after it', async () => {
    const file = join(await tempDir('cda-engine-'), 'control-plane.db');
    const registry = new FakeRegistry();
    registry.addApplication('web');
    registry.addGroup('web', 'prod', { config: 'CodeDeployDefault.AllAtOnce' });
    registry.addInstance('host-01');
    registry.addInstance('host-02');
    const db = openDatabase(file);
    const first = createHarness({ registry, db });
    const id = first.engine.createDeployment({ applicationName: 'web', deploymentGroupName: 'prod', revision: s3Revision() }).deploymentId;
    // Simulate a crash between creation and the first tick.
    db.prepare("UPDATE engine_deployments SET status = 'Created', doc = json_set(doc, '$.status', 'Created') WHERE deployment_id = ?").run(
      id,
    );
    db.prepare('DELETE FROM engine_commands').run();
    db.prepare("UPDATE engine_targets SET status = 'Pending', doc = json_set(doc, '$.status', 'Pending') WHERE deployment_id = ?").run(id);
    first.close();
    db.close();

    const second = createHarness({ registry, db: openDatabase(file) });
    expect(second.engine.getDeployment(id)?.status).toBe('Created');
    second.engine.tick();
    expect(second.engine.getDeployment(id)?.status).toBe('InProgress');
    await second.drive();
    expect(second.engine.getDeployment(id)?.status).toBe('Succeeded');
    second.close();
    second.db.close();
  });
});
