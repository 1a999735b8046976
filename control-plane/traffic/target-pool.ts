/**
 * The targets of one target group at run time: their health (target-health.ts, fed by a health
 * check every interval, at most one in flight per target), their in-flight requests, their
 * upstream connections, their draining, and the round robin that picks where a request goes.
 *
 * Picking: the registered targets that are 'healthy', in turn; when none is healthy but some are
 * registered ('initial' or 'unhealthy'), all of those (ELB fails open when all its targets are
 * unhealthy); with none registered, nothing (the listener answers 503). Draining targets never
 * get a new request.
 *
 * Draining: a deregistered target stops getting requests at once and its idle upstream
 * connections are closed (its agent keeps no connection alive any more, so a keep-alive connection
 * never carries a new request to it). It is removed ('unused') as soon as its last in-flight
 * request ends, or at once when it has none, as ELB completes a deregistration "immediately" for
 * a target with no in-flight requests and no active connections; when the deregistration delay
 * passes first, its remaining requests are cut off. Registering it again while it drains makes it
 * 'initial' again, and its in-flight requests go on as before.
 */
import * as http from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { TargetDescription, TargetHealthDescription } from './elb-model.js';
import { parseMatcher, type CodeRange, type TrafficAddress } from './elb-validation.js';
import { runHealthCheck } from './health-checker.js';
import { applyCheck, initialHealth, uncheckedHealth, type CheckOutcome, type Health } from './target-health.js';
import type { StoredTargetGroup } from './traffic-store.js';

export type Target = Required<TargetDescription>;

/** An upstream connection pool per target that can stop keeping connections alive (draining). */
class TargetAgent extends http.Agent {
  retired = false;

  override keepSocketAlive(socket: Duplex): boolean {
    return !this.retired && (super.keepSocketAlive(socket) as unknown as boolean);
  }

  retire(): void {
    this.retired = true;
    for (const sockets of Object.values(this.freeSockets)) for (const s of sockets ?? []) s.destroy();
  }
}

/** One request in flight to a target; the proxy releases it exactly once when the exchange ends. */
export interface Lease {
  host: string;
  port: number;
  agent: http.Agent;
  /** What to do when the deregistration delay passes with this request still running. */
  onCut(cut: () => void): void;
  release(): void;
}

export type Pick = { kind: 'target'; lease: Lease } | { kind: 'none' } | { kind: 'no-address'; message: string };

export interface TargetGroupPoolDeps {
  logger: Logger;
  /** A target's standing changed (health state, or drained and removed): the engine reads it again at once. */
  onChange?: () => void;
  /** Where a target is now (an instance's tag may change), or why it cannot be reached. */
  resolve(tg: StoredTargetGroup, target: Target): TrafficAddress | string;
}

interface TargetState {
  target: Target;
  phase: 'registered' | 'draining';
  health: Health;
  leases: Set<LeaseImpl>;
  agent: TargetAgent;
  checkTimer?: NodeJS.Timeout;
  checking?: AbortController;
  /** Bumped whenever checks stop or restart, so a late result of an old check is dropped. */
  generation: number;
  drainTimer?: NodeJS.Timeout;
}

class LeaseImpl implements Lease {
  private cut?: () => void;
  private released = false;

  constructor(
    readonly host: string,
    readonly port: number,
    readonly agent: http.Agent,
    private readonly onRelease: (l: LeaseImpl) => void,
  ) {}

  onCut(cut: () => void): void {
    this.cut = cut;
  }

  cutOff(): void {
    this.cut?.();
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    this.onRelease(this);
  }
}

const keyOf = (t: Target): string => `${t.Id}\u0000${t.Port}`;

export class TargetGroupPool {
  private readonly states = new Map<string, TargetState>();
  private matcher: CodeRange[];
  private turn = 0;
  private closed = false;

