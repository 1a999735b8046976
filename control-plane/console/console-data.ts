/**
 * The console's read endpoint: `GET /_console/api/overview` and `GET /_console/api/deployments/<id>`
 * return, in one call, what a view shows. They are built from the public CodeDeploy API's own
 * operations (the same table the JSON router dispatches to), so the console shows exactly what the
 * SDK and the aws CLI would read, in the API's shapes, with no second path into the stores.
 *
 * Bounded: the overview lists at most MAX_APPLICATIONS applications (and their groups),
 * the RECENT_DEPLOYMENTS newest deployments and MAX_HOSTS on-premises instances; a host's "last
 * deployment" is the newest of those recent deployments that targeted it.
 */
import type { Logger } from 'pino';
import { ApiError } from '../api/api-error.js';
import type { OperationTable, RequestContext } from '../api/operations.js';
import type { HostSeen } from '../engine/engine.js';
import type { ApplicationInfo, DeploymentGroupInfo, DeploymentInfo, InstanceInfo, InstanceTarget } from '../model.js';

export const RECENT_DEPLOYMENTS = 50;
export const MAX_APPLICATIONS = 200;
export const MAX_HOSTS = 500;
/** BatchGet operations take at most this many names. */
const BATCH = 25;

export interface ConsoleDataOptions {
  /** The public CodeDeploy API's operations (CodeDeploy_20141006.*). */
  operations: OperationTable;
  /** When an agent last polled (DeploymentEngine.hostSeen). */
  hostSeen(hostIdentifier: string): HostSeen | undefined;
  logger: Logger;
}

export interface ApplicationView {
  application: ApplicationInfo;
  groups: DeploymentGroupInfo[];
}

export interface HostView {
  instance: InstanceInfo;
  lastSeen?: number;
  agentVersion?: string;
  lastDeployment?: { deploymentId: string; status: string; createTime: number; targetStatus: string };
}

export interface Overview {
  applications: ApplicationView[];
  deployments: DeploymentInfo[];
  hosts: HostView[];
  /** What was left out to stay within the bounds. */
  truncated: { applications: boolean; deployments: boolean; hosts: boolean };
}

export interface DeploymentView {
  deployment: DeploymentInfo;
  targets: InstanceTarget[];
}

export interface ConsoleData {
  overview(signal: AbortSignal): Promise<Overview>;
  /** Undefined when there is no such deployment. */
  deployment(deploymentId: string, signal: AbortSignal): Promise<DeploymentView | undefined>;
}

type Output = Record<string, unknown>;

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

