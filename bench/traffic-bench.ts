/**
 * traffic (issue #14): in-place OneAtATime deployments over 3 real agents running the sample's web
 * app behind a local load balancer (WITH_TRAFFIC_CONTROL: BlockTraffic and AllowTraffic per host)
 * while 100 requests/s go through the listener, against the same deployments of a second
 * 3-host group with no load balancer and no load (the baseline), both on one in-process control
 * plane. After BENCH_RUNS timed deployments of each, one more on the load-balanced group fails its
 * ValidateService on the first host and rolls back; then a blue/green deployment from 2 blue to 2
 * green hosts under the same load. Rows: the deployment time ratio, the failed requests over every
 * deployment under load (target 0), the failure-plus-rollback time and the blue/green time.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { startControlPlane } from '../control-plane/server.js';
import { describeCounts, startSteadyLoad, type TrafficCounts } from '../scripts/lib/demo-traffic.js';
import { startBlueGreenFleet, startTrafficFleet, type BlueGreenFleet, type TrafficFleet } from '../scripts/lib/traffic-fleet.js';
import { createLogger } from '../common/logger.js';
import { median, type Row } from './summary.js';

const RATE = 100;

export async function benchTraffic(runs: number, benchDir: string): Promise<Row[]> {
  const root = await mkdtemp(join(benchDir, 'cda-bench-traffic-'));
  const cp = await startControlPlane({
    dataDir: join(root, 'data'),
    logger: createLogger({ name: 'bench-control-plane', level: 'warn' }),
    longPollSeconds: 20,
    minHealthCheckIntervalSeconds: 1,
  });
  const fleets: (TrafficFleet | BlueGreenFleet)[] = [];
  try {
    const start = async (group: string, traffic: boolean, prefix: string) => {
      const hosts = [1, 2, 3].map((i) => `${prefix}-${i}`);
      const fleet = await startTrafficFleet({
        controlPlane: cp,
        root,
        hosts,
        group,
        traffic,
        healthCheck: { intervalSeconds: 2, timeoutSeconds: 1 },
        autoRollback: true,
      });
      fleets.push(fleet);
      return fleet;
    };
    const plain = await start('plain', false, 'plain');
    const lb = await start('lb', true, 'lb');
    for (const f of [plain, lb]) {
      const first = await f.deployAndWait(await f.upload('v1'));
      if (first.status !== 'Succeeded')
        throw new Error(`the first deployment ended ${first.status}: ${JSON.stringify(first.errorInformation)}`);
    }

    const plainMs: number[] = [];
    const lbMs: number[] = [];
    const load: TrafficCounts[] = [];
    for (let i = 0; i < runs; i++) {
      const version = `v${i + 2}`;
      const t0 = Date.now();
      const p = await plain.deployAndWait(await plain.upload(version));
      plainMs.push(Date.now() - t0);
      const revision = await lb.upload(version);
      const steady = startSteadyLoad(lb.lb!.url, RATE);
      const t1 = Date.now();
      const l = await lb.deployAndWait(revision);
      lbMs.push(Date.now() - t1);
      load.push(await steady.stop());
      if (p.status !== 'Succeeded' || l.status !== 'Succeeded')
        throw new Error(`run ${i + 1}: deployments ended ${p.status} and ${l.status}`);
      console.log(
        `  run ${i + 1}: without a load balancer ${plainMs.at(-1)} ms; with one, under ${RATE} req/s, ${lbMs.at(-1)} ms (${describeCounts(load.at(-1)!)})`,
      );
    }

    const broken = await lb.upload(`v${runs + 2}-broken`, { failValidateOn: 'lb-1' });
    const steady = startSteadyLoad(lb.lb!.url, RATE);
    const t2 = Date.now();
    const failed = await lb.deployAndWait(broken);
    const rollbackId = failed.rollbackInfo?.rollbackDeploymentId;
    const rolledBack = rollbackId ? await lb.waitForEnd(rollbackId) : undefined;
    const rollbackMs = Date.now() - t2;
    const rollbackLoad = await steady.stop();
    load.push(rollbackLoad);
    console.log(
      `  failing ValidateService on lb-1: ${failed.status}, rollback ${rolledBack?.status ?? 'not created'} after ${rollbackMs} ms (${describeCounts(rollbackLoad)})`,
    );

    // Blue/green: two blue hosts serving v1, then v2 to two green hosts under the same load.
    const bg = await startBlueGreenFleet({
      controlPlane: cp,
      root,
      blue: ['bg-blue-1', 'bg-blue-2'],
      green: ['bg-green-1', 'bg-green-2'],
      healthCheck: { intervalSeconds: 2, timeoutSeconds: 1 },
    });
    fleets.push(bg);
    const bgFirst = await bg.deployToBlue(await bg.upload('v1'));
    if (bgFirst.status !== 'Succeeded') throw new Error(`the blue fleet's first deployment ended ${bgFirst.status}`);
    const bgRevision = await bg.upload('v2');
    const bgLoad = startSteadyLoad(bg.lb.url, RATE);
    const t3 = Date.now();
    const bgInfo = await bg.waitForEnd(await bg.startBlueGreen(bgRevision));
    const bgMs = Date.now() - t3;
    const bgCounts = await bgLoad.stop();
    load.push(bgCounts);
    console.log(`  blue/green 2 -> 2 hosts: ${bgInfo.status} after ${bgMs} ms (${describeCounts(bgCounts)})`);
    console.log('');

    const requests = load.reduce((a, c) => a + [...c.byVersion.values()].reduce((x, y) => x + y, 0) + c.failed, 0);
    const failedRequests = load.reduce((a, c) => a + c.failed, 0);
    const firstFailures = load.flatMap((c) => c.failures).slice(0, 3);
    return [
      {
        suite: 'traffic',
        what: `in place OneAtATime, 3 hosts, behind a load balancer under ${RATE} req/s`,
        unit: 'ms',
        ours: median(lbMs),
        baseline: { label: 'same deployment, no load balancer, no load', value: median(plainMs) },
        target: { kind: 'ratio', max: 1.5 },
        note: 'BlockTraffic and AllowTraffic per host (drain, health check) plus the load on the same 2 cores',
      },
      {
        suite: 'traffic',
        what: `failed requests during ${runs + 2} deployments under load (a rollback, a blue/green)`,
        unit: 'requests',
        ours: failedRequests,
        target: { kind: 'max', value: 0 },
        note: `${requests} requests in all${firstFailures.length ? `; first failures: ${firstFailures.join('; ')}` : ''}`,
      },
      {
        suite: 'traffic',
        what: 'failing ValidateService on the first host, then the rollback, under load',
        unit: 'ms',
        ours: rolledBack?.status === 'Succeeded' ? rollbackMs : NaN,
        target: { kind: 'none', text: 'reported' },
        ...(rolledBack?.status === 'Succeeded' ? {} : { note: `rollback ${rolledBack?.status ?? 'not created'}` }),
      },
      {
        suite: 'traffic',
        what: `blue/green, 2 blue to 2 green hosts, under ${RATE} req/s`,
        unit: 'ms',
        ours: bgInfo.status === 'Succeeded' ? bgMs : NaN,
        target: { kind: 'none', text: 'reported' },
        ...(bgInfo.status === 'Succeeded' ? {} : { note: `blue/green ${bgInfo.status}` }),
      },
    ];
  } finally {
    await Promise.all(fleets.map((f) => f.stop()));
    await cp.close();
    await rm(root, { recursive: true, force: true });
  }
}
