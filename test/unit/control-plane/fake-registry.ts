/**
 * Test doubles for the deployment engine's tests: an in-memory Registry (applications, groups,
 * configs, on-premises instances; tag filters matched like the real one), a fake SpecSigner, a
 * manual clock, and a harness that wires the engine and the API layers over it on a database (as
 * server.ts does) and plays agents by calling the commands API handlers directly.
 */
import type { Logger } from 'pino';
import { createDeploymentOperations } from '../../../control-plane/api/deployment-operations.js';
import type { OperationTable, RequestContext } from '../../../control-plane/api/operations.js';
import { createCommandsOperations } from '../../../control-plane/commands/commands-api.js';
import { createUnknownHostLog } from '../../../control-plane/commands/unknown-hosts.js';
import { createDeploymentEngine } from '../../../control-plane/engine/deployment-engine.js';
import type { EngineCore } from '../../../control-plane/engine/engine-core.js';
import type { EngineEvent, PolledHostCommand } from '../../../control-plane/engine/engine.js';
import {
  BUILT_IN_DEPLOYMENT_CONFIGS,
  type ApplicationInfo,
  type BlueGreenDeploymentConfiguration,
  type AutoRollbackConfiguration,
  type DeploymentConfigInfo,
  type DeploymentGroupInfo,
  type InstanceInfo,
  type LastDeploymentInfo,
  type MinimumHealthyHosts,
  type RevisionLocation,
  type Tag,
  type TagFilter,
} from '../../../control-plane/model.js';
import type { Registry } from '../../../control-plane/registry/registry.js';
import type { SpecSigner } from '../../../control-plane/signing/spec-signer.js';
import type { TrafficPort } from '../../../control-plane/traffic/traffic-port.js';
import { openDatabase, type Db } from '../../../control-plane/store/database.js';
import { silentLogger } from '../../helpers/temp.js';

export class FakeRegistry implements Registry {
  applications = new Map<string, ApplicationInfo>();
  groups = new Map<string, DeploymentGroupInfo>();
  configs = new Map<string, DeploymentConfigInfo>();
  instances = new Map<string, InstanceInfo>();
  recorded: { groupId: string; info: LastDeploymentInfo; revision: RevisionLocation }[] = [];

  constructor() {
    for (const c of BUILT_IN_DEPLOYMENT_CONFIGS) this.addConfig(c.name, c.minimumHealthyHosts);
  }

  addApplication(name: string): ApplicationInfo {
    const app: ApplicationInfo = {
      applicationId: `app-${name}`,
      applicationName: name,
      createTime: 1,
      linkedToGitHub: false,
      computePlatform: 'Server',
    };
    this.applications.set(name, app);
    return app;
  }

  addGroup(
    app: string,
    name: string,
    opts: {
      config?: string;
      filters?: TagFilter[];
      targetRevision?: RevisionLocation;
      autoRollback?: AutoRollbackConfiguration;
      /** Target group names: the group is WITH_TRAFFIC_CONTROL. */
      targetGroups?: string[];
      /** The group is BLUE_GREEN (with targetGroups) with this configuration. */
      blueGreen?: BlueGreenDeploymentConfiguration;
    } = {},
  ): DeploymentGroupInfo {
    const group: DeploymentGroupInfo = {
      applicationName: app,
      deploymentGroupId: `dg-${app}-${name}`,
      deploymentGroupName: name,
      deploymentConfigName: opts.config ?? 'CodeDeployDefault.OneAtATime',
      ec2TagFilters: [],
      onPremisesInstanceTagFilters: opts.filters ?? [{ Key: 'env', Value: 'prod', Type: 'KEY_AND_VALUE' }],
      ...(opts.targetRevision ? { targetRevision: opts.targetRevision } : {}),
      ...(opts.autoRollback ? { autoRollbackConfiguration: opts.autoRollback } : {}),
      deploymentStyle: {
        deploymentType: opts.blueGreen ? 'BLUE_GREEN' : 'IN_PLACE',
        deploymentOption: opts.targetGroups ? 'WITH_TRAFFIC_CONTROL' : 'WITHOUT_TRAFFIC_CONTROL',
      },
      ...(opts.blueGreen ? { blueGreenDeploymentConfiguration: opts.blueGreen } : {}),
      ...(opts.targetGroups ? { loadBalancerInfo: { targetGroupInfoList: opts.targetGroups.map((n) => ({ name: n })) } } : {}),
      outdatedInstancesStrategy: 'UPDATE',
      computePlatform: 'Server',
    };
    this.groups.set(`${app}/${name}`, group);
    return group;
  }

  addConfig(name: string, mhh: MinimumHealthyHosts): void {
    this.configs.set(name, {
      deploymentConfigId: `cfg-${name}`,
      deploymentConfigName: name,
      minimumHealthyHosts: mhh,
      createTime: 1,
      computePlatform: 'Server',
    });
  }

