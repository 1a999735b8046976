/**
 * BlockTraffic and AllowTraffic, the two lifecycle events the control plane runs itself for a
 * deployment WITH_TRAFFIC_CONTROL (the agent never receives them): BlockTraffic deregisters the
 * host from each of the deployment's target groups and waits until it is drained (ELBv2 state
 * `unused`); AllowTraffic registers it and waits until it is `healthy` in every one, failing the
 * host after the AllowTraffic timeout with where it stands.
 *
 * `beginTrafficStep` asks the TrafficPort once; `judgeTrafficStep` reads where the host stands,
 * which the engine does on every re-evaluation (at least once a second) until it is done. Both are
 * free of engine state; host-progress.ts applies their verdict to the host.
 */
import type { TargetStanding, TrafficPort } from '../traffic/traffic-port.js';

export type TrafficStep = 'BlockTraffic' | 'AllowTraffic';

export type TrafficVerdict = { kind: 'done' } | { kind: 'wait' } | { kind: 'failed'; message: string };

export interface TrafficStepInput {
  step: TrafficStep;
  targetGroups: readonly string[];
  instanceName: string;
  /** Milliseconds since the step began. */
  elapsedMs: number;
  timeoutMs: number;
}

const NO_PORT: TargetStanding = {
  kind: 'no-target-group',
  message: 'this control plane runs no load balancers (it was started without them)',
};

/** Registers (AllowTraffic) or deregisters (BlockTraffic) the host in every target group; idempotent. */
export function beginTrafficStep(
  port: TrafficPort | undefined,
  step: TrafficStep,
  targetGroups: readonly string[],
  instanceName: string,
): void {
  if (!port) return;
  for (const group of targetGroups) {
    if (step === 'AllowTraffic') port.register(group, instanceName);
    else port.deregister(group, instanceName);
  }
}

/** Where the step is: done when every target group agrees, failed at once for a missing group or address, else wait (until the timeout). */
export function judgeTrafficStep(port: TrafficPort | undefined, input: TrafficStepInput): TrafficVerdict {
  const waiting: string[] = [];
  for (const group of input.targetGroups) {
    const standing = port ? port.standing(group, input.instanceName) : NO_PORT;
    const verdict = judgeOne(input, group, standing);
    if (verdict.kind === 'failed') return verdict;
    if (verdict.kind === 'wait') waiting.push(describe(group, standing));
  }
  if (waiting.length === 0) return { kind: 'done' };
  if (input.elapsedMs < input.timeoutMs) return { kind: 'wait' };
  const seconds = Math.round(input.timeoutMs / 1000);
  const goal = input.step === 'AllowTraffic' ? 'become healthy' : 'finish draining';
  return {
    kind: 'failed',
    message: `${input.step}: the instance ${input.instanceName} did not ${goal} within ${seconds} seconds: ${waiting.join('; ')}`,
  };
}

function judgeOne(input: TrafficStepInput, group: string, standing: TargetStanding): TrafficVerdict {
  if (standing.kind === 'no-target-group') return { kind: 'failed', message: `${input.step}: target group ${group}: ${standing.message}` };
  if (standing.kind === 'no-address') {
    // A host without an address cannot be in the target group, so there is nothing to drain.
    if (input.step === 'BlockTraffic') return { kind: 'done' };
    return { kind: 'failed', message: `${input.step}: target group ${group}: ${standing.message}` };
  }
  const wanted = input.step === 'AllowTraffic' ? 'healthy' : 'unused';
  return standing.state === wanted ? { kind: 'done' } : { kind: 'wait' };
}

function describe(group: string, standing: TargetStanding): string {
  if (standing.kind !== 'state') return `target group ${group}: ${standing.message}`;
  const why = [standing.reason, standing.description].filter(Boolean).join(': ');
  return `target group ${group}: ${standing.state}${why ? ` (${why})` : ''}`;
}
