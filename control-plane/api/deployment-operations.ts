/**
 * The public CodeDeploy API's deployment operations (CodeDeploy_20141006.*, camelCase members as
 * in the API reference): create, get, list and stop deployments, and read their targets and
 * instances. Error codes are the real service's, so SDK code branches the same way here. Records
 * come from the engine's store; list pagination tokens are opaque base64 JSON. Built by the
 * composition root (server.ts) over the engine's core.
 */
import { ApiError } from './api-error.js';
import {
  APPLICATION,
  booleanMember,
  checkName,
  encodeToken,
  GROUP,
  listOf,
  mapMember,
  objectMember,
  oneOf,
  page,
  PAGE_SIZE,
  requiredString,
  requiredStringList,
  rollbackConfig,
  stringList,
  stringMember,
  tokenMember,
  type Input,
  type RequiredRules,
} from './input-readers.js';
import type { OperationTable } from './operations.js';
import type { EngineCore } from '../engine/engine-core.js';
import type { RevisionPinner } from '../revisions/revision-pinning.js';
import type { NewDeployment } from '../engine/engine.js';
import type { TargetRow } from '../engine/engine-store.js';
import { DEPLOYMENT_ID_PATTERN } from '../engine/identifiers.js';
import { clip } from '../log/clip.js';
import type { FileExistsBehavior, RevisionLocation } from '../model.js';

const DEPLOYMENT_STATUSES = ['Created', 'Queued', 'InProgress', 'Baking', 'Succeeded', 'Failed', 'Stopped', 'Ready'];
const INSTANCE_STATUSES = ['Pending', 'InProgress', 'Succeeded', 'Failed', 'Skipped', 'Unknown', 'Ready'];

const NO_DEPLOYMENT_ID = { code: 'DeploymentIdRequiredException', message: 'At least one deployment ID must be specified.' };
const DEPLOYMENT_ID: RequiredRules = {
  code: 'InvalidDeploymentIdException',
  pattern: DEPLOYMENT_ID_PATTERN,
  messages: { pattern: (id) => `The deployment ID ${clip(id)} is not valid: deployment IDs look like d-ABCDEF123.` },
  missing: NO_DEPLOYMENT_ID,
};

/** The deploymentId member of an existing deployment. */
function existingDeployment(core: EngineCore, input: Input): string {
  const id = requiredString(input, 'deploymentId', DEPLOYMENT_ID);
  if (!core.store.getDeployment(id)) throw new ApiError('DeploymentDoesNotExistException', `The deployment ${id} could not be found.`);
  return id;
}

function targetsOf(core: EngineCore, deploymentId: string): Map<string, TargetRow> {
  return new Map(core.store.targets(deploymentId).map((t) => [t.instanceName, t]));
}

function instanceSummary(t: TargetRow) {
  return {
    deploymentId: t.deploymentId,
    instanceId: t.instanceName,
    status: t.target.status,
    lastUpdatedAt: t.target.lastUpdatedAt,
    lifecycleEvents: t.target.lifecycleEvents,
    instanceType: t.target.instanceLabel ?? 'Blue',
  };
}

/** The request as the engine takes it; names, revision and fileExistsBehavior are checked there. */
function newDeployment(input: Input): NewDeployment {
  const applicationName = stringMember(input, 'applicationName');
  if (!applicationName) throw new ApiError(APPLICATION.required, 'The application name must be specified (applicationName).');
  // targetInstances (blue/green groups only) is checked by the engine against the group.
  const targetInstances = objectMember(input, 'targetInstances');
  // Names, revision and fileExistsBehavior are checked by the engine, in the service's order.
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
    ...(targetInstances && Object.keys(targetInstances).length > 0
      ? { targetInstances: targetInstances as NewDeployment['targetInstances'] }
      : {}),
  };
  return request;
}

/** With a pinner, S3 revisions without version/eTag get the object's (revisions/revision-pinning.ts) first. */
function createDeployment(core: EngineCore, input: Input, pin: RevisionPinner | undefined) {
  const request = newDeployment(input);
  if (!pin) return { deploymentId: core.engine.createDeployment(request).deploymentId };
  return pin(request).then((pinned) => ({ deploymentId: core.engine.createDeployment(pinned).deploymentId }));
}

