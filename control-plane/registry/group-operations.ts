/**
 * Deployment group operations (Create, Get, BatchGet, List, Update, Delete). Groups here are
 * in-place groups over on-premises instances: every blue/green, traffic-control, load-balancer,
 * ECS and Auto Scaling setting is refused with the real service's error code and a message saying
 * why. A tag set (onPremisesTagSet / ec2TagSet) is flattened into one filter list, which is exact
 * for one list; with several lists the real service requires a match in each, here any filter
 * matches, and a WARN line says so. Tags given at creation are kept
 * with TagResource's (tag-operations.ts).
 */
import { randomUUID } from 'node:crypto';
import { ApiError } from '../api/api-error.js';
import {
  APPLICATION,
  CONFIG,
  GROUP,
  checkName,
  nameMember,
  page,
  requiredStringList,
  rollbackConfig,
  stringMember,
  type Input,
} from '../api/input-readers.js';
import type { OperationTable } from '../api/operations.js';
import type { DeploymentGroupInfo, TagFilter } from '../model.js';
import type { RegistryContext } from './registry-context.js';
import {
  checkTrafficControl,
  defaultBlueGreen,
  outdatedInstancesStrategy,
  trafficSettings,
  tagFilterList,
  tagSetFilters,
} from './registry-input.js';
import { checkedTags, mergeTags } from './tag-operations.js';
import { alarmConfiguration, noteAlarms } from './alarm-configuration.js';
import { addedTriggers, triggerConfigurations } from './trigger-configurations.js';

const DEFAULT_CONFIG = 'CodeDeployDefault.OneAtATime';