  addInstance(name: string, tags: Tag[] = [{ Key: 'env', Value: 'prod' }]): InstanceInfo {
    const instance: InstanceInfo = {
      instanceName: name,
      iamUserArn: hostArn(name),
      instanceArn: `arn:aws:codedeploy:us-east-1:000000000000:instance/${name}_abc`,
      registerTime: 1,
      tags,
    };
    this.instances.set(name, instance);
    return instance;
  }

  getApplication(name: string) {
    return this.applications.get(name);
  }
  getDeploymentGroup(app: string, name: string) {
    return this.groups.get(`${app}/${name}`);
  }
  getDeploymentGroupById(id: string) {
    return [...this.groups.values()].find((g) => g.deploymentGroupId === id);
  }
  getDeploymentConfig(name: string) {
    return this.configs.get(name);
  }
  resolveTargets(group: DeploymentGroupInfo): InstanceInfo[] {
    return this.instancesMatching(group.onPremisesInstanceTagFilters);
  }
  instancesMatching(filters: readonly TagFilter[]): InstanceInfo[] {
    const matches = (i: InstanceInfo, f: TagFilter) =>
      i.tags.some((t) =>
        f.Type === 'KEY_ONLY' ? t.Key === f.Key : f.Type === 'VALUE_ONLY' ? t.Value === f.Value : t.Key === f.Key && t.Value === f.Value,
      );
    return [...this.instances.values()]
      .filter((i) => i.deregisterTime === undefined && filters.some((f) => matches(i, f)))
      .sort((a, b) => (a.instanceName < b.instanceName ? -1 : a.instanceName > b.instanceName ? 1 : 0));
  }
  replaceFleet(groupId: string, filters: readonly TagFilter[], terminate: readonly string[]): void {
    const group = this.getDeploymentGroupById(groupId);
    if (group) group.onPremisesInstanceTagFilters = [...filters];
    for (const name of terminate) {
      const i = this.instances.get(name);
      if (i && i.deregisterTime === undefined) i.deregisterTime = 1;
    }
  }
  instanceByHostIdentifier(id: string) {
    const byArn = this.instances.get(id.slice(id.lastIndexOf('/') + 1));
    if (byArn && byArn.deregisterTime === undefined && (byArn.iamUserArn === id || byArn.iamSessionArn === id)) return byArn;
    return [...this.instances.values()].find((i) => i.deregisterTime === undefined && (i.iamUserArn === id || i.iamSessionArn === id));
  }
  getInstance(name: string) {
    return this.instances.get(name);
  }
  recordDeployment(groupId: string, info: LastDeploymentInfo, revision: RevisionLocation): void {
    this.recorded.push({ groupId, info, revision });
    const group = this.getDeploymentGroupById(groupId);
    if (!group) return;
    group.lastAttemptedDeployment = info;
    if (info.status === 'Succeeded') group.lastSuccessfulDeployment = info;
  }
}

export const hostArn = (name: string) => `arn:aws:iam::123456789012:user/${name}`;

export const fakeSigner = (): SpecSigner & { signed: string[] } => {
  const signed: string[] = [];
  return {
    signed,
    sign: async (json: string) => {
      signed.push(json);
      return `SIGNED:${json}`;
    },
    caCertificatePem: '',
    caCertificatePath: '/nonexistent/ca.pem',
  };
};

export const s3Revision = (key = 'app-v1.zip'): RevisionLocation => ({
  revisionType: 'S3',
  s3Location: { bucket: 'releases', key, bundleType: 'zip' },
});

const quiet = silentLogger();
const never = new AbortController().signal;

export function requestContext(opts: { signal?: AbortSignal; packageVersion?: string; log?: Logger } = {}): RequestContext {
  return { signal: opts.signal ?? never, log: opts.log ?? quiet, ...(opts.packageVersion ? { packageVersion: opts.packageVersion } : {}) };
}

export interface HarnessOptions {
  hosts?: number;
  config?: string;
  db?: Db;
  registry?: FakeRegistry;
  signer?: SpecSigner;
  clock?: { now: number };
  commandTimeoutSeconds?: number;
  longPollSeconds?: number;
  autoRollback?: AutoRollbackConfiguration;
  logger?: Logger;
  /** The group is WITH_TRAFFIC_CONTROL over these target groups. */
  targetGroups?: string[];
  traffic?: TrafficPort;
  allowTrafficTimeoutSeconds?: number;
}

export type Outcome = 'ok' | 'fail' | 'hang';

export interface Harness {
  engine: EngineCore['engine'];
  core: EngineCore;
  commandsOperations: OperationTable;
  deploymentOperations: OperationTable;
  close(): void;
  db: Db;
  registry: FakeRegistry;
  clock: { now: number };
  events: EngineEvent[];
  hosts: string[];
  poll(host: string, ctx?: RequestContext): Promise<PolledHostCommand | undefined>;
  ack(cmd: PolledHostCommand): Promise<string>;
  complete(cmd: PolledHostCommand, ok: boolean, payload?: Record<string, unknown> | string): Promise<void>;
  update(cmd: PolledHostCommand): Promise<string>;
  /** Plays every host as an agent until no host has work; `outcome` decides each command. Returns the commands run, in order. */
  drive(outcome?: (host: string, command: string) => Outcome): Promise<{ host: string; command: string }[]>;
  /** The most targets InProgress at the same time, from the events. */
  maxConcurrent(deploymentId: string): number;
  /** Hosts in the order they went InProgress. */
  startOrder(deploymentId: string): string[];
}

