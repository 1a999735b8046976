/**
 * The registry's tables. Each row keeps the record in its API shape (model.ts) as JSON in `doc`,
 * next to the columns lookups and uniqueness need: names, the deployment group id, the config a
 * group uses (for DeleteDeploymentConfig's in-use check), an instance's IAM ARN and whether it is
 * registered (a unique partial index keeps one registered instance per ARN), and a revision's
 * identity key. Built-in deployment configs are not stored: they are constants (see
 * BUILT_IN_DEPLOYMENT_CONFIGS) with fixed ids.
 */
import { fromJson, migrate, toJson, type Db } from '../store/database.js';
import {
  BUILT_IN_DEPLOYMENT_CONFIGS,
  type ApplicationInfo,
  type DeploymentConfigInfo,
  type DeploymentGroupInfo,
  type EpochSeconds,
  type InstanceInfo,
  type RevisionLocation,
  type Tag,
} from '../model.js';

const STEPS = [
  `CREATE TABLE registry_applications (name TEXT PRIMARY KEY, doc TEXT NOT NULL);
   CREATE TABLE registry_deployment_groups (
     id TEXT PRIMARY KEY, application_name TEXT NOT NULL, name TEXT NOT NULL, config_name TEXT NOT NULL, doc TEXT NOT NULL,
     UNIQUE (application_name, name));
   CREATE TABLE registry_deployment_configs (name TEXT PRIMARY KEY, doc TEXT NOT NULL);
   CREATE TABLE registry_instances (name TEXT PRIMARY KEY, iam_arn TEXT NOT NULL, registered INTEGER NOT NULL, doc TEXT NOT NULL);
   CREATE UNIQUE INDEX registry_instances_registered_arn ON registry_instances (iam_arn) WHERE registered = 1;
   CREATE TABLE registry_revisions (
     application_name TEXT NOT NULL, revision_key TEXT NOT NULL, doc TEXT NOT NULL,
     PRIMARY KEY (application_name, revision_key));`,
  // Tags of applications, deployment groups and deployment configs (TagResource), by the
  // resource's id, so a rename keeps them; deleting the resource deletes them.
  // Applications created before this step kept their tags in their record: moved here.
  `CREATE TABLE registry_resource_tags (resource_id TEXT PRIMARY KEY, doc TEXT NOT NULL);
   INSERT INTO registry_resource_tags (resource_id, doc)
     SELECT json_extract(doc, '$.applicationId'), json_extract(doc, '$.tags') FROM registry_applications
     WHERE json_array_length(json_extract(doc, '$.tags')) > 0;
   UPDATE registry_applications SET doc = json_remove(doc, '$.tags');`,
];

/** GetApplicationRevision's revisionInfo. */
export interface RevisionInfo {
  description?: string;
  deploymentGroups: string[];
  firstUsedTime?: EpochSeconds;
  lastUsedTime?: EpochSeconds;
  registerTime: EpochSeconds;
}

export interface RevisionRecord {
  revision: RevisionLocation;
  revisionInfo: RevisionInfo;
}

/** Fixed ids and creation time for the built-in configs, so they read the same on every start. */
const BUILT_IN_CREATE_TIME = 1_413_936_000; // 2014-10-22, around the service's launch
export const BUILT_INS: ReadonlyMap<string, DeploymentConfigInfo> = new Map(
  BUILT_IN_DEPLOYMENT_CONFIGS.map((c, i) => [
    c.name,
    {
      deploymentConfigId: `00000000-0000-4000-8000-00000000000${i + 1}`,
      deploymentConfigName: c.name,
      minimumHealthyHosts: { ...c.minimumHealthyHosts },
      createTime: BUILT_IN_CREATE_TIME,
      computePlatform: 'Server',
    },
  ]),
);

export interface RegistryStore {
  getApplication(name: string): ApplicationInfo | undefined;
  applicationNames(): string[];
  putApplication(app: ApplicationInfo): void;
  /** Renames the application and rewrites its groups and revisions. */
  renameApplication(from: string, to: string): void;
  deleteApplication(name: string): void;

  getGroup(applicationName: string, name: string): DeploymentGroupInfo | undefined;
  getGroupById(id: string): DeploymentGroupInfo | undefined;
  groupNames(applicationName: string): string[];
  /** Insert or replace by deploymentGroupId (a rename changes the name column too). */
  putGroup(group: DeploymentGroupInfo): void;
  deleteGroup(applicationName: string, name: string): void;
  groupsUsingConfig(configName: string): DeploymentGroupInfo[];

