import type { TargetHealthState, TargetStanding, TrafficPort } from '../../../control-plane/traffic/traffic-port.js';

/**
 * A load balancer the test steers: registering makes a host 'initial' (healthy once `healthy`
 * says so), deregistering makes it 'draining' while `inFlight` says it has requests, else
 * 'unused'. Every call is recorded.
 */
export class FakeTraffic implements TrafficPort {
  readonly calls: string[] = [];
  readonly groups = new Set(['tg-web']);
  readonly state = new Map<string, TargetHealthState>();
  healthy = (_host: string): boolean => true;
  inFlight = (_host: string): boolean => false;
  noAddress = new Set<string>();

  private key = (g: string, h: string) => `${g}/${h}`;
  hasTargetGroup(name: string): boolean {
    return this.groups.has(name);
  }
  register(group: string, host: string): TargetStanding {
    this.calls.push(`register ${group} ${host}`);
    if (this.state.get(this.key(group, host)) !== 'healthy') this.state.set(this.key(group, host), 'initial');
    return this.standing(group, host);
  }
  deregister(group: string, host: string): TargetStanding {
    this.calls.push(`deregister ${group} ${host}`);
    const s = this.state.get(this.key(group, host)) ?? 'unused';
    if (s !== 'unused') this.state.set(this.key(group, host), 'draining');
    return this.standing(group, host);
  }
  standing(group: string, host: string): TargetStanding {
    if (!this.groups.has(group)) return { kind: 'no-target-group', message: `no target group named ${group}` };
    if (this.noAddress.has(host)) return { kind: 'no-address', message: `instance ${host} has no local:traffic-address tag` };
    const k = this.key(group, host);
    const s = this.state.get(k) ?? 'unused';
    if (s === 'initial' && this.healthy(host)) this.state.set(k, 'healthy');
    if (s === 'initial' && !this.healthy(host)) this.state.set(k, 'unhealthy');
    if (s === 'unhealthy' && this.healthy(host)) this.state.set(k, 'healthy');
    if (s === 'draining' && !this.inFlight(host)) this.state.set(k, 'unused');
    const now = this.state.get(k) ?? 'unused';
    return now === 'unhealthy'
      ? { kind: 'state', state: now, reason: 'Target.ResponseCodeMismatch', description: 'Health checks failed with these codes: [500]' }
      : { kind: 'state', state: now };
  }
}
