/**
 * The load-balanced part of `npm run demo -- --traffic`: a target group and a load balancer with
 * one listener on the local control plane (through the ELBv2 API, as `aws elbv2 ...` does), the
 * sample's web app on each host (a hello-app.env in its working directory: scripts/start.sh reads
 * it), and steady HTTP load through the listener that counts which revision answered.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import {
  CreateListenerCommand,
  CreateLoadBalancerCommand,
  CreateTargetGroupCommand,
  ElasticLoadBalancingV2Client,
  ModifyTargetGroupAttributesCommand,
} from '@aws-sdk/client-elastic-load-balancing-v2';

export { TRAFFIC_ADDRESS_TAG } from '../../control-plane/traffic/traffic-port.js';

export const TARGET_GROUP = 'hello-web';

export interface DemoLoadBalancer {
  /** http://127.0.0.1:<listener port>/ */
  url: string;
  targetGroupArn: string;
  targetGroupName: string;
}

/** A free TCP port on loopback (listen on 0, read it, close). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export async function createDemoLoadBalancer(
  endpoint: string,
  region: string,
  credentials: { accessKeyId: string; secretAccessKey: string },
  opts: { intervalSeconds?: number; timeoutSeconds?: number } = {},
  name = TARGET_GROUP,
): Promise<DemoLoadBalancer> {
  const elb = new ElasticLoadBalancingV2Client({ endpoint, region, credentials });
  const tg = await elb.send(
    new CreateTargetGroupCommand({
      Name: name,
      Protocol: 'HTTP',
      Port: 80,
      VpcId: 'vpc-local',
      TargetType: 'instance',
      HealthCheckPath: '/health',
      HealthCheckIntervalSeconds: opts.intervalSeconds ?? 5,
      HealthCheckTimeoutSeconds: opts.timeoutSeconds ?? 2,
      HealthyThresholdCount: 2,
      UnhealthyThresholdCount: 2,
    }),
  );
  const targetGroupArn = tg.TargetGroups?.[0]?.TargetGroupArn ?? '';
  // Connection draining: in-flight requests get up to 5 s once a host is deregistered.
  await elb.send(
    new ModifyTargetGroupAttributesCommand({
      TargetGroupArn: targetGroupArn,
      Attributes: [{ Key: 'deregistration_delay.timeout_seconds', Value: '5' }],
    }),
  );
  const lb = await elb.send(new CreateLoadBalancerCommand({ Name: `${name}-lb`, Subnets: ['subnet-local-a', 'subnet-local-b'] }));
  const port = await freePort();
  await elb.send(
    new CreateListenerCommand({
      LoadBalancerArn: lb.LoadBalancers?.[0]?.LoadBalancerArn ?? '',
      Protocol: 'HTTP',
      Port: port,
      DefaultActions: [{ Type: 'forward', TargetGroupArn: targetGroupArn }],
    }),
  );
  elb.destroy();
  return { url: `http://127.0.0.1:${port}/`, targetGroupArn, targetGroupName: name };
}

/** Gives a host's sample web app its port (scripts/start.sh reads hello-app.env); returns the tag value. */
export async function prepareHostWebApp(workDir: string, label: string): Promise<string> {
  const port = await freePort();
  await writeFile(join(workDir, 'hello-app.env'), `PORT=${port}\nNODE=${process.execPath}\nLABEL=${label}\n`);
  return `127.0.0.1:${port}`;
}

/** Stops a host's web app, which outlives its agent (started by a hook, detached). */
export async function stopHostWebApp(workDir: string): Promise<void> {
  const pid = Number((await readFile(join(workDir, 'hello-app', 'server.pid'), 'utf8').catch(() => '')).trim());
  if (Number.isInteger(pid) && pid > 0) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      // already gone
    }
  }
}

export interface TrafficCounts {
  /** Responses by X-App-Version. */
  byVersion: Map<string, number>;
  /** Every answered request (when recording): when it was sent and answered (ms), the version and the host (X-App-Host). */
  answers: { sentAt: number; at: number; version: string; host: string }[];
  failed: number;
  /** The first few failures, for the report. */
  failures: string[];
}

export interface SteadyLoad {
  counts: TrafficCounts;
  stop(): Promise<TrafficCounts>;
}

/**
 * `perSecond` GET requests a second through the load balancer until stop(), one connection each;
 * with `record`, every answer is kept in `answers` (tests check which host served which version when).
 */
export function startSteadyLoad(url: string, perSecond: number, opts: { record?: boolean } = {}): SteadyLoad {
  const counts: TrafficCounts = { byVersion: new Map(), answers: [], failed: 0, failures: [] };
  const inFlight = new Set<Promise<void>>();
  const one = async (): Promise<void> => {
    const sentAt = Date.now();
    try {
      const res = await fetch(url, { headers: { connection: 'close' }, signal: AbortSignal.timeout(10_000) });
      await res.arrayBuffer();
      const version = res.headers.get('x-app-version');
      if (res.ok && version) {
        counts.byVersion.set(version, (counts.byVersion.get(version) ?? 0) + 1);
        if (opts.record) counts.answers.push({ sentAt, at: Date.now(), version, host: res.headers.get('x-app-host') ?? '' });
      } else fail(`HTTP ${res.status}`);
    } catch (err) {
      fail(err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err));
    }
  };
  const fail = (why: string): void => {
    counts.failed++;
    if (counts.failures.length < 5) counts.failures.push(why);
  };
  const timer = setInterval(() => {
    const p = one().finally(() => inFlight.delete(p));
    inFlight.add(p);
  }, 1000 / perSecond);
  return {
    counts,
    async stop() {
      clearInterval(timer);
      await Promise.all(inFlight);
      return counts;
    },
  };
}

export function describeCounts(c: TrafficCounts): string {
  const versions = [...c.byVersion.entries()].map(([v, n]) => `${v} ${n}`).join(', ');
  return `${versions || 'no answers'}; failed ${c.failed}${c.failures.length > 0 ? ` (${c.failures.join('; ')})` : ''}`;
}
