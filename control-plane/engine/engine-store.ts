/**
 * The engine's tables and the statements over them. Everything the engine knows lives here, so a
 * control plane restarted on the same file continues every deployment:
 *   - engine_deployments: the DeploymentInfo record (doc, API-shaped) plus the columns queries need
 *     and the config's minimum healthy hosts as they were at creation;
 *   - engine_targets: one InstanceTarget record per (deployment, instance), with its 11 events;
 *   - engine_commands: host commands, created one at a time per host as the previous one succeeds.
 *     A command is Pending (pollable), Dispatched (handed out), InProgress (acknowledged), then
 *     Succeeded, Failed, TimedOut, or Cancelled (never handed out). `cancelled` marks an in-flight
 *     command whose deployment stopped or failed: acks and updates answer Failed;
 *   - engine_host_seen: when each agent last called the commands API.
 * Every write happens inside the caller's transaction (engine-context.ts runInEngine).
 */
import type { Db } from '../store/database.js';
import { fromJson, migrate, toJson } from '../store/database.js';
import type { DeploymentInfo, InstanceTarget, MinimumHealthyHosts, TargetStatus } from '../model.js';

const STEPS = [
  `CREATE TABLE engine_deployments (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     deployment_id TEXT NOT NULL UNIQUE,
     application_name TEXT NOT NULL,
     deployment_group_name TEXT NOT NULL,
     deployment_group_id TEXT NOT NULL,
     status TEXT NOT NULL,
     create_time REAL NOT NULL,
     mhh_type TEXT NOT NULL,
     mhh_value INTEGER NOT NULL,
     doc TEXT NOT NULL,
     signed_spec TEXT
   );
   CREATE INDEX engine_deployments_group ON engine_deployments (deployment_group_id, status);
   CREATE INDEX engine_deployments_status ON engine_deployments (status);
   CREATE INDEX engine_deployments_app ON engine_deployments (application_name, deployment_group_name);
   CREATE TABLE engine_targets (
     deployment_id TEXT NOT NULL,
     instance_name TEXT NOT NULL,
     position INTEGER NOT NULL,
     host_identifier TEXT NOT NULL,
     status TEXT NOT NULL,
     doc TEXT NOT NULL,
     PRIMARY KEY (deployment_id, instance_name)
   );
   CREATE INDEX engine_targets_status ON engine_targets (deployment_id, status, position);
   CREATE TABLE engine_commands (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     deployment_id TEXT NOT NULL,
     instance_name TEXT NOT NULL,
     command_name TEXT NOT NULL,
     position INTEGER NOT NULL,
     status TEXT NOT NULL,
     cancelled INTEGER NOT NULL DEFAULT 0,
     ready_at REAL NOT NULL,
     dispatched_at REAL,
     completed_at REAL,
     completion TEXT,
     late_completion TEXT,
     UNIQUE (deployment_id, instance_name, command_name)
   );
   CREATE INDEX engine_commands_host ON engine_commands (instance_name, status);
   CREATE INDEX engine_commands_open ON engine_commands (status, ready_at);
   CREATE INDEX engine_commands_deployment ON engine_commands (deployment_id, status);
   CREATE TABLE engine_host_seen (
     host_identifier TEXT PRIMARY KEY,
     last_seen REAL NOT NULL,
     agent_version TEXT
   );`,
];

export interface DeploymentRow {
  seq: number;
  deploymentId: string;
  groupId: string;
  mhh: MinimumHealthyHosts;
  info: DeploymentInfo;
  signedSpec?: string;
}

export interface TargetRow {
  deploymentId: string;
  instanceName: string;
  position: number;
  hostIdentifier: string;
  target: InstanceTarget;
}

export type CommandStatus = 'Pending' | 'Dispatched' | 'InProgress' | 'Succeeded' | 'Failed' | 'TimedOut' | 'Cancelled';
export const OPEN_COMMAND_STATUSES: readonly CommandStatus[] = ['Pending', 'Dispatched', 'InProgress'];

export interface CommandRow {
  id: number;
  deploymentId: string;
  instanceName: string;
  commandName: string;
  position: number;
  status: CommandStatus;
  cancelled: boolean;
  /** ms: when it became Pending (timeouts count from here). */
  readyAt: number;
  dispatchedAt?: number;
  completedAt?: number;
  /** The accepted PutHostCommandComplete input, as JSON text (repeat detection). */
  completion?: string;
  lateCompletion?: string;
}