  constructor(
    private settings: StoredTargetGroup,
    private readonly deps: TargetGroupPoolDeps,
  ) {
    this.matcher = parseMatcher(settings.Matcher.HttpCode);
  }

  get arn(): string {
    return this.settings.TargetGroupArn;
  }

  /** New health check settings or deregistration delay: checks restart on the new interval. */
  update(settings: StoredTargetGroup): void {
    const wasEnabled = this.settings.HealthCheckEnabled;
    this.settings = settings;
    this.matcher = parseMatcher(settings.Matcher.HttpCode);
    for (const s of this.states.values()) {
      if (s.phase !== 'registered') continue;
      if (wasEnabled !== settings.HealthCheckEnabled) s.health = settings.HealthCheckEnabled ? initialHealth() : uncheckedHealth();
      this.startChecks(s);
    }
  }

  /** Idempotent: a registered target stays as it is; a draining one becomes 'initial' again. */
  register(target: Target): void {
    if (this.closed) return;
    let s = this.states.get(keyOf(target));
    if (s?.phase === 'registered') return;
    if (s) {
      clearTimeout(s.drainTimer);
      s.drainTimer = undefined;
      s.agent.retired = false;
      s.phase = 'registered';
    } else {
      s = {
        target: { ...target },
        phase: 'registered',
        health: initialHealth(),
        leases: new Set(),
        agent: new TargetAgent({ keepAlive: true, maxFreeSockets: 32 }),
        generation: 0,
      };
      this.states.set(keyOf(target), s);
    }
    s.health = this.settings.HealthCheckEnabled ? initialHealth() : uncheckedHealth();
    this.deps.logger.info({ targetGroup: this.settings.TargetGroupName, target: s.target }, 'target registered');
    this.startChecks(s);
  }

  /** Idempotent: an absent or draining target stays as it is. */
  deregister(target: Target): void {
    const s = this.states.get(keyOf(target));
    if (!s || s.phase === 'draining') return;
    s.phase = 'draining';
    this.stopChecks(s);
    s.agent.retire();
    const log = { targetGroup: this.settings.TargetGroupName, target: s.target, inFlight: s.leases.size };
    if (s.leases.size === 0) {
      this.deps.logger.info(log, 'target deregistered (no requests in flight)');
      this.remove(s);
      return;
    }
    const delayMs = this.settings.DeregistrationDelaySeconds * 1000;
    this.deps.logger.info({ ...log, delaySeconds: this.settings.DeregistrationDelaySeconds }, 'target draining');
    s.drainTimer = setTimeout(() => {
      this.deps.logger.warn(
        { targetGroup: this.settings.TargetGroupName, target: s.target, inFlight: s.leases.size },
        'deregistration delay passed: requests still in flight are cut off',
      );
      for (const l of [...s.leases]) l.cutOff();
      this.remove(s);
    }, delayMs);
    s.drainTimer.unref();
  }

  /** The registered and draining targets, in registration order. */
  targets(): Target[] {
    return [...this.states.values()].map((s) => ({ ...s.target }));
  }

  /** Targets with this Id (any port). */
  targetsWithId(id: string): Target[] {
    return this.targets().filter((t) => t.Id === id);
  }

  health(target: Target): TargetHealthDescription['TargetHealth'] {
    const s = this.states.get(keyOf(target));
    if (!s) return { State: 'unused', Reason: 'Target.NotRegistered', Description: 'Target is not registered to the target group' };
    if (s.phase === 'draining')
      return { State: 'draining', Reason: 'Target.DeregistrationInProgress', Description: 'Target deregistration is in progress' };
    const h = s.health;
    return { State: h.state, ...(h.reason ? { Reason: h.reason } : {}), ...(h.description ? { Description: h.description } : {}) };
  }

  inFlight(target: Target): number {
    return this.states.get(keyOf(target))?.leases.size ?? 0;
  }