export function createGroupOperations(ctx: RegistryContext): OperationTable {
  const { store } = ctx;

  /** One filter list from `<filters>` or `<set>`, refusing both at once. */
  const filters = (input: Input, kind: 'onPremises' | 'ec2'): TagFilter[] | undefined => {
    const [listMember, setMember, combinationCode] =
      kind === 'onPremises'
        ? ['onPremisesInstanceTagFilters', 'onPremisesTagSet', 'InvalidOnPremisesTagCombinationException']
        : ['ec2TagFilters', 'ec2TagSet', 'InvalidEC2TagCombinationException'];
    const list = tagFilterList(input, listMember);
    const set = tagSetFilters(input, setMember, `${setMember}List`);
    if (list && list.length > 0 && set) {
      throw new ApiError(
        combinationCode,
        `Both ${listMember} and ${setMember} were given, but only one of them can be used in a single call: keep one.`,
      );
    }
    if (!set) return list;
    if (set.lists > 1) {
      ctx.logger.warn(
        { member: setMember, lists: set.lists },
        `${setMember} has several lists; the local control plane matches an instance when any of their filters matches (the real service requires a match in every list)`,
      );
    }
    return set.filters;
  };

  const configName = (input: Input): string | undefined => {
    const name = stringMember(input, 'deploymentConfigName');
    if (name === undefined || name === '') return undefined;
    checkName(name, 'deploymentConfigName', CONFIG);
    if (!store.getConfig(name))
      throw new ApiError(
        'DeploymentConfigDoesNotExistException',
        `No deployment configuration found for name: ${name}; ListDeploymentConfigs lists the available ones.`,
      );
    return name;
  };

  return {
    CreateDeploymentGroup(input) {
      const applicationName = nameMember(input, 'applicationName', APPLICATION);
      const deploymentGroupName = nameMember(input, 'deploymentGroupName', GROUP);
      ctx.requireApplication(applicationName);
      const serviceRoleArn = stringMember(input, 'serviceRoleArn');
      if (!serviceRoleArn)
        throw new ApiError(
          'RoleRequiredException',
          'Role ARN is required. Pass serviceRoleArn (any ARN: the local control plane does not call IAM).',
        );
      const traffic = trafficSettings(input, ctx.hasTargetGroup);
      const deploymentStyle = traffic.deploymentStyle ?? { deploymentType: 'IN_PLACE', deploymentOption: 'WITHOUT_TRAFFIC_CONTROL' };
      checkTrafficControl(deploymentStyle, traffic.loadBalancerInfo);
      const onPremisesInstanceTagFilters = filters(input, 'onPremises') ?? [];
      const ec2TagFilters = filters(input, 'ec2') ?? [];
      const autoRollbackConfiguration = rollbackConfig(input);
      const alarms = alarmConfiguration(input);
      const triggers = triggerConfigurations(input, ctx.triggerTopics);
      const strategy = outdatedInstancesStrategy(input) ?? 'UPDATE';
      const tags = checkedTags(input, 'tags', 'InvalidTagsToAddException');
      if (tags) mergeTags([], tags, `Deployment group ${deploymentGroupName}`, 'InvalidTagsToAddException');
      const deploymentConfigName = configName(input) ?? DEFAULT_CONFIG;
      if (store.getGroup(applicationName, deploymentGroupName)) {
        throw new ApiError(
          'DeploymentGroupAlreadyExistsException',
          `A deployment group named ${deploymentGroupName} already exists for application ${applicationName}: choose another name or use UpdateDeploymentGroup.`,
        );
      }
      const group: DeploymentGroupInfo = {
        applicationName,
        deploymentGroupId: randomUUID(),
        deploymentGroupName,
        deploymentConfigName,
        ec2TagFilters,
        onPremisesInstanceTagFilters,
        serviceRoleArn,
        ...(autoRollbackConfiguration ? { autoRollbackConfiguration } : {}),
        ...(alarms ? { alarmConfiguration: alarms } : {}),
        ...(triggers ? { triggerConfigurations: triggers } : {}),
        deploymentStyle,
        ...(traffic.loadBalancerInfo ? { loadBalancerInfo: traffic.loadBalancerInfo } : {}),
        ...(deploymentStyle.deploymentType === 'BLUE_GREEN'
          ? { blueGreenDeploymentConfiguration: traffic.blueGreenDeploymentConfiguration ?? defaultBlueGreen() }
          : {}),
        outdatedInstancesStrategy: strategy,
        computePlatform: 'Server',
      };
      store.putGroup(group);
      if (triggers && triggers.length > 0) ctx.triggerTopics?.triggersAdded(group, triggers);
      noteAlarms(ctx.logger, alarms, deploymentGroupName);
      if (tags)
        store.putTags(group.deploymentGroupId, mergeTags([], tags, `Deployment group ${deploymentGroupName}`, 'InvalidTagsToAddException'));
      ctx.noteEc2TagFilters(ec2TagFilters);
      ctx.logger.debug({ applicationName, deploymentGroupName, deploymentGroupId: group.deploymentGroupId }, 'deployment group created');
      return { deploymentGroupId: group.deploymentGroupId };
    },

    GetDeploymentGroup(input) {
      const applicationName = nameMember(input, 'applicationName', APPLICATION);
      const deploymentGroupName = nameMember(input, 'deploymentGroupName', GROUP);
      return { deploymentGroupInfo: ctx.requireGroup(applicationName, deploymentGroupName) };
    },

    BatchGetDeploymentGroups(input) {
      const applicationName = nameMember(input, 'applicationName', APPLICATION);
      const names = requiredStringList(input, 'deploymentGroupNames', {
        missing: { code: GROUP.required, message: 'At least one deployment group name must be specified (deploymentGroupNames).' },
        max: 100,
        tooMany: { code: 'BatchLimitExceededException', what: 'deployment group names' },
      });
      ctx.requireApplication(applicationName);
      const found: DeploymentGroupInfo[] = [];
      const missing: string[] = [];
      for (const name of names) {
        checkName(name, 'deploymentGroupNames', GROUP);
        const group = store.getGroup(applicationName, name);
        if (group) found.push(group);
        else missing.push(name);
      }
      const errorMessage =
        missing.length > 0 ? `Deployment groups not found for application ${applicationName}: ${missing.join(', ')}` : '';
      return { deploymentGroupsInfo: found, errorMessage };
    },

    ListDeploymentGroups(input) {
      const applicationName = nameMember(input, 'applicationName', APPLICATION);
      ctx.requireApplication(applicationName);
      const p = page(store.groupNames(applicationName), input);
      return { applicationName, deploymentGroups: p.items, ...(p.nextToken ? { nextToken: p.nextToken } : {}) };
    },

    UpdateDeploymentGroup(input) {
      const applicationName = nameMember(input, 'applicationName', APPLICATION);
      const current = nameMember(input, 'currentDeploymentGroupName', GROUP);
      const group = ctx.requireGroup(applicationName, current);
      const newName = stringMember(input, 'newDeploymentGroupName') || undefined;
      if (newName !== undefined) {
        checkName(newName, 'newDeploymentGroupName', GROUP);
        if (newName !== current && store.getGroup(applicationName, newName)) {
          throw new ApiError(
            'DeploymentGroupAlreadyExistsException',
            `A deployment group named ${newName} already exists for application ${applicationName}: choose another newDeploymentGroupName.`,
          );
        }
      }
      const traffic = trafficSettings(input, ctx.hasTargetGroup);
      checkTrafficControl(traffic.deploymentStyle ?? group.deploymentStyle, traffic.loadBalancerInfo ?? group.loadBalancerInfo);
      const onPremises = filters(input, 'onPremises');
      const ec2 = filters(input, 'ec2');
      const autoRollbackConfiguration = rollbackConfig(input);
      const alarms = alarmConfiguration(input);
      const triggers = triggerConfigurations(input, ctx.triggerTopics);
      const strategy = outdatedInstancesStrategy(input);
      const serviceRoleArn = stringMember(input, 'serviceRoleArn') || undefined;
      const deploymentConfigName = configName(input);
      const updated: DeploymentGroupInfo = {
        ...group,
        ...(newName !== undefined ? { deploymentGroupName: newName } : {}),
        ...(deploymentConfigName !== undefined ? { deploymentConfigName } : {}),
        ...(onPremises !== undefined ? { onPremisesInstanceTagFilters: onPremises } : {}),
        ...(ec2 !== undefined ? { ec2TagFilters: ec2 } : {}),
        ...(autoRollbackConfiguration !== undefined ? { autoRollbackConfiguration } : {}),
        ...(alarms !== undefined ? { alarmConfiguration: alarms } : {}),
        ...(triggers !== undefined ? { triggerConfigurations: triggers } : {}),
        ...(strategy !== undefined ? { outdatedInstancesStrategy: strategy } : {}),
        ...(serviceRoleArn !== undefined ? { serviceRoleArn } : {}),
        ...(traffic.deploymentStyle ? { deploymentStyle: traffic.deploymentStyle } : {}),
        ...(traffic.loadBalancerInfo ? { loadBalancerInfo: traffic.loadBalancerInfo } : {}),
        ...(traffic.blueGreenDeploymentConfiguration ? { blueGreenDeploymentConfiguration: traffic.blueGreenDeploymentConfiguration } : {}),
      };
      if (updated.deploymentStyle.deploymentType === 'BLUE_GREEN') updated.blueGreenDeploymentConfiguration ??= defaultBlueGreen();
      else delete updated.blueGreenDeploymentConfiguration;
      store.putGroup(updated);
      const added = triggers ? addedTriggers(group.triggerConfigurations ?? [], triggers) : [];
      if (added.length > 0) ctx.triggerTopics?.triggersAdded(updated, added);
      noteAlarms(ctx.logger, alarms, updated.deploymentGroupName);
      ctx.noteEc2TagFilters(ec2);
      ctx.logger.debug(
        { applicationName, deploymentGroupName: updated.deploymentGroupName, deploymentGroupId: group.deploymentGroupId },
        'deployment group updated',
      );
      return { hooksNotCleanedUp: [] };
    },

    DeleteDeploymentGroup(input) {
      const applicationName = nameMember(input, 'applicationName', APPLICATION);
      const deploymentGroupName = nameMember(input, 'deploymentGroupName', GROUP);
      // Like the real service, deleting a group that is not there succeeds.
      store.deleteGroup(applicationName, deploymentGroupName);
      return { hooksNotCleanedUp: [] };
    },
  };
}
