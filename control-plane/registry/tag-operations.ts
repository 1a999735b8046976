/**
 * Resource tags: TagResource, UntagResource and ListTagsForResource on applications, deployment
 * groups and deployment configs, named by their ARNs, plus the `tags` that CreateApplication and
 * CreateDeploymentGroup take. Terraform's `aws_codedeploy_*` resources read tags back with
 * ListTagsForResource after every create and refresh, so these answer exactly what was stored.
 *
 * ARNs are the service's:
 *   arn:aws:codedeploy:<region>:<account>:application:<name>
 *   arn:aws:codedeploy:<region>:<account>:deploymentgroup:<application>/<group>
 *   arn:aws:codedeploy:<region>:<account>:deploymentconfig:<name>
 * An empty account field is read as this control plane's account: Terraform builds ARNs from the
 * account it learned from STS, and with `skip_requesting_account_id` (usual against a local
 * endpoint) that field is empty. Tags are kept by the resource's id (registry-store.ts), so a
 * rename keeps them and a delete removes them.
 */
import { ApiError } from '../api/api-error.js';
import { requiredStringList, stringMember, type Input } from '../api/input-readers.js';
import type { OperationTable } from '../api/operations.js';
import type { Tag } from '../model.js';
import { BUILT_INS } from './registry-store.js';
import type { RegistryContext } from './registry-context.js';
import { tagList } from './registry-input.js';

/** The service's limit of tags on one resource. */
export const MAX_RESOURCE_TAGS = 50;
const ARN_MAX = 1011;

export type TaggableResource =
  | { type: 'application'; applicationName: string }
  | { type: 'deploymentgroup'; applicationName: string; deploymentGroupName: string }
  | { type: 'deploymentconfig'; deploymentConfigName: string };

/** Reads a CodeDeploy resource ARN (pure: no lookup). */
export function parseResourceArn(arn: string, identity: { region: string; accountId: string }): TaggableResource {
  if (arn.length > ARN_MAX) throw new ApiError('InvalidArnException', `ResourceArn is longer than ${ARN_MAX} characters.`);
  const m = /^arn:([a-z0-9-]+):([a-z0-9-]+):([a-z0-9-]*):([0-9]*):([a-z]+):(.+)$/.exec(arn);
  if (!m)
    throw new ApiError(
      'InvalidArnException',
      `ResourceArn ${JSON.stringify(arn)} is not an ARN; expected arn:aws:codedeploy:${identity.region}:${identity.accountId}:application:NAME (or deploymentgroup:APP/GROUP, deploymentconfig:NAME).`,
    );
  const [, , service, region, account, type, rest] = m as unknown as [string, string, string, string, string, string, string];
  if (service !== 'codedeploy')
    throw new ApiError('ArnNotSupportedException', `ResourceArn names the service ${service}; only codedeploy resources are tagged here.`);
  if (region !== identity.region)
    throw new ApiError(
      'ArnNotSupportedException',
      `ResourceArn is in region ${region || '(none)'}, but this control plane is ${identity.region}: use its region in the ARN.`,
    );
  if (account !== '' && account !== identity.accountId)
    throw new ApiError(
      'ArnNotSupportedException',
      `ResourceArn belongs to account ${account}, but this control plane is account ${identity.accountId}.`,
    );
  switch (type) {
    case 'application':
      return { type, applicationName: rest };
    case 'deploymentconfig':
      return { type, deploymentConfigName: rest };
    case 'deploymentgroup': {
      const slash = rest.indexOf('/');
      if (slash <= 0 || slash === rest.length - 1)
        throw new ApiError(
          'InvalidArnException',
          `A deployment group ARN ends in deploymentgroup:APPLICATION/GROUP; got ${JSON.stringify(rest)}.`,
        );
      return { type, applicationName: rest.slice(0, slash), deploymentGroupName: rest.slice(slash + 1) };
    }
    default:
      throw new ApiError(
        'ArnNotSupportedException',
        `ResourceArn names a ${type}; tags apply to application, deploymentgroup and deploymentconfig resources.`,
      );
  }
}