  pick(): Pick {
    const registered = [...this.states.values()].filter((s) => s.phase === 'registered');
    if (registered.length === 0) return { kind: 'none' };
    const healthy = registered.filter((s) => s.health.state === 'healthy');
    const candidates = healthy.length > 0 ? healthy : registered;
    let why = '';
    for (let i = 0; i < candidates.length; i++) {
      const s = candidates[this.turn % candidates.length];
      this.turn = (this.turn + 1) % 1_000_000_000;
      const address = this.deps.resolve(this.settings, s.target);
      if (typeof address === 'string') {
        why = address;
        continue;
      }
      const lease = new LeaseImpl(address.host, address.port, s.agent, (l) => this.released(s, l));
      s.leases.add(lease);
      return { kind: 'target', lease };
    }
    return { kind: 'no-address', message: why };
  }

  /** Everything stops: checks, drains, in-flight requests (cut off), upstream connections. */
  close(): void {
    this.closed = true;
    for (const s of [...this.states.values()]) {
      for (const l of [...s.leases]) l.cutOff();
      this.remove(s);
    }
  }

  private released(s: TargetState, l: LeaseImpl): void {
    s.leases.delete(l);
    if (s.phase === 'draining' && s.leases.size === 0 && this.states.get(keyOf(s.target)) === s) {
      this.deps.logger.info({ targetGroup: this.settings.TargetGroupName, target: s.target }, 'target drained');
      this.remove(s);
    }
  }

  private remove(s: TargetState): void {
    clearTimeout(s.drainTimer);
    s.drainTimer = undefined;
    this.stopChecks(s);
    s.agent.destroy();
    if (this.states.get(keyOf(s.target)) === s) {
      this.states.delete(keyOf(s.target));
      this.deps.onChange?.();
    }
  }

  private startChecks(s: TargetState): void {
    this.stopChecks(s);
    if (!this.settings.HealthCheckEnabled || this.closed) return;
    const generation = s.generation;
    void this.check(s, generation);
    s.checkTimer = setInterval(() => void this.check(s, generation), this.settings.HealthCheckIntervalSeconds * 1000);
    s.checkTimer.unref();
  }

  private stopChecks(s: TargetState): void {
    clearInterval(s.checkTimer);
    s.checkTimer = undefined;
    s.checking?.abort();
    s.checking = undefined;
    s.generation++;
  }

  private async check(s: TargetState, generation: number): Promise<void> {
    if (s.checking || generation !== s.generation) return;
    const abort = new AbortController();
    s.checking = abort;
    let outcome: CheckOutcome;
    try {
      const tg = this.settings;
      const address = this.deps.resolve(tg, s.target);
      outcome =
        typeof address === 'string'
          ? { ok: false, reason: 'Target.FailedHealthChecks', description: `Health checks failed: ${address}` }
          : await runHealthCheck({
              host: address.host,
              port: tg.HealthCheckPort === 'traffic-port' ? address.port : Number(tg.HealthCheckPort),
              path: tg.HealthCheckPath,
              timeoutMs: tg.HealthCheckTimeoutSeconds * 1000,
              matcher: this.matcher,
              signal: abort.signal,
            });
    } catch (err) {
      outcome = { ok: false, reason: 'Target.FailedHealthChecks', description: `Health checks failed: ${String(err)}` };
    } finally {
      if (s.checking === abort) s.checking = undefined;
    }
    if (abort.signal.aborted || generation !== s.generation || s.phase !== 'registered') return;
    const before = s.health;
    s.health = applyCheck(before, outcome, {
      healthy: this.settings.HealthyThresholdCount,
      unhealthy: this.settings.UnhealthyThresholdCount,
    });
    if (s.health.state !== before.state) {
      this.deps.logger.info(
        { targetGroup: this.settings.TargetGroupName, target: s.target, from: before.state, to: s.health.state, reason: s.health.reason },
        `target ${s.health.state}`,
      );
      this.deps.onChange?.();
    }
  }
}