export const hostName = (i: number) => `host-${String(i).padStart(2, '0')}`;

export function createHarness(opts: HarnessOptions = {}): Harness {
  const registry = opts.registry ?? new FakeRegistry();
  const hosts: string[] = [];
  if (!opts.registry) {
    registry.addApplication('web');
    registry.addGroup('web', 'prod', { config: opts.config, autoRollback: opts.autoRollback, targetGroups: opts.targetGroups });
    for (let i = 1; i <= (opts.hosts ?? 3); i++) hosts.push(registry.addInstance(hostName(i)).instanceName);
  } else {
    hosts.push(...[...registry.instances.keys()].sort());
  }
  const db = opts.db ?? openDatabase(':memory:');
  const clock = opts.clock ?? { now: 1_700_000_000_000 };
  const logger = opts.logger ?? silentLogger();
  const core = createDeploymentEngine({
    db,
    registry,
    signer: opts.signer ?? fakeSigner(),
    identity: { region: 'us-east-1', accountId: '000000000000' },
    logger,
    clock: () => clock.now,
    commandTimeoutSeconds: opts.commandTimeoutSeconds ?? 4200,
    traffic: opts.traffic,
    allowTrafficTimeoutSeconds: opts.allowTrafficTimeoutSeconds,
  });
  const commandsOperations = createCommandsOperations(core, {
    unknownHosts: createUnknownHostLog({ logger, clock: () => clock.now }),
    longPollSeconds: opts.longPollSeconds ?? 0,
  });
  const events: EngineEvent[] = [];
  core.engine.on((e) => events.push(e));
  const ops = commandsOperations;
  const call = async (op: string, input: Record<string, unknown>, ctx = requestContext()) =>
    (await ops[op]?.(input, ctx)) as Record<string, unknown>;
  const payloadOf = (ok: boolean, payload?: Record<string, unknown> | string) =>
    typeof payload === 'string'
      ? payload
      : JSON.stringify(
          payload ??
            (ok
              ? { error_code: 0, script_name: '', message: 'Succeeded: ', log: '' }
              : {
                  error_code: 4,
                  script_name: 'scripts/fail.sh',
                  message: 'Script at specified location: scripts/fail.sh run as user root failed with exit code 1',
                  log: 'boom\n',
                }),
        );

  const h: Harness = {
    engine: core.engine,
    core,
    commandsOperations,
    deploymentOperations: createDeploymentOperations(core),
    close: () => core.close(),
    db,
    registry,
    clock,
    events,
    hosts,
    async poll(host, ctx) {
      const out = await call('PollHostCommand', { HostIdentifier: hostArn(host) }, ctx);
      return out.HostCommand as PolledHostCommand | undefined;
    },
    async ack(cmd) {
      const out = await call('PutHostCommandAcknowledgement', {
        HostCommandIdentifier: cmd.HostCommandIdentifier,
        Diagnostics: { Format: 'JSON', Payload: '{"IsCommandNoop":false}' },
      });
      return out.CommandStatus as string;
    },
    async complete(cmd, ok, payload) {
      await call('PutHostCommandComplete', {
        HostCommandIdentifier: cmd.HostCommandIdentifier,
        CommandStatus: ok ? 'Succeeded' : 'Failed',
        Diagnostics: { Format: 'JSON', Payload: payloadOf(ok, payload) },
      });
    },
    async update(cmd) {
      const out = await call('PostHostCommandUpdate', { HostCommandIdentifier: cmd.HostCommandIdentifier });
      return out.CommandStatus as string;
    },
    async drive(outcome = () => 'ok') {
      const ran: { host: string; command: string }[] = [];
      for (let progress = true; progress;) {
        progress = false;
        for (const host of hosts) {
          const cmd = await h.poll(host);
          if (!cmd) continue;
          progress = true;
          ran.push({ host, command: cmd.CommandName });
          const o = outcome(host, cmd.CommandName);
          if (o === 'hang') continue;
          await h.ack(cmd);
          await h.complete(cmd, o === 'ok');
        }
      }
      return ran;
    },
    maxConcurrent(deploymentId) {
      let now = 0;
      let max = 0;
      for (const e of events) {
        if (e.type !== 'target-status' || e.deploymentId !== deploymentId) continue;
        if (e.status === 'InProgress') now++;
        else if (e.status === 'Succeeded' || e.status === 'Failed') now--;
        max = Math.max(max, now);
      }
      return max;
    },
    startOrder(deploymentId) {
      return events
        .filter((e) => e.type === 'target-status' && e.deploymentId === deploymentId && e.status === 'InProgress')
        .map((e) => (e as { instanceName: string }).instanceName);
    },
  };
  return h;
}