/** createTimeRange.start or .end: epoch seconds. */
function timeBound(range: Input | undefined, name: 'start' | 'end'): number | undefined {
  const v = range?.[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number')
    throw new ApiError('InvalidTimeRangeException', `createTimeRange.${name} must be a timestamp (epoch seconds).`);
  return v;
}

/** Newest first; the token holds the sequence number of the last deployment shown. */
function listDeployments(core: EngineCore, input: Input) {
  const applicationName = stringMember(input, 'applicationName');
  const deploymentGroupName = stringMember(input, 'deploymentGroupName');
  if (applicationName && !deploymentGroupName)
    throw new ApiError(GROUP.required, 'deploymentGroupName must be specified together with applicationName.');
  if (deploymentGroupName && !applicationName)
    throw new ApiError(APPLICATION.required, 'applicationName must be specified together with deploymentGroupName.');
  if (applicationName && deploymentGroupName) {
    checkName(applicationName, 'applicationName', APPLICATION);
    checkName(deploymentGroupName, 'deploymentGroupName', GROUP);
    if (!core.registry.getApplication(applicationName))
      throw new ApiError('ApplicationDoesNotExistException', `No application found for name: ${applicationName}`);
    if (!core.registry.getDeploymentGroup(applicationName, deploymentGroupName)) {
      throw new ApiError(
        'DeploymentGroupDoesNotExistException',
        `No Deployment Group found for name: ${deploymentGroupName} (application ${applicationName}).`,
      );
    }
  }
  const given = stringList(input, 'includeOnlyStatuses');
  const statuses = given && listOf(given, DEPLOYMENT_STATUSES, { code: 'InvalidDeploymentStatusException', member: 'includeOnlyStatuses' });
  const range = objectMember(input, 'createTimeRange');
  const start = timeBound(range, 'start');
  const end = timeBound(range, 'end');
  if (start !== undefined && end !== undefined && start > end)
    throw new ApiError('InvalidTimeRangeException', 'createTimeRange.start is after createTimeRange.end.');
  const beforeSeq = tokenMember(input, 's');
  const rows = core.store.queryDeploymentIds({
    applicationName,
    deploymentGroupName,
    statuses,
    createdFrom: start,
    createdTo: end,
    beforeSeq,
    limit: PAGE_SIZE + 1,
  });
  const shown = rows.slice(0, PAGE_SIZE);
  const last = shown[shown.length - 1];
  return {
    deployments: shown.map((r) => r.deploymentId),
    ...(rows.length > PAGE_SIZE && last ? { nextToken: encodeToken({ s: last.seq }) } : {}),
  };
}

function listDeploymentTargets(core: EngineCore, input: Input) {
  const id = existingDeployment(core, input);
  const filters =
    mapMember(input, 'targetFilters', { keys: ['TargetStatus', 'ServerInstanceLabel'], code: 'InvalidTargetFilterNameException' }) ?? {};
  const statuses = stringList(filters, 'TargetStatus');
  const labels = stringList(filters, 'ServerInstanceLabel');
  const ids = core.store
    .targets(id)
    .filter((t) => !statuses || statuses.length === 0 || statuses.includes(t.target.status))
    .filter((t) => !labels || labels.length === 0 || labels.includes(t.target.instanceLabel ?? 'Blue'))
    .map((t) => t.instanceName);
  const p = page(ids, input);
  return { targetIds: p.items, ...(p.nextToken ? { nextToken: p.nextToken } : {}) };
}

function batchGetDeploymentTargets(core: EngineCore, input: Input) {
  const id = existingDeployment(core, input);
  const targetIds = requiredStringList(input, 'targetIds', {
    missing: { code: 'DeploymentTargetIdRequiredException', message: 'At least one target ID must be specified (targetIds).' },
    max: 25,
    tooMany: { code: 'DeploymentTargetListSizeExceededException', what: 'target IDs' },
  });
  const targets = targetsOf(core, id);
  return {
    deploymentTargets: targetIds.map((t) => {
      const row = targets.get(t);
      if (!row)
        throw new ApiError(
          'DeploymentTargetDoesNotExistException',
          `The target ${t} is not part of deployment ${id}; ListDeploymentTargets lists its targets.`,
        );
      return { deploymentTargetType: 'InstanceTarget', instanceTarget: row.target };
    }),
  };
}

function listDeploymentInstances(core: EngineCore, input: Input) {
  const id = existingDeployment(core, input);
  const given = stringList(input, 'instanceStatusFilter');
  const statuses = given && listOf(given, INSTANCE_STATUSES, { code: 'InvalidInstanceStatusException', member: 'instanceStatusFilter' });
  const typesGiven = stringList(input, 'instanceTypeFilter');
  const types =
    typesGiven && listOf(typesGiven, ['Blue', 'Green'] as const, { code: 'InvalidInstanceTypeException', member: 'instanceTypeFilter' });
  const names = core.store
    .targets(id)
    .filter((t) => !statuses || statuses.length === 0 || statuses.includes(t.target.status))
    .filter((t) => !types || types.length === 0 || types.includes(t.target.instanceLabel ?? 'Blue'))
    .map((t) => t.instanceName);
  const p = page(names, input);
  return { instancesList: p.items, ...(p.nextToken ? { nextToken: p.nextToken } : {}) };
}

function instanceNotFound(name: string, deploymentId: string): ApiError {
  return new ApiError(
    'InstanceDoesNotExistException',
    `The instance ${name} is not part of deployment ${deploymentId}; ListDeploymentInstances lists its instances.`,
  );
}

export interface DeploymentOperationsOptions {
  /** Pins S3 revisions at CreateDeployment; without it revisions are recorded as given. */
  pinRevision?: RevisionPinner;
}

export function createDeploymentOperations(core: EngineCore, opts: DeploymentOperationsOptions = {}): OperationTable {
  return {
    CreateDeployment: (input) => createDeployment(core, input, opts.pinRevision),

    GetDeployment: (input) => ({ deploymentInfo: core.engine.getDeployment(existingDeployment(core, input)) }),

    BatchGetDeployments(input) {
      const ids = requiredStringList(input, 'deploymentIds', {
        missing: NO_DEPLOYMENT_ID,
        max: 25,
        tooMany: { code: 'BatchLimitExceededException', what: 'deployment IDs' },
      });
      // Each id as if it were a deploymentId member: an empty one is "required", as the service says.
      for (const id of ids) requiredString({ deploymentId: id }, 'deploymentId', DEPLOYMENT_ID);
      return { deploymentsInfo: ids.map((id) => core.engine.getDeployment(id)).filter((d) => d !== undefined) };
    },

    ListDeployments: (input) => listDeployments(core, input),

    StopDeployment(input) {
      const id = existingDeployment(core, input);
      return core.engine.stopDeployment(id, booleanMember(input, 'autoRollbackEnabled'));
    },

    ContinueDeployment(input) {
      const id = existingDeployment(core, input);
      const waitType =
        oneOf(stringMember(input, 'deploymentWaitType'), ['READY_WAIT', 'TERMINATION_WAIT'] as const, {
          code: 'InvalidDeploymentWaitTypeException',
          member: 'deploymentWaitType',
        }) ?? 'READY_WAIT';
      core.engine.continueDeployment(id, waitType);
      return {};
    },

    /** The older name of ContinueDeployment with TERMINATION_WAIT. */
    SkipWaitTimeForInstanceTermination(input) {
      core.engine.continueDeployment(existingDeployment(core, input), 'TERMINATION_WAIT');
      return {};
    },

    ListDeploymentTargets: (input) => listDeploymentTargets(core, input),
    BatchGetDeploymentTargets: (input) => batchGetDeploymentTargets(core, input),
    ListDeploymentInstances: (input) => listDeploymentInstances(core, input),

    GetDeploymentInstance(input) {
      const id = existingDeployment(core, input);
      const instanceId = requiredString(input, 'instanceId', {
        code: 'InstanceIdRequiredException',
        missing: { code: 'InstanceIdRequiredException', message: 'The instance ID must be specified (instanceId).' },
      });
      const row = core.store.getTarget(id, instanceId);
      if (!row) throw instanceNotFound(instanceId, id);
      return { instanceSummary: instanceSummary(row) };
    },

    BatchGetDeploymentInstances(input) {
      const id = existingDeployment(core, input);
      const instanceIds = requiredStringList(input, 'instanceIds', {
        missing: { code: 'InstanceIdRequiredException', message: 'At least one instance ID must be specified (instanceIds).' },
        max: 100,
        tooMany: { code: 'BatchLimitExceededException', what: 'instance IDs' },
      });
      const targets = targetsOf(core, id);
      return {
        instancesSummary: instanceIds.map((name) => {
          const row = targets.get(name);
          if (!row) throw instanceNotFound(name, id);
          return instanceSummary(row);
        }),
        errorMessage: '',
      };
    },
  };
}
