/**
 * Deployment configuration operations. The three CodeDeployDefault.* configs are built in (the
 * `CodeDeployDefault.` prefix is reserved, as in the real service); custom configs set a minimum
 * number (HOST_COUNT) or percentage (FLEET_PERCENT) of healthy hosts. Traffic routing and zonal
 * settings belong to compute platforms and deployment styles this control plane does not run.
 */
import { randomUUID } from 'node:crypto';
import { ApiError } from '../api/api-error.js';
import { CONFIG, integerValue, nameMember, objectMember, oneOf, page, stringMember, type Input } from '../api/input-readers.js';
import type { OperationTable } from '../api/operations.js';
import type { DeploymentConfigInfo, MinimumHealthyHosts } from '../model.js';
import type { RegistryContext } from './registry-context.js';
import { computePlatform, LOCAL_ONLY } from './registry-input.js';
import { BUILT_INS } from './registry-store.js';

const RESERVED_PREFIX = 'CodeDeployDefault.';

function minimumHealthyHosts(input: Input): MinimumHealthyHosts {
  const code = 'InvalidMinimumHealthyHostValueException';
  const m = objectMember(input, 'minimumHealthyHosts');
  if (!m)
    throw new ApiError(
      code,
      'minimumHealthyHosts is required for a Server deployment configuration: e.g. {"type": "HOST_COUNT", "value": 1} or {"type": "FLEET_PERCENT", "value": 75}.',
    );
  const type = oneOf(stringMember(m, 'type'), ['HOST_COUNT', 'FLEET_PERCENT'] as const, {
    code,
    member: 'minimumHealthyHosts.type',
    required: true,
  });
  const value =
    type === 'FLEET_PERCENT'
      ? integerValue(m.value, 'minimumHealthyHosts.value', { code, min: 0, max: 100, hint: ' (FLEET_PERCENT is a percentage)' })
      : integerValue(m.value, 'minimumHealthyHosts.value', { code, min: 0 });
  return { type, value };
}

export function createConfigOperations(ctx: RegistryContext): OperationTable {
  const { store } = ctx;
  return {
    CreateDeploymentConfig(input) {
      const deploymentConfigName = nameMember(input, 'deploymentConfigName', CONFIG);
      if (deploymentConfigName.startsWith(RESERVED_PREFIX)) {
        throw new ApiError(
          'InvalidDeploymentConfigNameException',
          `Deployment configuration names starting with ${RESERVED_PREFIX} are reserved for the built-in configurations: choose another name.`,
        );
      }
      computePlatform(input);
      if (objectMember(input, 'trafficRoutingConfig')) {
        throw new ApiError(
          'InvalidTrafficRoutingConfigurationException',
          `trafficRoutingConfig is not supported: ${LOCAL_ONLY}. Remove it.`,
        );
      }
      if (objectMember(input, 'zonalConfig')) {
        throw new ApiError(
          'InvalidZonalDeploymentConfigurationException',
          `zonalConfig is not supported: ${LOCAL_ONLY} without availability zones. Remove it.`,
        );
      }
      const mhh = minimumHealthyHosts(input);
      if (store.getConfig(deploymentConfigName)) {
        throw new ApiError(
          'DeploymentConfigAlreadyExistsException',
          `A deployment configuration named ${deploymentConfigName} already exists: choose another name.`,
        );
      }
      const config: DeploymentConfigInfo = {
        deploymentConfigId: randomUUID(),
        deploymentConfigName,
        minimumHealthyHosts: mhh,
        createTime: ctx.now(),
        computePlatform: 'Server',
      };
      store.putConfig(config);
      return { deploymentConfigId: config.deploymentConfigId };
    },

    GetDeploymentConfig(input) {
      const name = nameMember(input, 'deploymentConfigName', CONFIG);
      const config = store.getConfig(name);
      if (!config)
        throw new ApiError(
          'DeploymentConfigDoesNotExistException',
          `No deployment configuration found for name: ${name}; ListDeploymentConfigs lists the available ones.`,
        );
      return { deploymentConfigInfo: config };
    },

    ListDeploymentConfigs(input) {
      const p = page([...BUILT_INS.keys(), ...store.customConfigNames()], input);
      return { deploymentConfigsList: p.items, ...(p.nextToken ? { nextToken: p.nextToken } : {}) };
    },

    DeleteDeploymentConfig(input) {
      const name = nameMember(input, 'deploymentConfigName', CONFIG);
      if (BUILT_INS.has(name))
        throw new ApiError('InvalidOperationException', `${name} is a built-in deployment configuration and cannot be deleted.`);
      const users = store.groupsUsingConfig(name);
      if (users.length > 0) {
        const list = users.map((g) => `${g.applicationName}/${g.deploymentGroupName}`).join(', ');
        throw new ApiError(
          'DeploymentConfigInUseException',
          `The deployment configuration ${name} is still in use by deployment groups ${list}: point them at another configuration first.`,
        );
      }
      // Deleting a configuration that is not there succeeds, as in the real service.
      store.deleteConfig(name);
      return {};
    },
  };
}
