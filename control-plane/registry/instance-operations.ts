/**
 * On-premises instance operations: register (with exactly one IAM user or session ARN, the
 * identity the agent polls with), deregister, tag, untag, get and list. A deregistered instance
 * keeps its record (Get shows its deregisterTime) and its name, but frees its ARN, so the same host
 * can be registered again under a new name. ARN shapes are checked loosely (account id and
 * resource type) because nothing here calls IAM.
 */
import { randomBytes } from 'node:crypto';
import { ApiError } from '../api/api-error.js';
import { INSTANCE, nameMember, oneOf, page, requiredStringList, stringMember, type Input } from '../api/input-readers.js';
import type { OperationTable } from '../api/operations.js';
import type { InstanceInfo, Tag } from '../model.js';
import type { RegistryContext } from './registry-context.js';
import { checkInstanceName, tagFilterList, tagList, tagsMatch } from './registry-input.js';

const MAX_TAGS = 10;
const MAX_INSTANCES = 100;
const USER_ARN = /^arn:aws(-[a-z]+)*:iam::\d{12}:user\/\S+$/;
const SESSION_ARN = /^arn:aws(-[a-z]+)*:sts::\d{12}:assumed-role\/\S+\/\S+$/;

export function createInstanceOperations(ctx: RegistryContext): OperationTable {
  const { store } = ctx;

  const instanceNames = (input: Input): string[] => {
    const names = requiredStringList(input, 'instanceNames', {
      missing: { code: INSTANCE.required, message: 'At least one on-premises instance name must be specified (instanceNames).' },
      max: MAX_INSTANCES,
      tooMany: { code: 'InstanceLimitExceededException', what: 'on-premises instances in one call' },
    });
    names.forEach((n) => checkInstanceName(n, 'instanceNames'));
    return names;
  };
  const registered = (name: string): InstanceInfo => {
    const instance = store.getInstance(name);
    if (!instance)
      throw new ApiError(
        'InstanceNotRegisteredException',
        `The on-premises instance ${name} is not registered: register it with RegisterOnPremisesInstance first.`,
      );
    if (instance.deregisterTime !== undefined)
      throw new ApiError(
        'InstanceNotRegisteredException',
        `The on-premises instance ${name} was deregistered; register the host again under a new name.`,
      );
    return instance;
  };
  const tagsOf = (input: Input): Tag[] => {
    const tags = tagList(input, 'tags');
    if (!tags || tags.length === 0)
      throw new ApiError('TagRequiredException', 'At least one tag must be specified (tags: [{"Key": "...", "Value": "..."}]).');
    return tags;
  };
  /** Tag changes on several instances, all checked before any is stored. */
  const retag = (input: Input, change: (tags: Tag[], given: Tag[]) => Tag[]) => {
    const given = tagsOf(input);
    const updated = instanceNames(input).map((name) => {
      const instance = registered(name);
      const tags = change(instance.tags, given);
      if (tags.length > MAX_TAGS) {
        throw new ApiError(
          'TagLimitExceededException',
          `The on-premises instance ${name} would have ${tags.length} tags; an instance can have at most ${MAX_TAGS}. Remove some first.`,
        );
      }
      return { ...instance, tags };
    });
    for (const instance of updated) store.putInstance(instance);
    return {};
  };

  return {
    RegisterOnPremisesInstance(input) {
      const instanceName = nameMember(input, 'instanceName', INSTANCE);
      checkInstanceName(instanceName, 'instanceName');
      const iamUserArn = stringMember(input, 'iamUserArn') || undefined;
      const iamSessionArn = stringMember(input, 'iamSessionArn') || undefined;
      if (iamUserArn && iamSessionArn)
        throw new ApiError(
          'MultipleIamArnsProvidedException',
          'Both iamUserArn and iamSessionArn were given: register the instance with exactly one of them.',
        );
      if (!iamUserArn && !iamSessionArn)
        throw new ApiError(
          'IamArnRequiredException',
          'An IAM ARN is required: pass iamUserArn (arn:aws:iam::<account>:user/<name>) or iamSessionArn (arn:aws:sts::<account>:assumed-role/<role>/<session>).',
        );
      if (iamUserArn && !USER_ARN.test(iamUserArn)) {
        throw new ApiError(
          'InvalidIamUserArnException',
          `iamUserArn ${JSON.stringify(iamUserArn)} is not an IAM user ARN: use arn:aws:iam::<12-digit account>:user/<name>.`,
        );
      }
      if (iamSessionArn && !SESSION_ARN.test(iamSessionArn)) {
        throw new ApiError(
          'InvalidIamSessionArnException',
          `iamSessionArn ${JSON.stringify(iamSessionArn)} is not an IAM session ARN: use arn:aws:sts::<12-digit account>:assumed-role/<role>/<session>.`,
        );
      }
      const existing = store.getInstance(instanceName);
      if (existing) {
        const why =
          existing.deregisterTime !== undefined
            ? ' (deregistered instances keep their name): choose another instanceName'
            : ': choose another instanceName, or deregister it first';
        throw new ApiError(
          'InstanceNameAlreadyRegisteredException',
          `The on-premises instance name ${instanceName} is already registered${why}.`,
        );
      }
      const arn = (iamUserArn ?? iamSessionArn) as string;
      const holder = store.registeredInstanceByArn(arn);
      if (holder) {
        const [code, member] = iamUserArn
          ? ['IamUserArnAlreadyRegisteredException', 'IAM user ARN']
          : ['IamSessionArnAlreadyRegisteredException', 'IAM session ARN'];
        throw new ApiError(
          code,
          `The ${member} ${arn} is already registered with on-premises instance ${holder.instanceName}: deregister that instance first, or use another ARN.`,
        );
      }
      const instance: InstanceInfo = {
        instanceName,
        ...(iamUserArn ? { iamUserArn } : { iamSessionArn }),
        instanceArn: `arn:aws:codedeploy:${ctx.identity.region}:${ctx.identity.accountId}:instance/${instanceName}_${randomBytes(10).toString('hex')}`,
        registerTime: ctx.now(),
        tags: [],
      };
      store.putInstance(instance);
      ctx.logger.debug({ instanceName, instanceArn: instance.instanceArn }, 'on-premises instance registered');
      return {};
    },

    DeregisterOnPremisesInstance(input) {
      const instanceName = nameMember(input, 'instanceName', INSTANCE);
      const instance = registered(instanceName);
      store.putInstance({ ...instance, deregisterTime: ctx.now() });
      ctx.logger.debug({ instanceName }, 'on-premises instance deregistered');
      return {};
    },

    AddTagsToOnPremisesInstances(input) {
      return retag(input, (tags, given) => {
        const byKey = new Map(tags.map((t) => [t.Key, t]));
        for (const t of given) byKey.set(t.Key, t);
        return [...byKey.values()];
      });
    },

    RemoveTagsFromOnPremisesInstances(input) {
      return retag(input, (tags, given) =>
        tags.filter((t) => !given.some((g) => g.Key === t.Key && (g.Value === undefined || g.Value === (t.Value ?? '')))),
      );
    },

    GetOnPremisesInstance(input) {
      const instanceName = nameMember(input, 'instanceName', INSTANCE);
      const instance = store.getInstance(instanceName);
      if (!instance)
        throw new ApiError(
          'InstanceNotRegisteredException',
          `The on-premises instance ${instanceName} is not registered: ListOnPremisesInstances lists the registered ones.`,
        );
      return { instanceInfo: instance };
    },

    BatchGetOnPremisesInstances(input) {
      const names = instanceNames(input);
      const instanceInfos = names.map((n) => store.getInstance(n)).filter((i): i is InstanceInfo => i !== undefined);
      return { instanceInfos };
    },

    ListOnPremisesInstances(input) {
      const status = oneOf(stringMember(input, 'registrationStatus'), ['Registered', 'Deregistered'] as const, {
        code: 'InvalidRegistrationStatusException',
        member: 'registrationStatus',
      });
      const filters = tagFilterList(input, 'tagFilters', 'InvalidTagFilterException') ?? [];
      const names = store
        .instances()
        .filter((i) => status === undefined || (status === 'Registered') === (i.deregisterTime === undefined))
        .filter((i) => filters.length === 0 || tagsMatch(i.tags, filters))
        .map((i) => i.instanceName);
      const p = page(names, input);
      return { instanceNames: p.items, ...(p.nextToken ? { nextToken: p.nextToken } : {}) };
    },
  };
}
