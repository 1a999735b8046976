/**
 * The batching rule of an in-place deployment, as pure functions: from a deployment config's
 * minimum healthy hosts and the target count, how many hosts may be worked on at once (a sliding
 * window) and, given the hosts' counts, whether to start more, wait, fail or finish.
 *
 * M (minimum healthy): HOST_COUNT v → v; FLEET_PERCENT p → ceil(N·p/100); MOST_CONCURRENCY
 * (OneAtATime) → N−1. Window W = max(1, N−M): hosts in progress plus hosts failed stay below W,
 * so a failure permanently uses up a slot. Success needs max(M, 1) succeeded hosts.
 */
import type { MinimumHealthyHosts } from '../model.js';

export interface HealthPlan {
  targets: number;
  minimumHealthy: number;
  window: number;
}

export function healthPlan(targets: number, mhh: MinimumHealthyHosts): HealthPlan | { invalid: string } {
  let m: number;
  if (mhh.type === 'MOST_CONCURRENCY') m = Math.max(0, targets - 1);
  else if (mhh.type === 'FLEET_PERCENT') m = Math.ceil((targets * mhh.value) / 100);
  else m = mhh.value;
  if (m > targets) {
    const rule = mhh.type === 'FLEET_PERCENT' ? `${mhh.value}% of the fleet` : `${mhh.value} hosts`;
    return {
      invalid: `The deployment config requires at least ${m} healthy instances (${rule}) but the deployment group has only ${targets} instances. Add instances to the deployment group or use a deployment config with a lower minimum.`,
    };
  }
  return { targets, minimumHealthy: m, window: Math.max(1, targets - m) };
}

export interface HostCounts {
  pending: number;
  inProgress: number;
  succeeded: number;
  failed: number;
}

export type Decision =
  /** Start this many more hosts now (0: wait for the running ones). */
  { kind: 'continue'; start: number } | { kind: 'succeeded' } | { kind: 'failed' };

export function decide(plan: HealthPlan, c: HostCounts): Decision {
  const needed = Math.max(plan.minimumHealthy, 1);
  if (c.pending === 0 && c.inProgress === 0) return c.succeeded >= needed ? { kind: 'succeeded' } : { kind: 'failed' };
  // Even if every unfinished host succeeded, too few would be healthy.
  if (c.succeeded + c.pending + c.inProgress < needed) return { kind: 'failed' };
  const start = Math.min(c.pending, Math.max(0, plan.window - c.inProgress - c.failed));
  // Nothing running and nothing may start: the window is used up by failures.
  if (start === 0 && c.inProgress === 0) return { kind: 'failed' };
  return { kind: 'continue', start };
}