  getConfig(name: string): DeploymentConfigInfo | undefined;
  customConfigNames(): string[];
  putConfig(config: DeploymentConfigInfo): void;
  deleteConfig(name: string): void;

  getInstance(name: string): InstanceInfo | undefined;
  registeredInstanceByArn(arn: string): InstanceInfo | undefined;
  instances(): InstanceInfo[];
  putInstance(instance: InstanceInfo): void;

  getRevision(applicationName: string, key: string): RevisionRecord | undefined;
  revisions(applicationName: string): RevisionRecord[];
  putRevision(applicationName: string, key: string, record: RevisionRecord): void;

  /** Tags of an application, deployment group or deployment config, by its id ([] when none). */
  tagsOf(resourceId: string): Tag[];
  /** Replaces the resource's tags ([] removes the row). */
  putTags(resourceId: string, tags: readonly Tag[]): void;
}

export function createRegistryStore(db: Db): RegistryStore {
  migrate(db, 'registry', STEPS);
  const q = {
    app: db.prepare('SELECT doc FROM registry_applications WHERE name = ?'),
    appNames: db.prepare('SELECT name FROM registry_applications ORDER BY name'),
    putApp: db.prepare(
      'INSERT INTO registry_applications (name, doc) VALUES (@name, @doc) ON CONFLICT (name) DO UPDATE SET doc = excluded.doc',
    ),
    renameApp: db.prepare('UPDATE registry_applications SET name = ? WHERE name = ?'),
    deleteApp: db.prepare('DELETE FROM registry_applications WHERE name = ?'),
    groupsOfApp: db.prepare('SELECT doc FROM registry_deployment_groups WHERE application_name = ? ORDER BY name'),
    deleteGroupsOfApp: db.prepare('DELETE FROM registry_deployment_groups WHERE application_name = ?'),
    group: db.prepare('SELECT doc FROM registry_deployment_groups WHERE application_name = ? AND name = ?'),
    groupById: db.prepare('SELECT doc FROM registry_deployment_groups WHERE id = ?'),
    putGroup: db.prepare(
      `INSERT INTO registry_deployment_groups (id, application_name, name, config_name, doc) VALUES (@id, @app, @name, @config, @doc)
       ON CONFLICT (id) DO UPDATE SET application_name = excluded.application_name, name = excluded.name, config_name = excluded.config_name, doc = excluded.doc`,
    ),
    deleteGroup: db.prepare('DELETE FROM registry_deployment_groups WHERE application_name = ? AND name = ?'),
    groupsUsing: db.prepare('SELECT doc FROM registry_deployment_groups WHERE config_name = ? ORDER BY application_name, name'),
    config: db.prepare('SELECT doc FROM registry_deployment_configs WHERE name = ?'),
    configNames: db.prepare('SELECT name FROM registry_deployment_configs ORDER BY name'),
    putConfig: db.prepare('INSERT INTO registry_deployment_configs (name, doc) VALUES (@name, @doc)'),
    deleteConfig: db.prepare('DELETE FROM registry_deployment_configs WHERE name = ?'),
    instance: db.prepare('SELECT doc FROM registry_instances WHERE name = ?'),
    instanceByArn: db.prepare('SELECT doc FROM registry_instances WHERE iam_arn = ? AND registered = 1'),
    instances: db.prepare('SELECT doc FROM registry_instances ORDER BY name'),
    putInstance: db.prepare(
      `INSERT INTO registry_instances (name, iam_arn, registered, doc) VALUES (@name, @arn, @registered, @doc)
       ON CONFLICT (name) DO UPDATE SET iam_arn = excluded.iam_arn, registered = excluded.registered, doc = excluded.doc`,
    ),
    revision: db.prepare('SELECT doc FROM registry_revisions WHERE application_name = ? AND revision_key = ?'),
    revisions: db.prepare('SELECT doc FROM registry_revisions WHERE application_name = ? ORDER BY rowid'),
    putRevision: db.prepare(
      `INSERT INTO registry_revisions (application_name, revision_key, doc) VALUES (@app, @key, @doc)
       ON CONFLICT (application_name, revision_key) DO UPDATE SET doc = excluded.doc`,
    ),
    renameRevisions: db.prepare('UPDATE registry_revisions SET application_name = ? WHERE application_name = ?'),
    deleteRevisions: db.prepare('DELETE FROM registry_revisions WHERE application_name = ?'),
    tags: db.prepare('SELECT doc FROM registry_resource_tags WHERE resource_id = ?'),
    putTags: db.prepare(
      'INSERT INTO registry_resource_tags (resource_id, doc) VALUES (@id, @doc) ON CONFLICT (resource_id) DO UPDATE SET doc = excluded.doc',
    ),
    deleteTags: db.prepare('DELETE FROM registry_resource_tags WHERE resource_id = ?'),
  };
  const one = <T>(row: unknown): T | undefined => (row === undefined ? undefined : fromJson<T>((row as { doc: string }).doc));
  const all = <T>(rows: unknown[]): T[] => rows.map((r) => fromJson<T>((r as { doc: string }).doc));

  const store: RegistryStore = {
    getApplication: (name) => one<ApplicationInfo>(q.app.get(name)),
    applicationNames: () => (q.appNames.all() as { name: string }[]).map((r) => r.name),
    putApplication: (app) => void q.putApp.run({ name: app.applicationName, doc: toJson(app) }),
    renameApplication(from, to) {
      const app = store.getApplication(from);
      if (!app) return;
      const groups = all<DeploymentGroupInfo>(q.groupsOfApp.all(from));
      q.renameApp.run(to, from);
      store.putApplication({ ...app, applicationName: to });
      for (const g of groups) store.putGroup({ ...g, applicationName: to });
      q.renameRevisions.run(to, from);
    },
    deleteApplication(name) {
      const app = store.getApplication(name);
      if (app) q.deleteTags.run(app.applicationId);
      for (const g of all<DeploymentGroupInfo>(q.groupsOfApp.all(name))) q.deleteTags.run(g.deploymentGroupId);
      q.deleteGroupsOfApp.run(name);
      q.deleteRevisions.run(name);
      q.deleteApp.run(name);
    },

    getGroup: (app, name) => one<DeploymentGroupInfo>(q.group.get(app, name)),
    getGroupById: (id) => one<DeploymentGroupInfo>(q.groupById.get(id)),
    groupNames: (app) => all<DeploymentGroupInfo>(q.groupsOfApp.all(app)).map((g) => g.deploymentGroupName),
    putGroup: (g) =>
      void q.putGroup.run({
        id: g.deploymentGroupId,
        app: g.applicationName,
        name: g.deploymentGroupName,
        config: g.deploymentConfigName,
        doc: toJson(g),
      }),
    deleteGroup(app, name) {
      const group = store.getGroup(app, name);
      if (group) q.deleteTags.run(group.deploymentGroupId);
      q.deleteGroup.run(app, name);
    },
    groupsUsingConfig: (name) => all<DeploymentGroupInfo>(q.groupsUsing.all(name)),

    getConfig: (name) => BUILT_INS.get(name) ?? one<DeploymentConfigInfo>(q.config.get(name)),
    customConfigNames: () => (q.configNames.all() as { name: string }[]).map((r) => r.name),
    putConfig: (c) => void q.putConfig.run({ name: c.deploymentConfigName, doc: toJson(c) }),
    deleteConfig(name) {
      const config = one<DeploymentConfigInfo>(q.config.get(name));
      if (config) q.deleteTags.run(config.deploymentConfigId);
      q.deleteConfig.run(name);
    },

    getInstance: (name) => one<InstanceInfo>(q.instance.get(name)),
    registeredInstanceByArn: (arn) => one<InstanceInfo>(q.instanceByArn.get(arn)),
    instances: () => all<InstanceInfo>(q.instances.all()),
    putInstance: (i) =>
      void q.putInstance.run({
        name: i.instanceName,
        arn: i.iamUserArn ?? i.iamSessionArn ?? '',
        registered: i.deregisterTime === undefined ? 1 : 0,
        doc: toJson(i),
      }),

    getRevision: (app, key) => one<RevisionRecord>(q.revision.get(app, key)),
    revisions: (app) => all<RevisionRecord>(q.revisions.all(app)),
    putRevision: (app, key, record) => void q.putRevision.run({ app, key, doc: toJson(record) }),

    tagsOf: (id) => one<Tag[]>(q.tags.get(id)) ?? [],
    putTags(id, tags) {
      if (tags.length === 0) q.deleteTags.run(id);
      else q.putTags.run({ id, doc: toJson(tags) });
    },
  };
  return store;
}
