/**
 * Application revision operations (what `aws deploy push` and the console's revision list use):
 * register, get, batch get and list. A revision is identified by its location (S3: bucket, key,
 * bundleType, version, eTag; GitHub: repository, commitId); registering it again only updates
 * the description. Deployments register their revision implicitly (see sqlite-registry.ts
 * recordDeployment), which fills deploymentGroups and the first/last used times.
 */
import { ApiError } from '../api/api-error.js';
import { APPLICATION, nameMember, oneOf, page, requiredList, stringMember, type Input } from '../api/input-readers.js';
import type { OperationTable } from '../api/operations.js';
import type { RegistryContext } from './registry-context.js';
import { revisionKey, revisionLocation } from './revision-fields.js';
import type { RevisionRecord } from './registry-store.js';

const SORT_BY = ['registerTime', 'firstUsedTime', 'lastUsedTime'] as const;
const SORT_ORDER = ['ascending', 'descending'] as const;
const DEPLOYED = ['include', 'exclude', 'ignore'] as const;

export function createRevisionOperations(ctx: RegistryContext): OperationTable {
  const { store } = ctx;

  const requiredRevision = (input: Input): { location: ReturnType<typeof revisionLocation>; key: string } => {
    if (input.revision === undefined || input.revision === null)
      throw new ApiError(
        'RevisionRequiredException',
        'The revision must be specified (revision: {revisionType, s3Location | gitHubLocation}).',
      );
    const location = revisionLocation(input.revision);
    return { location, key: revisionKey(location) as string };
  };
  const notFound = (applicationName: string) =>
    new ApiError(
      'RevisionDoesNotExistException',
      `The named revision does not exist for application ${applicationName}: register it with RegisterApplicationRevision (or aws deploy push) first.`,
    );

  return {
    RegisterApplicationRevision(input) {
      const applicationName = nameMember(input, 'applicationName', APPLICATION);
      ctx.requireApplication(applicationName);
      const { location, key } = requiredRevision(input);
      const description = stringMember(input, 'description');
      const existing = store.getRevision(applicationName, key);
      const record: RevisionRecord = existing
        ? { ...existing, revisionInfo: { ...existing.revisionInfo, ...(description !== undefined ? { description } : {}) } }
        : {
            revision: location,
            revisionInfo: { ...(description !== undefined ? { description } : {}), deploymentGroups: [], registerTime: ctx.now() },
          };
      store.putRevision(applicationName, key, record);
      return {};
    },

    GetApplicationRevision(input) {
      const applicationName = nameMember(input, 'applicationName', APPLICATION);
      ctx.requireApplication(applicationName);
      const { key } = requiredRevision(input);
      const record = store.getRevision(applicationName, key);
      if (!record) throw notFound(applicationName);
      return { applicationName, revision: record.revision, revisionInfo: record.revisionInfo };
    },

    BatchGetApplicationRevisions(input) {
      const applicationName = nameMember(input, 'applicationName', APPLICATION);
      ctx.requireApplication(applicationName);
      const list = requiredList(input, 'revisions', {
        missing: { code: 'RevisionRequiredException', message: 'At least one revision must be specified (revisions).' },
        max: 25,
        tooMany: { code: 'BatchLimitExceededException', what: 'revisions' },
      });
      const found: { revisionLocation: RevisionRecord['revision']; genericRevisionInfo: RevisionRecord['revisionInfo'] }[] = [];
      let missing = 0;
      list.forEach((r, i) => {
        const record = store.getRevision(applicationName, revisionKey(revisionLocation(r, `revisions.${i + 1}`)) as string);
        if (record) found.push({ revisionLocation: record.revision, genericRevisionInfo: record.revisionInfo });
        else missing++;
      });
      return {
        applicationName,
        errorMessage: missing > 0 ? `${missing} of the revisions are not registered for application ${applicationName}.` : '',
        revisions: found,
      };
    },

    ListApplicationRevisions(input) {
      const applicationName = nameMember(input, 'applicationName', APPLICATION);
      ctx.requireApplication(applicationName);
      const sortBy = oneOf(stringMember(input, 'sortBy'), SORT_BY, { code: 'InvalidSortByException', member: 'sortBy' });
      const sortOrder = oneOf(stringMember(input, 'sortOrder'), SORT_ORDER, { code: 'InvalidSortOrderException', member: 'sortOrder' });
      const deployed = oneOf(stringMember(input, 'deployed') ?? 'ignore', DEPLOYED, {
        code: 'InvalidDeployedStateFilterException',
        member: 'deployed',
      });
      const bucket = stringMember(input, 's3Bucket') || undefined;
      const prefix = stringMember(input, 's3KeyPrefix') || undefined;
      if (prefix !== undefined && bucket === undefined)
        throw new ApiError('BucketNameFilterRequiredException', 's3KeyPrefix needs s3Bucket: name the bucket whose keys to filter.');

      let records = store
        .revisions(applicationName)
        .filter(
          (r) =>
            bucket === undefined ||
            (r.revision.s3Location?.bucket === bucket && (prefix === undefined || (r.revision.s3Location.key ?? '').startsWith(prefix))),
        )
        .filter((r) => deployed === 'ignore' || (deployed === 'include') === r.revisionInfo.deploymentGroups.length > 0);
      if (sortBy !== undefined) {
        // Stable sort: equal (or never used) revisions keep registration order.
        records = records.sort((a, b) => (a.revisionInfo[sortBy] ?? -1) - (b.revisionInfo[sortBy] ?? -1));
      }
      if (sortOrder === 'descending') records.reverse();
      const p = page(
        records.map((r) => r.revision),
        input,
      );
      return { revisions: p.items, ...(p.nextToken ? { nextToken: p.nextToken } : {}) };
    },
  };
}
