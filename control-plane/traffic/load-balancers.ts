/**
 * The local load balancers: ELBv2's target groups, load balancers and listeners (ElbService, for
 * the Query API in elbv2-handler.ts) and the engine's view of them (TrafficPort, for BlockTraffic and
 * AllowTraffic), over SQLite records (traffic-store.ts), run-time target pools (target-pool.ts:
 * health checks, in-flight requests, draining, round robin) and one real HTTP server per listener
 * (listener-proxy.ts) on the control plane's host.
 *
 * Choices where the real service cannot be copied or the brief left it open:
 * - A target is health-checked as soon as it is registered, whether or not a listener forwards to
 *   its group (ELB reports Target.NotInUse and checks nothing until then; here the engine's
 *   AllowTraffic would wait forever for a group that is not yet behind a listener).
 * - An 'instance' target's address is its on-premises instance's `local:traffic-address` tag
 *   (host:port), read again for every check and request (the tag may change); its Port is the
 *   tag's port unless RegisterTargets gives one. An 'ip' target is Id:Port (Port defaulting to
 *   the group's). TrafficPort registers an instance as Id = instance name, Port = tag port in an
 *   'instance' group, and as its tag's IP and port in an 'ip' group.
 * - A newly registered target is healthy after one passing check (the ALB guide), an unhealthy
 *   one after HealthyThresholdCount; with health checks disabled, registered targets are
 *   reported 'healthy' and take traffic.
 * - A draining target with no request in flight is removed at once (ELB: "immediately completes
 *   the deregistration process"); otherwise when its last request ends or the delay passes.
 * - A target group is forwarded to by the listeners of at most one load balancer
 *   (TargetGroupAssociationLimit), as with ALBs; listener ports are unique on the host.
 * - Create* with a name (or port) that exists and the same settings returns the existing record,
 *   as ELBv2's idempotent Create* calls do; different settings are a Duplicate* error.
 * - A listener that cannot reopen after a restart (its port taken) is logged and its load
 *   balancer described as State 'failed' with the reason; the record stays.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { ControlPlaneIdentity } from '../model.js';
import type { Db } from '../store/database.js';
import {
  ElbError,
  type ElbService,
  type ElbTag,
  type ListenerRecord,
  type LoadBalancerRecord,
  type TargetDescription,
  type TargetGroupRecord,
  type TargetHealthDescription,
} from './elb-model.js';
import {
  API_HEALTH_CHECK_LIMITS,
  applyTargetGroupAttributes,
  DEFAULT_DEREGISTRATION_DELAY_SECONDS,
  instanceTrafficAddress,
  mergeTags,
  resolveHealthCheck,
  targetGroupAttributes,
  validateIpTarget,
  validateName,
  validatePort,
  validateProtocol,
  validateTags,
  validateTargetType,
  type HealthCheckLimits,
  type TrafficAddress,
} from './elb-validation.js';
import { openListener, type ListenerServer, type Route } from './listener-proxy.js';
import { TargetGroupPool, type Target } from './target-pool.js';
import type { TargetStanding, TrafficPort } from './traffic-port.js';
import { createTrafficStore, type StoredTargetGroup, type TrafficStore } from './traffic-store.js';

export interface LoadBalancersOptions {
  /** create tables with migrate(db, 'traffic', ...) (traffic-store.ts). */
  db: Db;
  /** Region and account for ARNs. */
  identity: ControlPlaneIdentity;
  /** Where listeners bind (the control plane's host, default 127.0.0.1). */
  host: string;
  logger: Logger;
  /** An on-premises instance's tags, for 'instance' targets (the local:traffic-address tag gives host:port); undefined when no such instance. */
  instanceTags: (instanceName: string) => { Key: string; Value?: string }[] | undefined;
  /** Milliseconds since the epoch (CreatedTime); default Date.now. */
  clock?: () => number;
  /**
   * Called when a target's standing changes: a health state flips, or a draining target is gone
   * (which can happen inside a TrafficPort call, so the callee must defer its work). The control
   * plane re-evaluates deployments then, so AllowTraffic and BlockTraffic end without waiting for a tick.
   */
  onTargetChange?: () => void;
  /** The lowest HealthCheckIntervalSeconds accepted; default 5 (the API's). Tests lower it (fractions allowed below 1). */
  minHealthCheckIntervalSeconds?: number;
}