interface RawDeployment {
  seq: number;
  deployment_id: string;
  deployment_group_id: string;
  mhh_type: MinimumHealthyHosts['type'];
  mhh_value: number;
  doc: string;
  signed_spec: string | null;
}

interface RawTarget {
  deployment_id: string;
  instance_name: string;
  position: number;
  host_identifier: string;
  doc: string;
}

interface RawCommand {
  id: number;
  deployment_id: string;
  instance_name: string;
  command_name: string;
  position: number;
  status: CommandStatus;
  cancelled: number;
  ready_at: number;
  dispatched_at: number | null;
  completed_at: number | null;
  completion: string | null;
  late_completion: string | null;
}

const deploymentOf = (r: RawDeployment): DeploymentRow => ({
  seq: r.seq,
  deploymentId: r.deployment_id,
  groupId: r.deployment_group_id,
  mhh: { type: r.mhh_type, value: r.mhh_value },
  info: fromJson<DeploymentInfo>(r.doc),
  ...(r.signed_spec !== null ? { signedSpec: r.signed_spec } : {}),
});

const targetOf = (r: RawTarget): TargetRow => ({
  deploymentId: r.deployment_id,
  instanceName: r.instance_name,
  position: r.position,
  hostIdentifier: r.host_identifier,
  target: fromJson<InstanceTarget>(r.doc),
});

const commandOf = (r: RawCommand): CommandRow => {
  const row: CommandRow = {
    id: r.id,
    deploymentId: r.deployment_id,
    instanceName: r.instance_name,
    commandName: r.command_name,
    position: r.position,
    status: r.status,
    cancelled: r.cancelled === 1,
    readyAt: r.ready_at,
  };
  if (r.dispatched_at !== null) row.dispatchedAt = r.dispatched_at;
  if (r.completed_at !== null) row.completedAt = r.completed_at;
  if (r.completion !== null) row.completion = r.completion;
  if (r.late_completion !== null) row.lateCompletion = r.late_completion;
  return row;
};

export interface DeploymentQuery {
  applicationName?: string;
  deploymentGroupName?: string;
  statuses?: readonly string[];
  createdFrom?: number;
  createdTo?: number;
  /** Only rows with seq below this (pagination, newest first). */
  beforeSeq?: number;
  limit: number;
}

export type EngineStore = ReturnType<typeof createEngineStore>;

