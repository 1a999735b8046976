/**
 * What the deployment engine asks of the local load balancers (issue #14), and nothing more: the
 * engine runs BlockTraffic and AllowTraffic for a host of a deployment group with
 * `loadBalancerInfo`, by deregistering or registering the host in each of the group's target
 * groups and then, on every re-evaluation (at least once a second), reading where the host stands
 * until it is drained (BlockTraffic) or healthy (AllowTraffic).
 *
 * Every call is synchronous and idempotent, because the engine calls it inside its SQLite
 * transaction and again after a restart: registering a registered target or deregistering an
 * absent one changes nothing. The load balancers (load-balancers.ts) implement it; the engine's
 * tests use a fake.
 *
 * A host is a target by its instance name (the on-premises instance); the load balancer resolves
 * the address it proxies to from the instance's `local:traffic-address` tag (`host:port`, see
 * TRAFFIC_ADDRESS_TAG), or, for a target group whose targets were registered by address through
 * the ELBv2 API, the address itself.
 */

/** The on-premises instance tag that tells the load balancers where a host's web app listens. */
export const TRAFFIC_ADDRESS_TAG = 'local:traffic-address';

/**
 * Where one host stands in one target group, in ELBv2's target health states:
 * - 'unused': not registered (deregistered and fully drained, or never registered);
 * - 'initial': registered, health checks not yet passed healthyThreshold times;
 * - 'healthy': registered and passing, receiving traffic;
 * - 'unhealthy': registered and failing (unhealthyThreshold consecutive failures);
 * - 'draining': deregistered, in-flight requests still running, no new ones, until they end or
 *   the deregistration delay passes.
 */
export type TargetHealthState = 'unused' | 'initial' | 'healthy' | 'unhealthy' | 'draining';

export type TargetStanding =
  | { kind: 'state'; state: TargetHealthState; reason?: string; description?: string }
  /** No target group of that name exists (deleted after the deployment group named it). */
  | { kind: 'no-target-group'; message: string }
  /** The instance has no usable address (no `local:traffic-address` tag, or a malformed one). */
  | { kind: 'no-address'; message: string };

export interface TrafficPort {
  /** Whether a target group of this name exists (deployment groups name target groups). */
  hasTargetGroup(targetGroupName: string): boolean;
  /** Starts routing to the host once healthy (ELBv2 RegisterTargets). */
  register(targetGroupName: string, instanceName: string): TargetStanding;
  /** Stops new requests to the host; in-flight ones finish within the deregistration delay (ELBv2 DeregisterTargets). */
  deregister(targetGroupName: string, instanceName: string): TargetStanding;
  /** Where the host stands now (ELBv2 DescribeTargetHealth). */
  standing(targetGroupName: string, instanceName: string): TargetStanding;
}
