import { describe, expect, it } from 'vitest';
import { IN_PLACE_LIFECYCLE } from '../../../../control-plane/model.js';
import { createHarness, s3Revision } from '../fake-registry.js';

// ENGINE_SCALE_HOSTS=1000 gives the benchmark figure; the default keeps the suite fast.
const HOSTS = Number(process.env.ENGINE_SCALE_HOSTS ?? 300);

describe('scale', () => {
  it(`deploys ${HOSTS} hosts AllAtOnce through the commands API handlers`, async () => {
    const h = createHarness({ hosts: HOSTS, config: 'CodeDeployDefault.AllAtOnce' });
    const started = performance.now();
    const id = h.engine.createDeployment({ applicationName: 'web', deploymentGroupName: 'prod', revision: s3Revision() }).deploymentId;
    const ran = await h.drive();
    const ms = performance.now() - started;
    expect(ran).toHaveLength(HOSTS * IN_PLACE_LIFECYCLE.length);
    expect(h.engine.getDeployment(id)?.deploymentOverview.Succeeded).toBe(HOSTS);
    console.log(
      `engine: ${HOSTS} hosts x ${IN_PLACE_LIFECYCLE.length} commands in ${ms.toFixed(0)} ms (${((ms / HOSTS) * 1000).toFixed(0)} µs per host, ${((ms / ran.length) * 1000).toFixed(0)} µs per command)`,
    );
  });
});