export function createConsoleData(opts: ConsoleDataOptions): ConsoleData {
  const call = async (operation: string, input: Output, signal: AbortSignal): Promise<Output> => {
    const handler = opts.operations[operation];
    if (!handler) throw new Error(`the console needs the public API operation ${operation}, which is not in the operation table`);
    const ctx: RequestContext = { signal, log: opts.logger };
    return ((await handler(input, ctx)) ?? {}) as Output;
  };

  /** Every page of a List operation, up to `max` items. */
  const listAll = async (operation: string, input: Output, member: string, max: number, signal: AbortSignal) => {
    const items: string[] = [];
    let nextToken: string | undefined;
    do {
      const out = await call(operation, nextToken ? { ...input, nextToken } : input, signal);
      items.push(...((out[member] as string[] | undefined) ?? []));
      nextToken = out.nextToken as string | undefined;
    } while (nextToken && items.length < max);
    return { items: items.slice(0, max), truncated: items.length > max || nextToken !== undefined };
  };

  const applications = async (signal: AbortSignal) => {
    const names = await listAll('ListApplications', {}, 'applications', MAX_APPLICATIONS, signal);
    const views: ApplicationView[] = [];
    for (const batch of chunks(names.items, BATCH)) {
      const out = await call('BatchGetApplications', { applicationNames: batch }, signal);
      for (const application of (out.applicationsInfo as ApplicationInfo[] | undefined) ?? []) {
        const groupNames = await listAll(
          'ListDeploymentGroups',
          { applicationName: application.applicationName },
          'deploymentGroups',
          100,
          signal,
        );
        const groups: DeploymentGroupInfo[] = [];
        for (const g of chunks(groupNames.items, BATCH)) {
          const got = await call(
            'BatchGetDeploymentGroups',
            { applicationName: application.applicationName, deploymentGroupNames: g },
            signal,
          );
          groups.push(...((got.deploymentGroupsInfo as DeploymentGroupInfo[] | undefined) ?? []));
        }
        views.push({ application, groups });
      }
    }
    return { views, truncated: names.truncated };
  };

  const recentDeployments = async (signal: AbortSignal) => {
    const ids = await listAll('ListDeployments', {}, 'deployments', RECENT_DEPLOYMENTS, signal);
    const deployments: DeploymentInfo[] = [];
    for (const batch of chunks(ids.items, BATCH)) {
      const out = await call('BatchGetDeployments', { deploymentIds: batch }, signal);
      deployments.push(...((out.deploymentsInfo as DeploymentInfo[] | undefined) ?? []));
    }
    deployments.sort((a, b) => b.createTime - a.createTime);
    return { deployments, truncated: ids.truncated };
  };

  const targetsOf = async (deploymentId: string, signal: AbortSignal): Promise<InstanceTarget[]> => {
    const ids = await listAll('ListDeploymentTargets', { deploymentId }, 'targetIds', 1000, signal);
    const targets: InstanceTarget[] = [];
    for (const batch of chunks(ids.items, BATCH)) {
      const out = await call('BatchGetDeploymentTargets', { deploymentId, targetIds: batch }, signal);
      for (const t of (out.deploymentTargets as { instanceTarget?: InstanceTarget }[] | undefined) ?? [])
        if (t.instanceTarget) targets.push(t.instanceTarget);
    }
    return targets;
  };

  const hosts = async (deployments: readonly DeploymentInfo[], signal: AbortSignal) => {
    const names = await listAll('ListOnPremisesInstances', {}, 'instanceNames', MAX_HOSTS, signal);
    const instances: InstanceInfo[] = [];
    for (const batch of chunks(names.items, BATCH)) {
      const out = await call('BatchGetOnPremisesInstances', { instanceNames: batch }, signal);
      instances.push(...((out.instanceInfos as InstanceInfo[] | undefined) ?? []));
    }
    // Newest first: the first deployment that lists a host is its last one.
    const last = new Map<string, HostView['lastDeployment']>();
    for (const d of deployments) {
      if (last.size === instances.length) break;
      const out = await call('ListDeploymentInstances', { deploymentId: d.deploymentId }, signal);
      const listed = (out.instancesList as string[] | undefined) ?? [];
      const wanted = listed.filter((name) => !last.has(name));
      for (const batch of chunks(wanted, 100)) {
        const got = await call('BatchGetDeploymentInstances', { deploymentId: d.deploymentId, instanceIds: batch }, signal);
        for (const s of (got.instancesSummary as { instanceId: string; status: string }[] | undefined) ?? [])
          last.set(s.instanceId, { deploymentId: d.deploymentId, status: d.status, createTime: d.createTime, targetStatus: s.status });
      }
    }
    const views = instances
      .sort((a, b) => a.instanceName.localeCompare(b.instanceName))
      .map((instance): HostView => {
        const identifier = instance.iamSessionArn ?? instance.iamUserArn;
        const seen = identifier ? opts.hostSeen(identifier) : undefined;
        return {
          instance,
          ...(seen ? { lastSeen: seen.lastSeen, agentVersion: seen.packageVersion } : {}),
          ...(last.has(instance.instanceName) ? { lastDeployment: last.get(instance.instanceName) } : {}),
        };
      });
    return { views, truncated: names.truncated };
  };

  return {
    async overview(signal) {
      const apps = await applications(signal);
      const recent = await recentDeployments(signal);
      const fleet = await hosts(recent.deployments, signal);
      return {
        applications: apps.views,
        deployments: recent.deployments,
        hosts: fleet.views,
        truncated: { applications: apps.truncated, deployments: recent.truncated, hosts: fleet.truncated },
      };
    },

    async deployment(deploymentId, signal) {
      let out: Output;
      try {
        out = await call('GetDeployment', { deploymentId }, signal);
      } catch (err) {
        if (err instanceof ApiError) return undefined;
        throw err;
      }
      const deployment = out.deploymentInfo as DeploymentInfo | undefined;
      if (!deployment) return undefined;
      return { deployment, targets: await targetsOf(deploymentId, signal) };
    },
  };
}
