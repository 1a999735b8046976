/**
 * The public CodeDeploy API's deployment operations (CodeDeploy_20141006.*, camelCase members as
 * in the API reference): create, get, list and stop deployments, and read their targets and
 * instances. Error codes are the real service's, so SDK code branches the same way here. Records
 * come from the engine's store; list pagination tokens are opaque base64 JSON.
 */
import { ApiError, arrayMember, booleanMember, objectMember, stringMember } from './api-error.js';
import type { OperationTable } from './operations.js';
import type { EngineCore } from '../engine/deployment-engine.js';
import type { NewDeployment } from '../engine/engine.js';
import type { TargetRow } from '../engine/engine-store.js';
import { DEPLOYMENT_ID_PATTERN } from '../engine/identifiers.js';
import { clip } from '../log/clip.js';
import { APPLICATION, checkName, GROUP } from '../registry/registry-input.js';
import type { AutoRollbackConfiguration, FileExistsBehavior, RevisionLocation } from '../model.js';

const PAGE = 100;
const DEPLOYMENT_STATUSES = ['Created', 'Queued', 'InProgress', 'Baking', 'Succeeded', 'Failed', 'Stopped', 'Ready'];
const INSTANCE_STATUSES = ['Pending', 'InProgress', 'Succeeded', 'Failed', 'Skipped', 'Unknown', 'Ready'];
const ROLLBACK_EVENTS = ['DEPLOYMENT_FAILURE', 'DEPLOYMENT_STOP_ON_ALARM', 'DEPLOYMENT_STOP_ON_REQUEST'];

function encodeToken(value: Record<string, number>): string {
  return Buffer.from(JSON.stringify(value), 'utf8').toString('base64');
}

function decodeToken(token: string | undefined, key: string): number | undefined {
  if (token === undefined) return undefined;
  try {
    const parsed: unknown = JSON.parse(Buffer.from(token, 'base64').toString('utf8'));
    const v = typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>)[key] : undefined;
    if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return v;
  } catch {
    // fall through
  }
  throw new ApiError('InvalidNextTokenException', 'The next token was specified in an invalid format: pass the nextToken of the previous answer unchanged.');
}

function stringList(input: Record<string, unknown>, member: string): string[] | undefined {
  const list = arrayMember(input, member);
  if (!list) return undefined;
  return list.map((v, i) => {
    if (typeof v !== 'string') throw new ApiError('ValidationException', `1 validation error detected: Value at '${member}.${i + 1}' failed to satisfy constraint: Member must be a string`);
    return v;
  });
}

function rollbackConfig(input: Record<string, unknown>): AutoRollbackConfiguration | undefined {
  const c = objectMember(input, 'autoRollbackConfiguration');
  if (!c) return undefined;
  const enabled = booleanMember(c, 'enabled');
  const events = stringList(c, 'events') ?? [];
  const bad = events.find((e) => !ROLLBACK_EVENTS.includes(e));
  if (bad !== undefined) throw new ApiError('InvalidAutoRollbackConfigException', `autoRollbackConfiguration.events has ${JSON.stringify(bad)}: use ${ROLLBACK_EVENTS.join(', ')}.`);
  if (enabled && events.length === 0) throw new ApiError('InvalidAutoRollbackConfigException', 'autoRollbackConfiguration is enabled but lists no events: add DEPLOYMENT_FAILURE.');
  return { enabled: enabled ?? false, events: events as AutoRollbackConfiguration['events'] };
}