/** Tags as given to TagResource or a Create* call, checked for what a stored tag set must satisfy. */
export function checkedTags(input: Input, member: string, code: string): Tag[] | undefined {
  const tags = tagList(input, member, code);
  if (!tags) return undefined;
  tags.forEach((t, i) => {
    if (t.Key.toLowerCase().startsWith('aws:'))
      throw new ApiError(code, `The tag key at ${member}.${i + 1} starts with "aws:", which is reserved for AWS; use another prefix.`);
  });
  return tags;
}

/** Merges tags by key (later ones win) and enforces the per-resource limit. */
export function mergeTags(existing: readonly Tag[], added: readonly Tag[], what: string, code: string): Tag[] {
  const byKey = new Map(existing.map((t) => [t.Key, t]));
  for (const t of added) byKey.set(t.Key, t);
  if (byKey.size > MAX_RESOURCE_TAGS)
    throw new ApiError(code, `${what} would have ${byKey.size} tags; a resource can have at most ${MAX_RESOURCE_TAGS}. Remove some first.`);
  return [...byKey.values()];
}

export function createTagOperations(ctx: RegistryContext): OperationTable {
  const { store } = ctx;

  /** The resource's id and a name for messages; throws the service's "does not exist" errors. */
  const resolve = (input: Input): { id: string; what: string; builtIn: boolean } => {
    const arn = stringMember(input, 'ResourceArn');
    if (arn === undefined || arn === '')
      throw new ApiError(
        'ResourceArnRequiredException',
        'ResourceArn is required: the ARN of an application, deployment group or deployment config.',
      );
    const r = parseResourceArn(arn, ctx.identity);
    switch (r.type) {
      case 'application':
        return { id: ctx.requireApplication(r.applicationName).applicationId, what: `Application ${r.applicationName}`, builtIn: false };
      case 'deploymentgroup':
        return {
          id: ctx.requireGroup(r.applicationName, r.deploymentGroupName).deploymentGroupId,
          what: `Deployment group ${r.applicationName}/${r.deploymentGroupName}`,
          builtIn: false,
        };
      case 'deploymentconfig': {
        const config = store.getConfig(r.deploymentConfigName);
        if (!config)
          throw new ApiError(
            'DeploymentConfigDoesNotExistException',
            `No deployment configuration found for name: ${r.deploymentConfigName}; ListDeploymentConfigs lists them.`,
          );
        return {
          id: config.deploymentConfigId,
          what: `Deployment config ${r.deploymentConfigName}`,
          builtIn: BUILT_INS.has(r.deploymentConfigName),
        };
      }
    }
  };

  return {
    TagResource(input) {
      const target = resolve(input);
      const tags = checkedTags(input, 'Tags', 'InvalidTagsToAddException');
      if (!tags || tags.length === 0)
        throw new ApiError('TagRequiredException', 'Tags is required: at least one {"Key": ..., "Value": ...}.');
      if (target.builtIn)
        throw new ApiError(
          'ArnNotSupportedException',
          `${target.what} is built in and cannot be tagged; create your own config to tag it.`,
        );
      store.putTags(target.id, mergeTags(store.tagsOf(target.id), tags, target.what, 'InvalidTagsToAddException'));
      return {};
    },

    UntagResource(input) {
      const target = resolve(input);
      const keys = requiredStringList(input, 'TagKeys', {
        missing: { code: 'TagRequiredException', message: 'TagKeys is required: the keys of the tags to remove.' },
        max: MAX_RESOURCE_TAGS,
        tooMany: { code: 'InvalidTagsToAddException', what: 'tag keys' },
      });
      const drop = new Set(keys);
      store.putTags(
        target.id,
        store.tagsOf(target.id).filter((t) => !drop.has(t.Key)),
      );
      return {};
    },

    ListTagsForResource(input) {
      const target = resolve(input);
      return { Tags: store.tagsOf(target.id) };
    },
  };
}