export function createEngineStore(db: Db) {
  migrate(db, 'engine', STEPS);
  const s = {
    insertDeployment: db.prepare(
      `INSERT INTO engine_deployments (deployment_id, application_name, deployment_group_name, deployment_group_id, status, create_time, mhh_type, mhh_value, doc)
       VALUES (@id, @app, @group, @groupId, @status, @createTime, @mhhType, @mhhValue, @doc)`,
    ),
    getDeployment: db.prepare('SELECT * FROM engine_deployments WHERE deployment_id = ?'),
    saveDeployment: db.prepare('UPDATE engine_deployments SET status = ?, doc = ? WHERE deployment_id = ?'),
    setSignedSpec: db.prepare('UPDATE engine_deployments SET signed_spec = ? WHERE deployment_id = ?'),
    activeIds: db.prepare(
      "SELECT deployment_id, status FROM engine_deployments WHERE status IN ('Created', 'InProgress', 'Ready') ORDER BY seq",
    ),
    activeInGroup: db.prepare(
      "SELECT deployment_id FROM engine_deployments WHERE deployment_group_id = ? AND status IN ('Created', 'InProgress', 'Ready') ORDER BY seq LIMIT 1",
    ),
    lastSucceeded: db.prepare(
      "SELECT * FROM engine_deployments WHERE deployment_group_id = ? AND status = 'Succeeded' AND deployment_id <> ? ORDER BY seq DESC LIMIT 1",
    ),
    insertTarget: db.prepare(
      'INSERT INTO engine_targets (deployment_id, instance_name, position, host_identifier, status, doc) VALUES (?, ?, ?, ?, ?, ?)',
    ),
    getTarget: db.prepare('SELECT * FROM engine_targets WHERE deployment_id = ? AND instance_name = ?'),
    targetHost: db.prepare('SELECT host_identifier FROM engine_targets WHERE deployment_id = ? AND instance_name = ?'),
    saveTarget: db.prepare('UPDATE engine_targets SET status = ?, doc = ? WHERE deployment_id = ? AND instance_name = ?'),
    targets: db.prepare('SELECT * FROM engine_targets WHERE deployment_id = ? ORDER BY position'),
    targetsWithStatus: db.prepare('SELECT * FROM engine_targets WHERE deployment_id = ? AND status = ? ORDER BY position LIMIT ?'),
    targetCounts: db.prepare('SELECT status, COUNT(*) AS n FROM engine_targets WHERE deployment_id = ? GROUP BY status'),
    insertCommand: db.prepare(
      "INSERT INTO engine_commands (deployment_id, instance_name, command_name, position, status, ready_at) VALUES (?, ?, ?, ?, 'Pending', ?)",
    ),
    getCommand: db.prepare('SELECT * FROM engine_commands WHERE id = ?'),
    saveCommand: db.prepare(
      'UPDATE engine_commands SET status = @status, cancelled = @cancelled, dispatched_at = @dispatchedAt, completed_at = @completedAt, completion = @completion, late_completion = @lateCompletion WHERE id = @id',
    ),
    pendingFor: db.prepare("SELECT * FROM engine_commands WHERE instance_name = ? AND status = 'Pending' ORDER BY id LIMIT 1"),
    unacknowledgedFor: db.prepare(
      "SELECT * FROM engine_commands WHERE instance_name = ? AND status = 'Dispatched' AND cancelled = 0 AND dispatched_at <= ? ORDER BY id LIMIT 1",
    ),
    openOf: db.prepare(
      "SELECT * FROM engine_commands WHERE deployment_id = ? AND status IN ('Pending', 'Dispatched', 'InProgress') ORDER BY id",
    ),
    expired: db.prepare(
      "SELECT * FROM engine_commands WHERE status IN ('Pending', 'Dispatched', 'InProgress') AND ready_at <= ? ORDER BY id",
    ),
    touchHost: db.prepare(
      'INSERT INTO engine_host_seen (host_identifier, last_seen, agent_version) VALUES (?, ?, ?) ON CONFLICT (host_identifier) DO UPDATE SET last_seen = excluded.last_seen, agent_version = COALESCE(excluded.agent_version, agent_version)',
    ),
    hostSeen: db.prepare('SELECT * FROM engine_host_seen WHERE host_identifier = ?'),
  };

  return {
    insertDeployment(info: DeploymentInfo, groupId: string, mhh: MinimumHealthyHosts): void {
      s.insertDeployment.run({
        id: info.deploymentId,
        app: info.applicationName,
        group: info.deploymentGroupName,
        groupId,
        status: info.status,
        createTime: info.createTime,
        mhhType: mhh.type,
        mhhValue: mhh.value,
        doc: toJson(info),
      });
    },
    getDeployment(id: string): DeploymentRow | undefined {
      const r = s.getDeployment.get(id) as RawDeployment | undefined;
      return r && deploymentOf(r);
    },
    saveDeployment(info: DeploymentInfo): void {
      s.saveDeployment.run(info.status, toJson(info), info.deploymentId);
    },
    setSignedSpec(id: string, pem: string): void {
      s.setSignedSpec.run(pem, id);
    },
    /** Active deployments' ids and statuses, without parsing their records. */
    activeIds(): { deploymentId: string; status: string }[] {
      return (s.activeIds.all() as { deployment_id: string; status: string }[]).map((r) => ({
        deploymentId: r.deployment_id,
        status: r.status,
      }));
    },
    activeInGroup(groupId: string): string | undefined {
      return (s.activeInGroup.get(groupId) as { deployment_id: string } | undefined)?.deployment_id;
    },
    lastSucceeded(groupId: string, excludeId: string): DeploymentRow | undefined {
      const r = s.lastSucceeded.get(groupId, excludeId) as RawDeployment | undefined;
      return r && deploymentOf(r);
    },
    queryDeploymentIds(q: DeploymentQuery): { seq: number; deploymentId: string }[] {
      const where: string[] = [];
      const args: (string | number)[] = [];
      if (q.applicationName !== undefined) {
        where.push('application_name = ?');
        args.push(q.applicationName);
      }
      if (q.deploymentGroupName !== undefined) {
        where.push('deployment_group_name = ?');
        args.push(q.deploymentGroupName);
      }
      if (q.statuses && q.statuses.length > 0) {
        where.push(`status IN (${q.statuses.map(() => '?').join(', ')})`);
        args.push(...q.statuses);
      }
      if (q.createdFrom !== undefined) {
        where.push('create_time >= ?');
        args.push(q.createdFrom);
      }
      if (q.createdTo !== undefined) {
        where.push('create_time <= ?');
        args.push(q.createdTo);
      }
      if (q.beforeSeq !== undefined) {
        where.push('seq < ?');
        args.push(q.beforeSeq);
      }
      const sql = `SELECT seq, deployment_id FROM engine_deployments ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq DESC LIMIT ?`;
      return (db.prepare(sql).all(...args, q.limit) as { seq: number; deployment_id: string }[]).map((r) => ({
        seq: r.seq,
        deploymentId: r.deployment_id,
      }));
    },
    insertTarget(t: TargetRow): void {
      s.insertTarget.run(t.deploymentId, t.instanceName, t.position, t.hostIdentifier, t.target.status, toJson(t.target));
    },
    getTarget(deploymentId: string, instanceName: string): TargetRow | undefined {
      const r = s.getTarget.get(deploymentId, instanceName) as RawTarget | undefined;
      return r && targetOf(r);
    },
    /** A target's host identifier, without parsing its record. */
    targetHost(deploymentId: string, instanceName: string): string | undefined {
      return (s.targetHost.get(deploymentId, instanceName) as { host_identifier: string } | undefined)?.host_identifier;
    },
    saveTarget(t: TargetRow): void {
      s.saveTarget.run(t.target.status, toJson(t.target), t.deploymentId, t.instanceName);
    },
    targets(deploymentId: string): TargetRow[] {
      return (s.targets.all(deploymentId) as RawTarget[]).map(targetOf);
    },
    targetsWithStatus(deploymentId: string, status: TargetStatus, limit: number): TargetRow[] {
      return (s.targetsWithStatus.all(deploymentId, status, limit) as RawTarget[]).map(targetOf);
    },
    targetCounts(deploymentId: string): Partial<Record<TargetStatus, number>> {
      const counts: Partial<Record<TargetStatus, number>> = {};
      for (const r of s.targetCounts.all(deploymentId) as { status: TargetStatus; n: number }[]) counts[r.status] = r.n;
      return counts;
    },
    insertCommand(deploymentId: string, instanceName: string, commandName: string, position: number, readyAt: number): number {
      return Number(s.insertCommand.run(deploymentId, instanceName, commandName, position, readyAt).lastInsertRowid);
    },
    getCommand(id: number): CommandRow | undefined {
      const r = s.getCommand.get(id) as RawCommand | undefined;
      return r && commandOf(r);
    },
    saveCommand(c: CommandRow): void {
      s.saveCommand.run({
        id: c.id,
        status: c.status,
        cancelled: c.cancelled ? 1 : 0,
        dispatchedAt: c.dispatchedAt ?? null,
        completedAt: c.completedAt ?? null,
        completion: c.completion ?? null,
        lateCompletion: c.lateCompletion ?? null,
      });
    },
    pendingCommandFor(instanceName: string): CommandRow | undefined {
      const r = s.pendingFor.get(instanceName) as RawCommand | undefined;
      return r && commandOf(r);
    },
    unacknowledgedCommandFor(instanceName: string, dispatchedBeforeMs: number): CommandRow | undefined {
      const r = s.unacknowledgedFor.get(instanceName, dispatchedBeforeMs) as RawCommand | undefined;
      return r && commandOf(r);
    },
    openCommandsOf(deploymentId: string): CommandRow[] {
      return (s.openOf.all(deploymentId) as RawCommand[]).map(commandOf);
    },
    commandsReadyBefore(cutoffMs: number): CommandRow[] {
      return (s.expired.all(cutoffMs) as RawCommand[]).map(commandOf);
    },
    touchHost(hostIdentifier: string, atSeconds: number, packageVersion: string | undefined): void {
      s.touchHost.run(hostIdentifier, atSeconds, packageVersion ?? null);
    },
    hostSeen(hostIdentifier: string): { lastSeen: number; packageVersion?: string } | undefined {
      const r = s.hostSeen.get(hostIdentifier) as { last_seen: number; agent_version: string | null } | undefined;
      return r && { lastSeen: r.last_seen, ...(r.agent_version !== null ? { packageVersion: r.agent_version } : {}) };
    },
  };
}