export function createDeploymentOperations(core: EngineCore): OperationTable {
  const { engine, store, registry } = core;

  const deploymentIdOf = (input: Record<string, unknown>): string => {
    const id = stringMember(input, 'deploymentId');
    if (!id) throw new ApiError('DeploymentIdRequiredException', 'At least one deployment ID must be specified.');
    if (!DEPLOYMENT_ID_PATTERN.test(id)) throw new ApiError('InvalidDeploymentIdException', `The deployment ID ${clip(id)} is not valid: deployment IDs look like d-ABCDEF123.`);
    return id;
  };
  const existing = (input: Record<string, unknown>): string => {
    const id = deploymentIdOf(input);
    if (!store.getDeployment(id)) throw new ApiError('DeploymentDoesNotExistException', `The deployment ${id} could not be found.`);
    return id;
  };
  const targetsOf = (id: string): Map<string, TargetRow> => new Map(store.targets(id).map((t) => [t.instanceName, t]));
  const summary = (t: TargetRow) => ({
    deploymentId: t.deploymentId,
    instanceId: t.instanceName,
    status: t.target.status,
    lastUpdatedAt: t.target.lastUpdatedAt,
    lifecycleEvents: t.target.lifecycleEvents,
    instanceType: 'Blue',
  });
  const page = <T>(items: T[], token: string | undefined): { items: T[]; nextToken?: string } => {
    const offset = decodeToken(token, 'o') ?? 0;
    const slice = items.slice(offset, offset + PAGE);
    return offset + PAGE < items.length ? { items: slice, nextToken: encodeToken({ o: offset + PAGE }) } : { items: slice };
  };

  return {
    CreateDeployment(input) {
      const applicationName = stringMember(input, 'applicationName');
      if (!applicationName) throw new ApiError('ApplicationNameRequiredException', 'The application name must be specified (applicationName).');
      const targetInstances = objectMember(input, 'targetInstances');
      if (targetInstances && Object.keys(targetInstances).length > 0) {
        throw new ApiError('InvalidTargetInstancesException', 'targetInstances is not supported by the local control plane: deployments go to the deployment group\'s on-premises instances.');
      }
      const request: NewDeployment = {
        applicationName,
        deploymentGroupName: stringMember(input, 'deploymentGroupName') ?? '',
        revision: objectMember(input, 'revision') as RevisionLocation | undefined,
        deploymentConfigName: stringMember(input, 'deploymentConfigName'),
        description: stringMember(input, 'description'),
        ignoreApplicationStopFailures: booleanMember(input, 'ignoreApplicationStopFailures'),
        fileExistsBehavior: stringMember(input, 'fileExistsBehavior') as FileExistsBehavior | undefined,
        autoRollbackConfiguration: rollbackConfig(input),
        updateOutdatedInstancesOnly: booleanMember(input, 'updateOutdatedInstancesOnly'),
      };
      return { deploymentId: engine.createDeployment(request).deploymentId };
    },

    GetDeployment(input) {
      return { deploymentInfo: engine.getDeployment(existing(input)) };
    },

    BatchGetDeployments(input) {
      const ids = stringList(input, 'deploymentIds');
      if (!ids || ids.length === 0) throw new ApiError('DeploymentIdRequiredException', 'At least one deployment ID must be specified.');
      if (ids.length > 25) throw new ApiError('BatchLimitExceededException', `The maximum number of deployment IDs is 25; got ${ids.length}.`);
      for (const id of ids) deploymentIdOf({ deploymentId: id });
      return { deploymentsInfo: ids.map((id) => engine.getDeployment(id)).filter((d) => d !== undefined) };
    },

    ListDeployments(input) {
      const applicationName = stringMember(input, 'applicationName');
      const deploymentGroupName = stringMember(input, 'deploymentGroupName');
      if (applicationName && !deploymentGroupName) throw new ApiError('DeploymentGroupNameRequiredException', 'deploymentGroupName must be specified together with applicationName.');
      if (deploymentGroupName && !applicationName) throw new ApiError('ApplicationNameRequiredException', 'applicationName must be specified together with deploymentGroupName.');
      if (applicationName && deploymentGroupName) {
        checkName(applicationName, 'applicationName', APPLICATION);
        checkName(deploymentGroupName, 'deploymentGroupName', GROUP);
        if (!registry.getApplication(applicationName)) throw new ApiError('ApplicationDoesNotExistException', `No application found for name: ${applicationName}`);
        if (!registry.getDeploymentGroup(applicationName, deploymentGroupName)) {
          throw new ApiError('DeploymentGroupDoesNotExistException', `No Deployment Group found for name: ${deploymentGroupName} (application ${applicationName}).`);
        }
      }
      const statuses = stringList(input, 'includeOnlyStatuses');
      const bad = statuses?.find((s) => !DEPLOYMENT_STATUSES.includes(s));
      if (bad !== undefined) throw new ApiError('InvalidDeploymentStatusException', `includeOnlyStatuses has ${JSON.stringify(bad)}: use ${DEPLOYMENT_STATUSES.join(', ')}.`);
      const range = objectMember(input, 'createTimeRange');
      const bound = (name: 'start' | 'end'): number | undefined => {
        const v = range?.[name];
        if (v === undefined || v === null) return undefined;
        if (typeof v !== 'number') throw new ApiError('InvalidTimeRangeException', `createTimeRange.${name} must be a timestamp (epoch seconds).`);
        return v;
      };
      const start = bound('start');
      const end = bound('end');
      if (start !== undefined && end !== undefined && start > end) throw new ApiError('InvalidTimeRangeException', 'createTimeRange.start is after createTimeRange.end.');
      const beforeSeq = decodeToken(stringMember(input, 'nextToken'), 's');
      const rows = store.queryDeploymentIds({ applicationName, deploymentGroupName, statuses, createdFrom: start, createdTo: end, beforeSeq, limit: PAGE + 1 });
      const more = rows.length > PAGE;
      const shown = rows.slice(0, PAGE);
      const last = shown[shown.length - 1];
      return { deployments: shown.map((r) => r.deploymentId), ...(more && last ? { nextToken: encodeToken({ s: last.seq }) } : {}) };
    },

    StopDeployment(input) {
      const id = existing(input);
      return engine.stopDeployment(id, booleanMember(input, 'autoRollbackEnabled'));
    },

    ListDeploymentTargets(input) {
      const id = existing(input);
      const filters = objectMember(input, 'targetFilters') ?? {};
      for (const key of Object.keys(filters)) {
        if (key !== 'TargetStatus' && key !== 'ServerInstanceLabel') throw new ApiError('InvalidTargetFilterNameException', `targetFilters key ${JSON.stringify(key)} is not valid: use TargetStatus or ServerInstanceLabel.`);
      }
      const statuses = stringList(filters, 'TargetStatus');
      const labels = stringList(filters, 'ServerInstanceLabel');
      const ids = store
        .targets(id)
        .filter((t) => !statuses || statuses.length === 0 || statuses.includes(t.target.status))
        .filter((t) => !labels || labels.length === 0 || labels.includes(t.target.instanceLabel ?? 'Blue'))
        .map((t) => t.instanceName);
      const p = page(ids, stringMember(input, 'nextToken'));
      return { targetIds: p.items, ...(p.nextToken ? { nextToken: p.nextToken } : {}) };
    },

    BatchGetDeploymentTargets(input) {
      const id = existing(input);
      const targetIds = stringList(input, 'targetIds');
      if (!targetIds || targetIds.length === 0) throw new ApiError('DeploymentTargetIdRequiredException', 'At least one target ID must be specified (targetIds).');
      if (targetIds.length > 25) throw new ApiError('DeploymentTargetListSizeExceededException', `The maximum number of target IDs is 25; got ${targetIds.length}.`);
      const targets = targetsOf(id);
      return {
        deploymentTargets: targetIds.map((t) => {
          const row = targets.get(t);
          if (!row) throw new ApiError('DeploymentTargetDoesNotExistException', `The target ${t} is not part of deployment ${id}; ListDeploymentTargets lists its targets.`);
          return { deploymentTargetType: 'InstanceTarget', instanceTarget: row.target };
        }),
      };
    },

    ListDeploymentInstances(input) {
      const id = existing(input);
      const statuses = stringList(input, 'instanceStatusFilter');
      const bad = statuses?.find((s) => !INSTANCE_STATUSES.includes(s));
      if (bad !== undefined) throw new ApiError('InvalidInstanceStatusException', `instanceStatusFilter has ${JSON.stringify(bad)}: use ${INSTANCE_STATUSES.join(', ')}.`);
      const names = store
        .targets(id)
        .filter((t) => !statuses || statuses.length === 0 || statuses.includes(t.target.status))
        .map((t) => t.instanceName);
      const p = page(names, stringMember(input, 'nextToken'));
      return { instancesList: p.items, ...(p.nextToken ? { nextToken: p.nextToken } : {}) };
    },

    GetDeploymentInstance(input) {
      const id = existing(input);
      const instanceId = stringMember(input, 'instanceId');
      if (!instanceId) throw new ApiError('InstanceIdRequiredException', 'The instance ID must be specified (instanceId).');
      const row = store.getTarget(id, instanceId);
      if (!row) throw new ApiError('InstanceDoesNotExistException', `The instance ${instanceId} is not part of deployment ${id}; ListDeploymentInstances lists its instances.`);
      return { instanceSummary: summary(row) };
    },

    BatchGetDeploymentInstances(input) {
      const id = existing(input);
      const instanceIds = stringList(input, 'instanceIds');
      if (!instanceIds || instanceIds.length === 0) throw new ApiError('InstanceIdRequiredException', 'At least one instance ID must be specified (instanceIds).');
      if (instanceIds.length > 100) throw new ApiError('BatchLimitExceededException', `The maximum number of instance IDs is 100; got ${instanceIds.length}.`);
      const targets = targetsOf(id);
      return {
        instancesSummary: instanceIds.map((name) => {
          const row = targets.get(name);
          if (!row) throw new ApiError('InstanceDoesNotExistException', `The instance ${name} is not part of deployment ${id}; ListDeploymentInstances lists its instances.`);
          return summary(row);
        }),
        errorMessage: '',
      };
    },
  };
}