export interface LoadBalancers extends ElbService, TrafficPort {
  close(): Promise<void>;
}

const MAX_DESCRIBE_TAGS_ARNS = 20;

const tgNotFound = (what: string): ElbError =>
  new ElbError('TargetGroupNotFound', `Target group '${what}' not found: check the ARN or name (DescribeTargetGroups lists them)`);
const lbNotFound = (what: string): ElbError =>
  new ElbError('LoadBalancerNotFound', `Load balancer '${what}' not found: check the ARN or name (DescribeLoadBalancers lists them)`);
const listenerNotFound = (what: string): ElbError =>
  new ElbError('ListenerNotFound', `Listener '${what}' not found: check the ARN (DescribeListeners lists a load balancer's listeners)`);
const invalid = (message: string): ElbError => new ElbError('ValidationError', message);

type ResourceKind = 'targetgroup' | 'loadbalancer' | 'listener';

function resourceKind(arn: string): ResourceKind | undefined {
  const m = /^arn:aws[\w-]*:elasticloadbalancing:[^:]*:[^:]*:(targetgroup|loadbalancer|listener)\//.exec(String(arn));
  return m?.[1] as ResourceKind | undefined;
}

export async function createLoadBalancers(o: LoadBalancersOptions): Promise<LoadBalancers> {
  const store: TrafficStore = createTrafficStore(o.db);
  const now = o.clock ?? Date.now;
  const logger = o.logger;
  const limits: HealthCheckLimits = { minIntervalSeconds: o.minHealthCheckIntervalSeconds ?? API_HEALTH_CHECK_LIMITS.minIntervalSeconds };
  const arnPrefix = `arn:aws:elasticloadbalancing:${o.identity.region}:${o.identity.accountId}`;
  const newId = (): string => randomBytes(8).toString('hex');
  const pools = new Map<string, TargetGroupPool>();
  const servers = new Map<string, ListenerServer>();
  /** Load balancer ARN -> why one of its listeners is not open (restart found the port taken). */
  const failures = new Map<string, string>();
  let closing = false;

  // ---- addresses ----------------------------------------------------------------------------

  const instanceAddress = (instanceName: string): TrafficAddress | string =>
    instanceTrafficAddress(instanceName, o.instanceTags(instanceName));

  const resolve = (tg: StoredTargetGroup, t: Target): TrafficAddress | string => {
    if (tg.TargetType === 'ip') return { host: t.Id, port: t.Port };
    const address = instanceAddress(t.Id);
    return typeof address === 'string' ? address : { host: address.host, port: t.Port };
  };

  const poolOf = (tg: StoredTargetGroup): TargetGroupPool => {
    let pool = pools.get(tg.TargetGroupArn);
    if (!pool) {
      pool = new TargetGroupPool(tg, { logger: logger.child({ targetGroup: tg.TargetGroupName }), resolve, onChange: o.onTargetChange });
      pools.set(tg.TargetGroupArn, pool);
    }
    return pool;
  };

  // ---- records ------------------------------------------------------------------------------

  const loadBalancerArnsOf = (tgArn: string): string[] => [
    ...new Set(
      store
        .listeners()
        .filter((l) => l.DefaultActions.some((a) => a.TargetGroupArn === tgArn))
        .map((l) => l.LoadBalancerArn),
    ),
  ];
  const withLbs = (tg: StoredTargetGroup): TargetGroupRecord => ({ ...tg, LoadBalancerArns: loadBalancerArnsOf(tg.TargetGroupArn) });

  const targetGroup = (arn: string): StoredTargetGroup => {
    const tg = store.targetGroup(arn);
    if (!tg) throw tgNotFound(arn);
    return tg;
  };
  const loadBalancer = (arn: string): LoadBalancerRecord => {
    const lb = store.loadBalancer(arn);
    if (!lb) throw lbNotFound(arn);
    return lb;
  };
  const described = (lb: LoadBalancerRecord): LoadBalancerRecord => {
    const failure = failures.get(lb.LoadBalancerArn);
    return failure ? { ...lb, State: { Code: 'failed', Reason: failure } } : lb;
  };

  const requireArns = (what: string, arns: unknown): string[] => {
    if (!Array.isArray(arns) || arns.some((a) => typeof a !== 'string')) throw invalid(`${what} must be a list of ARNs`);
    return arns as string[];
  };

  const requireResource = (arn: string): void => {
    switch (resourceKind(arn)) {
      case 'targetgroup':
        targetGroup(arn);
        return;
      case 'loadbalancer':
        loadBalancer(arn);
        return;
      case 'listener':
        if (!store.listener(arn)) throw listenerNotFound(arn);
        return;
      case undefined:
        throw invalid(`'${arn}' is not the ARN of a target group, load balancer or listener`);
    }
  };

  // ---- targets ------------------------------------------------------------------------------

  /** A RegisterTargets / DeregisterTargets target, checked, with its Port filled in. */
  const resolveTarget = (tg: StoredTargetGroup, t: TargetDescription, forRegister: boolean): Target => {
    if (typeof t?.Id !== 'string' || t.Id === '') throw invalid('Each target needs an Id (an instance name or an IP address)');
    if (t.Port !== undefined) validatePort('A target Port', t.Port);
    if (tg.TargetType === 'ip') return { Id: validateIpTarget(t.Id), Port: t.Port ?? tg.Port };
    if (t.Port !== undefined && !forRegister) return { Id: t.Id, Port: t.Port };
    const address = instanceAddress(t.Id);
    if (typeof address === 'string') {
      if (forRegister) throw new ElbError('InvalidTarget', `Target '${t.Id}' cannot be registered: ${address}`);
      return { Id: t.Id, Port: t.Port ?? tg.Port };
    }
    return { Id: t.Id, Port: t.Port ?? address.port };
  };

  const requireTargets = (targets: unknown): TargetDescription[] => {
    if (!Array.isArray(targets) || targets.length === 0)
      throw invalid('Targets must list at least one target (Id, and Port if it differs)');
    return targets as TargetDescription[];
  };

  // ---- listeners ----------------------------------------------------------------------------

  const routeFor =
    (listenerArn: string): (() => Route) =>
    () => {
      const listener = store.listener(listenerArn);
      const tgArn = listener?.DefaultActions[0]?.TargetGroupArn;
      const pool = tgArn === undefined ? undefined : pools.get(tgArn);
      if (!pool) return { kind: 'gone' };
      return pool.pick();
    };

  const open = async (l: ListenerRecord): Promise<ListenerServer> => {
    try {
      return await openListener({
        host: o.host,
        port: l.Port,
        logger: logger.child({ listener: l.ListenerArn, port: l.Port }),
        route: routeFor(l.ListenerArn),
      });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EADDRINUSE')
        throw new ElbError('DuplicateListener', `Port ${l.Port} is already in use on ${o.host} by another program: choose another Port`);
      if (code === 'EACCES')
        throw invalid(
          `Port ${l.Port} cannot be opened on ${o.host} (permission denied; ports below 1024 need privileges): choose a port from 1024`,
        );
      throw invalid(`Port ${l.Port} cannot be opened on ${o.host}: ${(err as Error).message}`);
    }
  };

  const closeListener = async (arn: string): Promise<void> => {
    const server = servers.get(arn);
    servers.delete(arn);
    await server?.close();
  };

  // ---- restart: pools for the stored targets, servers for the stored listeners ---------------

  for (const tg of store.targetGroups()) {
    const pool = poolOf(tg);
    for (const t of store.targets(tg.TargetGroupArn)) pool.register(t);
  }
  for (const l of store.listeners()) {
    try {
      servers.set(l.ListenerArn, await open(l));
      logger.info({ listener: l.ListenerArn, port: l.Port }, 'listener reopened');
    } catch (err) {
      const reason = `listener on port ${l.Port} could not reopen: ${(err as Error).message}`;
      failures.set(l.LoadBalancerArn, reason);
      logger.error({ err, listener: l.ListenerArn, port: l.Port }, reason);
    }
  }

  // ---- the engine's port --------------------------------------------------------------------

  const standingOf = (pool: TargetGroupPool, targets: Target[]): TargetStanding => {
    // Registered beats draining beats unused when one host is there more than once.
    const healths = targets.map((t) => pool.health(t));
    const pick =
      healths.find((h) => h.State !== 'draining' && h.State !== 'unused') ?? healths.find((h) => h.State === 'draining') ?? healths[0];
    if (!pick)
      return {
        kind: 'state',
        state: 'unused',
        reason: 'Target.NotRegistered',
        description: 'Target is not registered to the target group',
      };
    return { kind: 'state', state: pick.State, reason: pick.Reason, description: pick.Description };
  };

  /** The targets that are this host in this group (by instance name, or by its tag's IP address in an 'ip' group). */
  const hostTargets = (tg: StoredTargetGroup, pool: TargetGroupPool, instanceName: string): Target[] | { message: string } => {
    if (tg.TargetType === 'instance') return pool.targetsWithId(instanceName);
    const address = instanceAddress(instanceName);
    if (typeof address === 'string') return { message: address };
    return pool.targetsWithId(address.host).filter((t) => t.Port === address.port);
  };

  const portTargetGroup = (name: string): StoredTargetGroup | TargetStanding => {
    const tg = store.targetGroupByName(name);
    return (
      tg ?? {
        kind: 'no-target-group',
        message: `target group '${name}' does not exist (deleted or never created); create it or change the deployment group's loadBalancerInfo`,
      }
    );
  };
  const isStanding = (x: StoredTargetGroup | TargetStanding): x is TargetStanding => 'kind' in x;

  const trafficPort: TrafficPort = {
    hasTargetGroup: (name) => store.targetGroupByName(name) !== undefined,
    register(targetGroupName, instanceName) {
      const tg = portTargetGroup(targetGroupName);
      if (isStanding(tg)) return tg;
      const pool = poolOf(tg);
      const existing = hostTargets(tg, pool, instanceName);
      if (!Array.isArray(existing)) return { kind: 'no-address', message: existing.message };
      const registered = existing.filter((t) => {
        const s = pool.health(t).State;
        return s !== 'draining' && s !== 'unused';
      });
      if (registered.length > 0) return standingOf(pool, registered);
      const address = instanceAddress(instanceName);
      if (typeof address === 'string') return { kind: 'no-address', message: address };
      let target: Target;
      if (tg.TargetType === 'ip') {
        try {
          target = { Id: validateIpTarget(address.host), Port: address.port };
        } catch {
          return {
            kind: 'no-address',
            message: `target group '${targetGroupName}' takes IP addresses, and instance '${instanceName}''s traffic address host '${address.host}' is not one; use an IP in its local:traffic-address tag`,
          };
        }
      } else {
        target = { Id: instanceName, Port: address.port };
      }
      store.addTarget(tg.TargetGroupArn, target);
      pool.register(target);
      return standingOf(pool, [target]);
    },
    deregister(targetGroupName, instanceName) {
      const tg = portTargetGroup(targetGroupName);
      if (isStanding(tg)) return tg;
      const pool = poolOf(tg);
      const targets = hostTargets(tg, pool, instanceName);
      if (!Array.isArray(targets)) return { kind: 'no-address', message: targets.message };
      for (const t of targets) {
        store.removeTarget(tg.TargetGroupArn, t);
        pool.deregister(t);
      }
      return standingOf(pool, targets);
    },
    standing(targetGroupName, instanceName) {
      const tg = portTargetGroup(targetGroupName);
      if (isStanding(tg)) return tg;
      const pool = poolOf(tg);
      const targets = hostTargets(tg, pool, instanceName);
      if (!Array.isArray(targets)) return { kind: 'no-address', message: targets.message };
      return standingOf(pool, targets);
    },
  };

  // ---- the ELBv2 operations -----------------------------------------------------------------

  const sameSettings = (a: object, b: object): boolean => JSON.stringify(a) === JSON.stringify(b);

  const service: ElbService = {
    createTargetGroup(input) {
      const name = validateName('target group', input?.Name);
      const protocol = validateProtocol('Protocol', input.Protocol);
      if (input.Port === undefined) throw invalid('Port is required: the port targets receive traffic on unless registered with their own');
      const port = validatePort('Port', input.Port);
      const targetType = validateTargetType(input.TargetType);
      const health = resolveHealthCheck(input, undefined, limits);
      const tags = validateTags(input.Tags);
      const existing = store.targetGroupByName(name);
      const settings = { Protocol: protocol, Port: port, VpcId: input.VpcId, TargetType: targetType, ...health };
      if (existing) {
        const differs = (Object.keys(settings) as (keyof typeof settings)[]).some(
          (k) => !sameSettings({ v: existing[k] }, { v: settings[k] }),
        );
        if (differs)
          throw new ElbError(
            'DuplicateTargetGroupName',
            `A target group named '${name}' already exists with other settings: choose another name or delete it first`,
          );
        return withLbs(existing);
      }
      const tg: StoredTargetGroup = {
        TargetGroupArn: `${arnPrefix}:targetgroup/${name}/${newId()}`,
        TargetGroupName: name,
        ...settings,
        DeregistrationDelaySeconds: DEFAULT_DEREGISTRATION_DELAY_SECONDS,
      };
      if (tg.VpcId === undefined) delete tg.VpcId;
      store.transaction(() => {
        store.putTargetGroup(tg);
        store.setTags(tg.TargetGroupArn, tags);
      });
      poolOf(tg);
      logger.info({ targetGroup: name }, 'target group created');
      return withLbs(tg);
    },

    describeTargetGroups(filter) {
      const f = filter ?? {};
      const given = [f.TargetGroupArns?.length, f.Names?.length, f.LoadBalancerArn].filter(Boolean).length;
      if (given > 1) throw invalid('Give only one of TargetGroupArns, Names and LoadBalancerArn');
      if (f.TargetGroupArns?.length) return requireArns('TargetGroupArns', f.TargetGroupArns).map((arn) => withLbs(targetGroup(arn)));
      if (f.Names?.length)
        return f.Names.map((n) => {
          const tg = store.targetGroupByName(n);
          if (!tg) throw tgNotFound(n);
          return withLbs(tg);
        });
      if (f.LoadBalancerArn) {
        loadBalancer(f.LoadBalancerArn);
        return store
          .targetGroups()
          .map(withLbs)
          .filter((tg) => tg.LoadBalancerArns.includes(f.LoadBalancerArn ?? ''));
      }
      return store.targetGroups().map(withLbs);
    },

    modifyTargetGroup(input) {
      const tg = targetGroup(input?.TargetGroupArn);
      for (const k of ['Name', 'Protocol', 'Port', 'VpcId', 'TargetType', 'Tags'] as const)
        if (input[k] !== undefined) throw invalid(`${k} cannot be changed on an existing target group: create a new target group instead`);
      const { TargetGroupArn: _arn, ...changes } = input;
      const updated: StoredTargetGroup = { ...tg, ...resolveHealthCheck(changes, tg, limits) };
      store.putTargetGroup(updated);
      pools.get(tg.TargetGroupArn)?.update(updated);
      return withLbs(updated);
    },

    deleteTargetGroup(targetGroupArn) {
      const tg = targetGroup(targetGroupArn);
      const users = store.listeners().filter((l) => l.DefaultActions.some((a) => a.TargetGroupArn === tg.TargetGroupArn));
      if (users.length > 0)
        throw new ElbError(
          'ResourceInUse',
          `Target group '${tg.TargetGroupName}' is currently in use by a listener (${users[0]?.ListenerArn}): delete the listener (or its load balancer) first`,
        );
      store.deleteTargetGroup(tg.TargetGroupArn);
      pools.get(tg.TargetGroupArn)?.close();
      pools.delete(tg.TargetGroupArn);
      logger.info({ targetGroup: tg.TargetGroupName }, 'target group deleted');
    },

    describeTargetGroupAttributes(targetGroupArn) {
      return targetGroupAttributes(targetGroup(targetGroupArn).DeregistrationDelaySeconds);
    },

    modifyTargetGroupAttributes(targetGroupArn, attributes) {
      const tg = targetGroup(targetGroupArn);
      const delay = applyTargetGroupAttributes(tg.DeregistrationDelaySeconds, attributes);
      const updated = { ...tg, DeregistrationDelaySeconds: delay };
      store.putTargetGroup(updated);
      pools.get(tg.TargetGroupArn)?.update(updated);
      return targetGroupAttributes(delay);
    },

    registerTargets(targetGroupArn, targets) {
      const tg = targetGroup(targetGroupArn);
      const resolved = requireTargets(targets).map((t) => resolveTarget(tg, t, true));
      store.transaction(() => {
        for (const t of resolved) store.addTarget(tg.TargetGroupArn, t);
      });
      const pool = poolOf(tg);
      for (const t of resolved) pool.register(t);
    },

    deregisterTargets(targetGroupArn, targets) {
      const tg = targetGroup(targetGroupArn);
      const pool = poolOf(tg);
      // A target given without a Port means every registration of that Id (as the engine's port does).
      const resolved = requireTargets(targets).flatMap((t) =>
        t?.Port === undefined && typeof t?.Id === 'string' && pool.targetsWithId(t.Id).length > 0
          ? pool.targetsWithId(t.Id)
          : [resolveTarget(tg, t, false)],
      );
      store.transaction(() => {
        for (const t of resolved) store.removeTarget(tg.TargetGroupArn, t);
      });
      for (const t of resolved) pool.deregister(t);
    },

    describeTargetHealth(targetGroupArn, targets) {
      const tg = targetGroup(targetGroupArn);
      const pool = poolOf(tg);
      const list =
        targets && targets.length > 0
          ? targets.flatMap((t) => {
              if (t?.Port === undefined && typeof t?.Id === 'string' && pool.targetsWithId(t.Id).length > 0)
                return pool.targetsWithId(t.Id);
              return [resolveTarget(tg, t, false)];
            })
          : pool.targets();
      return list.map((t): TargetHealthDescription => ({
        Target: { Id: t.Id, Port: t.Port },
        HealthCheckPort: tg.HealthCheckPort === 'traffic-port' ? String(t.Port) : tg.HealthCheckPort,
        TargetHealth: pool.health(t),
      }));
    },

    createLoadBalancer(input) {
      const name = validateName('load balancer', input?.Name);
      const scheme = input.Scheme ?? 'internet-facing';
      if (scheme !== 'internet-facing' && scheme !== 'internal')
        throw invalid(`Scheme '${String(scheme)}' is not valid: use 'internet-facing' or 'internal'`);
      if (input.Type !== undefined && input.Type !== 'application')
        throw invalid(`Type '${String(input.Type)}' is not supported by the local load balancers: use 'application'`);
      const tags = validateTags(input.Tags);
      const existing = store.loadBalancerByName(name);
      if (existing) {
        if (existing.Scheme !== scheme)
          throw new ElbError(
            'DuplicateLoadBalancerName',
            `A load balancer named '${name}' already exists with other settings: choose another name or delete it first`,
          );
        return described(existing);
      }
      const id = newId();
      const lb: LoadBalancerRecord = {
        LoadBalancerArn: `${arnPrefix}:loadbalancer/app/${name}/${id}`,
        LoadBalancerName: name,
        DNSName: `${scheme === 'internal' ? 'internal-' : ''}${name}-${id}.${o.identity.region}.elb.localhost`,
        CanonicalHostedZoneId: 'Z0LOCALELB00000',
        CreatedTime: now(),
        Scheme: scheme,
        Type: 'application',
        State: { Code: 'active' },
        IpAddressType: 'ipv4',
      };
      store.transaction(() => {
        store.putLoadBalancer(lb);
        store.setTags(lb.LoadBalancerArn, tags);
      });
      logger.info({ loadBalancer: name }, 'load balancer created');
      return lb;
    },

    describeLoadBalancers(filter) {
      const f = filter ?? {};
      if (f.LoadBalancerArns?.length && f.Names?.length) throw invalid('Give only one of LoadBalancerArns and Names');
      if (f.LoadBalancerArns?.length) return requireArns('LoadBalancerArns', f.LoadBalancerArns).map((arn) => described(loadBalancer(arn)));
      if (f.Names?.length)
        return f.Names.map((n) => {
          const lb = store.loadBalancerByName(n);
          if (!lb) throw lbNotFound(n);
          return described(lb);
        });
      return store.loadBalancers().map(described);
    },

    async deleteLoadBalancer(loadBalancerArn) {
      // As ELBv2: deleting a load balancer that does not exist succeeds.
      const lb = store.loadBalancer(loadBalancerArn);
      if (!lb) return;
      const listeners = store.listeners().filter((l) => l.LoadBalancerArn === lb.LoadBalancerArn);
      store.transaction(() => {
        for (const l of listeners) store.deleteListener(l.ListenerArn);
        store.deleteLoadBalancer(lb.LoadBalancerArn);
      });
      failures.delete(lb.LoadBalancerArn);
      await Promise.all(listeners.map((l) => closeListener(l.ListenerArn)));
      logger.info({ loadBalancer: lb.LoadBalancerName }, 'load balancer deleted');
    },

    async createListener(input) {
      const lb = loadBalancer(input?.LoadBalancerArn);
      const protocol = validateProtocol('Protocol', input.Protocol);
      const port = validatePort('Port', input.Port);
      const actions = input.DefaultActions;
      if (!Array.isArray(actions) || actions.length !== 1)
        throw invalid('DefaultActions must hold exactly one action: { Type: forward, TargetGroupArn }');
      const action = actions[0];
      if (action?.Type !== 'forward')
        throw invalid(`Action type '${String(action?.Type)}' is not supported by the local load balancers: use 'forward'`);
      if (typeof action.TargetGroupArn !== 'string' || action.TargetGroupArn === '')
        throw invalid('A forward action needs a TargetGroupArn');
      const tg = targetGroup(action.TargetGroupArn);
      const otherLbs = loadBalancerArnsOf(tg.TargetGroupArn).filter((arn) => arn !== lb.LoadBalancerArn);
      if (otherLbs.length > 0)
        throw new ElbError(
          'TargetGroupAssociationLimit',
          `Target group '${tg.TargetGroupName}' is already used by load balancer ${otherLbs[0]}; a target group serves one load balancer: create another target group`,
        );
      const defaultActions = [{ Type: 'forward' as const, TargetGroupArn: tg.TargetGroupArn }];
      const onPort = store.listenerOnPort(port);
      if (onPort) {
        if (onPort.LoadBalancerArn === lb.LoadBalancerArn && sameSettings(onPort.DefaultActions, defaultActions)) {
          // The same listener: return it, opening its port again if a restart could not.
          if (!servers.has(onPort.ListenerArn)) {
            const server = await open(onPort);
            if (servers.has(onPort.ListenerArn) || closing) await server.close();
            else servers.set(onPort.ListenerArn, server);
            failures.delete(lb.LoadBalancerArn);
          }
          return onPort;
        }
        throw new ElbError(
          'DuplicateListener',
          onPort.LoadBalancerArn === lb.LoadBalancerArn
            ? `Load balancer '${lb.LoadBalancerName}' already has a listener on port ${port}: delete it or choose another Port`
            : `Port ${port} is already used by a listener of load balancer ${onPort.LoadBalancerArn} (all listeners share host ${o.host}): choose another Port`,
        );
      }
      const lbId = lb.LoadBalancerArn.split('/').pop() ?? newId();
      const listener: ListenerRecord = {
        ListenerArn: `${arnPrefix}:listener/app/${lb.LoadBalancerName}/${lbId}/${newId()}`,
        LoadBalancerArn: lb.LoadBalancerArn,
        Port: port,
        Protocol: protocol,
        DefaultActions: defaultActions,
      };
      const server = await open(listener);
      // The load balancer or target group may have gone, or the port been taken, while binding.
      const race = !store.loadBalancer(lb.LoadBalancerArn)
        ? lbNotFound(lb.LoadBalancerArn)
        : !store.targetGroup(tg.TargetGroupArn)
          ? tgNotFound(tg.TargetGroupArn)
          : store.listenerOnPort(port)
            ? new ElbError('DuplicateListener', `Port ${port} was just taken by another listener: choose another Port`)
            : closing
              ? new ElbError('ServiceUnavailable', 'The load balancers are shutting down', 503)
              : undefined;
      if (race) {
        await server.close();
        throw race;
      }
      store.putListener(listener);
      servers.set(listener.ListenerArn, server);
      logger.info({ listener: listener.ListenerArn, port, targetGroup: tg.TargetGroupName }, 'listener created');
      return listener;
    },

    describeListeners(filter) {
      const f = filter ?? {};
      if (f.ListenerArns?.length) {
        return requireArns('ListenerArns', f.ListenerArns).map((arn) => {
          const l = store.listener(arn);
          if (!l) throw listenerNotFound(arn);
          return l;
        });
      }
      if (f.LoadBalancerArn) {
        loadBalancer(f.LoadBalancerArn);
        return store.listeners().filter((l) => l.LoadBalancerArn === f.LoadBalancerArn);
      }
      throw invalid('Give a LoadBalancerArn or ListenerArns');
    },

    async deleteListener(listenerArn) {
      const l = store.listener(listenerArn);
      if (!l) throw listenerNotFound(listenerArn);
      store.deleteListener(l.ListenerArn);
      await closeListener(l.ListenerArn);
      logger.info({ listener: l.ListenerArn, port: l.Port }, 'listener deleted');
    },

    addTags(resourceArns, tags) {
      const arns = requireArns('ResourceArns', resourceArns);
      const valid = validateTags(tags);
      if (valid.length === 0) throw invalid('Tags must list at least one tag');
      arns.forEach(requireResource);
      const merged = arns.map((arn) => [arn, mergeTags(store.tags(arn), valid, arn)] as const);
      store.transaction(() => {
        for (const [arn, t] of merged) store.setTags(arn, t);
      });
    },

    removeTags(resourceArns, tagKeys) {
      const arns = requireArns('ResourceArns', resourceArns);
      if (!Array.isArray(tagKeys) || tagKeys.length === 0) throw invalid('TagKeys must list at least one key');
      arns.forEach(requireResource);
      store.transaction(() => {
        for (const arn of arns)
          store.setTags(
            arn,
            store.tags(arn).filter((t) => !tagKeys.includes(t.Key)),
          );
      });
    },

    describeTags(resourceArns) {
      const arns = requireArns('ResourceArns', resourceArns);
      if (arns.length === 0 || arns.length > MAX_DESCRIBE_TAGS_ARNS)
        throw invalid(`ResourceArns must list 1 to ${MAX_DESCRIBE_TAGS_ARNS} ARNs`);
      arns.forEach(requireResource);
      return arns.map((arn) => ({ ResourceArn: arn, Tags: store.tags(arn) as ElbTag[] }));
    },
  };

  let closed: Promise<void> | undefined;
  return {
    ...service,
    ...trafficPort,
    close() {
      closed ??= (async () => {
        closing = true;
        for (const pool of pools.values()) pool.close();
        pools.clear();
        await Promise.all([...servers.keys()].map((arn) => closeListener(arn)));
        logger.info('load balancers stopped');
      })();
      return closed;
    },
  };
}
