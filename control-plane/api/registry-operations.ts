/**
 * The public CodeDeploy API's registry operations (CodeDeploy_20141006.*, camelCase members as in
 * the API reference): applications here, and the deployment group, deployment config, on-premises
 * instance and revision operations from control-plane/registry/. Every handler runs as one SQLite
 * transaction, so a failed check leaves nothing half-written and concurrent requests (one process,
 * synchronous better-sqlite3) never see a partial change.
 */
import { randomUUID } from 'node:crypto';
import { ApiError } from './api-error.js';
import { APPLICATION, checkName, nameMember, page, requiredStringList, stringMember } from './input-readers.js';
import type { OperationHandler, OperationTable } from './operations.js';
import type { ApplicationInfo } from '../model.js';
import { createConfigOperations } from '../registry/config-operations.js';
import { createGroupOperations } from '../registry/group-operations.js';
import { createInstanceOperations } from '../registry/instance-operations.js';
import type { RegistryContext } from '../registry/registry-context.js';
import { computePlatform } from '../registry/registry-input.js';
import { createRevisionOperations } from '../registry/revision-operations.js';
import { checkedTags, createTagOperations, mergeTags } from '../registry/tag-operations.js';

function createApplicationOperations(ctx: RegistryContext): OperationTable {
  const { store } = ctx;
  return {
    CreateApplication(input) {
      const applicationName = nameMember(input, 'applicationName', APPLICATION);
      computePlatform(input);
      const tags = checkedTags(input, 'tags', 'InvalidTagsToAddException');
      if (tags) mergeTags([], tags, `Application ${applicationName}`, 'InvalidTagsToAddException');
      if (store.getApplication(applicationName)) {
        throw new ApiError(
          'ApplicationAlreadyExistsException',
          `Application already exists with name ${applicationName}: choose another name, or use the existing application.`,
        );
      }
      const app: ApplicationInfo = {
        applicationId: randomUUID(),
        applicationName,
        createTime: ctx.now(),
        linkedToGitHub: false,
        computePlatform: 'Server',
      };
      store.putApplication(app);
      if (tags) store.putTags(app.applicationId, mergeTags([], tags, `Application ${applicationName}`, 'InvalidTagsToAddException'));
      ctx.logger.debug({ applicationName, applicationId: app.applicationId }, 'application created');
      return { applicationId: app.applicationId };
    },

    GetApplication(input) {
      return { application: ctx.requireApplication(nameMember(input, 'applicationName', APPLICATION)) };
    },

    BatchGetApplications(input) {
      const names = requiredStringList(input, 'applicationNames', {
        missing: { code: APPLICATION.required, message: 'At least one application name must be specified (applicationNames).' },
        max: 100,
        tooMany: { code: 'BatchLimitExceededException', what: 'application names' },
      });
      return {
        applicationsInfo: names.map((name) => {
          checkName(name, 'applicationNames', APPLICATION);
          return ctx.requireApplication(name);
        }),
      };
    },

    ListApplications(input) {
      const p = page(store.applicationNames(), input);
      return { applications: p.items, ...(p.nextToken ? { nextToken: p.nextToken } : {}) };
    },

    UpdateApplication(input) {
      const applicationName = nameMember(input, 'applicationName', APPLICATION);
      ctx.requireApplication(applicationName);
      const newName = stringMember(input, 'newApplicationName') || undefined;
      if (newName === undefined || newName === applicationName) return {};
      checkName(newName, 'newApplicationName', APPLICATION);
      if (store.getApplication(newName))
        throw new ApiError(
          'ApplicationAlreadyExistsException',
          `Application already exists with name ${newName}: choose another newApplicationName.`,
        );
      store.renameApplication(applicationName, newName);
      ctx.logger.debug({ from: applicationName, to: newName }, 'application renamed');
      return {};
    },

    DeleteApplication(input) {
      const applicationName = nameMember(input, 'applicationName', APPLICATION);
      // Like the real service, deleting an application that is not there succeeds.
      store.deleteApplication(applicationName);
      ctx.logger.debug({ applicationName }, 'application deleted with its deployment groups and revisions');
      return {};
    },
  };
}

/** All registry operations, each wrapped in one transaction. */
export function createRegistryOperations(ctx: RegistryContext): OperationTable {
  const table: Record<string, OperationHandler> = {
    ...createApplicationOperations(ctx),
    ...createGroupOperations(ctx),
    ...createConfigOperations(ctx),
    ...createInstanceOperations(ctx),
    ...createRevisionOperations(ctx),
    ...createTagOperations(ctx),
  };
  const wrapped: Record<string, OperationHandler> = {};
  for (const [name, handler] of Object.entries(table)) {
    const inTransaction = ctx.db.transaction((input: Record<string, unknown>, rc: Parameters<OperationHandler>[1]) => handler(input, rc));
    wrapped[name] = (input, rc) => inTransaction(input, rc);
  }
  return wrapped;
}
