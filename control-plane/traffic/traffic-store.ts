/**
 * The local load balancers' tables (module 'traffic'): target groups, registered targets, load
 * balancers, listeners and tags. Records are kept in their API shape as JSON in `doc`, next to the
 * columns that lookups and uniqueness need. A target group's LoadBalancerArns is not stored: it
 * follows from the listeners. Health, draining and in-flight requests are not stored either: a
 * restart has no in-flight requests, so a draining target is simply gone, and health is
 * re-checked from 'initial'.
 */
import { fromJson, migrate, toJson, type Db } from '../store/database.js';
import type { ElbTag, ListenerRecord, LoadBalancerRecord, TargetDescription, TargetGroupRecord } from './elb-model.js';

const STEPS = [
  `CREATE TABLE traffic_target_groups (arn TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, doc TEXT NOT NULL);
   CREATE TABLE traffic_targets (
     target_group_arn TEXT NOT NULL REFERENCES traffic_target_groups (arn) ON DELETE CASCADE,
     target_id TEXT NOT NULL, port INTEGER NOT NULL,
     PRIMARY KEY (target_group_arn, target_id, port));
   CREATE TABLE traffic_load_balancers (arn TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, doc TEXT NOT NULL);
   CREATE TABLE traffic_listeners (
     arn TEXT PRIMARY KEY,
     load_balancer_arn TEXT NOT NULL REFERENCES traffic_load_balancers (arn) ON DELETE CASCADE,
     port INTEGER NOT NULL UNIQUE,
     target_group_arn TEXT NOT NULL REFERENCES traffic_target_groups (arn),
     doc TEXT NOT NULL);
   CREATE TABLE traffic_tags (resource_arn TEXT NOT NULL, key TEXT NOT NULL, value TEXT, PRIMARY KEY (resource_arn, key));`,
];

export type StoredTargetGroup = Omit<TargetGroupRecord, 'LoadBalancerArns'>;

export interface TrafficStore {
  transaction<T>(fn: () => T): T;
  targetGroups(): StoredTargetGroup[];
  targetGroup(arn: string): StoredTargetGroup | undefined;
  targetGroupByName(name: string): StoredTargetGroup | undefined;
  putTargetGroup(tg: StoredTargetGroup): void;
  deleteTargetGroup(arn: string): void;
  targets(targetGroupArn: string): Required<TargetDescription>[];
  addTarget(targetGroupArn: string, t: Required<TargetDescription>): void;
  removeTarget(targetGroupArn: string, t: Required<TargetDescription>): void;
  loadBalancers(): LoadBalancerRecord[];
  loadBalancer(arn: string): LoadBalancerRecord | undefined;
  loadBalancerByName(name: string): LoadBalancerRecord | undefined;
  putLoadBalancer(lb: LoadBalancerRecord): void;
  deleteLoadBalancer(arn: string): void;
  listeners(): ListenerRecord[];
  listener(arn: string): ListenerRecord | undefined;
  listenerOnPort(port: number): ListenerRecord | undefined;
  putListener(l: ListenerRecord): void;
  deleteListener(arn: string): void;
  tags(resourceArn: string): ElbTag[];
  setTags(resourceArn: string, tags: ElbTag[]): void;
}

export function createTrafficStore(db: Db): TrafficStore {
  migrate(db, 'traffic', STEPS);
  const q = {
    tgs: db.prepare('SELECT doc FROM traffic_target_groups ORDER BY rowid'),
    tg: db.prepare('SELECT doc FROM traffic_target_groups WHERE arn = ?'),
    tgByName: db.prepare('SELECT doc FROM traffic_target_groups WHERE name = ?'),
    putTg: db.prepare(
      'INSERT INTO traffic_target_groups (arn, name, doc) VALUES (?, ?, ?) ON CONFLICT (arn) DO UPDATE SET name = excluded.name, doc = excluded.doc',
    ),
    delTg: db.prepare('DELETE FROM traffic_target_groups WHERE arn = ?'),
    targets: db.prepare('SELECT target_id AS Id, port AS Port FROM traffic_targets WHERE target_group_arn = ? ORDER BY rowid'),
    addTarget: db.prepare('INSERT OR IGNORE INTO traffic_targets (target_group_arn, target_id, port) VALUES (?, ?, ?)'),
    removeTarget: db.prepare('DELETE FROM traffic_targets WHERE target_group_arn = ? AND target_id = ? AND port = ?'),
    lbs: db.prepare('SELECT doc FROM traffic_load_balancers ORDER BY rowid'),
    lb: db.prepare('SELECT doc FROM traffic_load_balancers WHERE arn = ?'),
    lbByName: db.prepare('SELECT doc FROM traffic_load_balancers WHERE name = ?'),
    putLb: db.prepare(
      'INSERT INTO traffic_load_balancers (arn, name, doc) VALUES (?, ?, ?) ON CONFLICT (arn) DO UPDATE SET name = excluded.name, doc = excluded.doc',
    ),
    delLb: db.prepare('DELETE FROM traffic_load_balancers WHERE arn = ?'),
    listeners: db.prepare('SELECT doc FROM traffic_listeners ORDER BY rowid'),
    listener: db.prepare('SELECT doc FROM traffic_listeners WHERE arn = ?'),
    listenerOnPort: db.prepare('SELECT doc FROM traffic_listeners WHERE port = ?'),
    putListener: db.prepare(
      `INSERT INTO traffic_listeners (arn, load_balancer_arn, port, target_group_arn, doc) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (arn) DO UPDATE SET port = excluded.port, target_group_arn = excluded.target_group_arn, doc = excluded.doc`,
    ),
    delListener: db.prepare('DELETE FROM traffic_listeners WHERE arn = ?'),
    tags: db.prepare('SELECT key AS Key, value AS Value FROM traffic_tags WHERE resource_arn = ? ORDER BY rowid'),
    delTags: db.prepare('DELETE FROM traffic_tags WHERE resource_arn = ?'),
    addTag: db.prepare('INSERT INTO traffic_tags (resource_arn, key, value) VALUES (?, ?, ?)'),
  };
  const docs = <T>(rows: unknown[]): T[] => (rows as { doc: string }[]).map((r) => fromJson<T>(r.doc));
  const doc = <T>(row: unknown): T | undefined => (row === undefined ? undefined : fromJson<T>((row as { doc: string }).doc));
  return {
    transaction: <T>(fn: () => T): T => db.transaction(fn)(),
    targetGroups: () => docs<StoredTargetGroup>(q.tgs.all()),
    targetGroup: (arn) => doc<StoredTargetGroup>(q.tg.get(arn)),
    targetGroupByName: (name) => doc<StoredTargetGroup>(q.tgByName.get(name)),
    putTargetGroup: (tg) => void q.putTg.run(tg.TargetGroupArn, tg.TargetGroupName, toJson(tg)),
    deleteTargetGroup: (arn) => {
      q.delTg.run(arn);
      q.delTags.run(arn);
    },
    targets: (arn) => q.targets.all(arn) as Required<TargetDescription>[],
    addTarget: (arn, t) => void q.addTarget.run(arn, t.Id, t.Port),
    removeTarget: (arn, t) => void q.removeTarget.run(arn, t.Id, t.Port),
    loadBalancers: () => docs<LoadBalancerRecord>(q.lbs.all()),
    loadBalancer: (arn) => doc<LoadBalancerRecord>(q.lb.get(arn)),
    loadBalancerByName: (name) => doc<LoadBalancerRecord>(q.lbByName.get(name)),
    putLoadBalancer: (lb) => void q.putLb.run(lb.LoadBalancerArn, lb.LoadBalancerName, toJson(lb)),
    deleteLoadBalancer: (arn) => {
      q.delLb.run(arn);
      q.delTags.run(arn);
    },
    listeners: () => docs<ListenerRecord>(q.listeners.all()),
    listener: (arn) => doc<ListenerRecord>(q.listener.get(arn)),
    listenerOnPort: (port) => doc<ListenerRecord>(q.listenerOnPort.get(port)),
    putListener: (l) => void q.putListener.run(l.ListenerArn, l.LoadBalancerArn, l.Port, l.DefaultActions[0]?.TargetGroupArn, toJson(l)),
    deleteListener: (arn) => {
      q.delListener.run(arn);
      q.delTags.run(arn);
    },
    tags: (arn) =>
      (q.tags.all(arn) as { Key: string; Value: string | null }[]).map((t) =>
        t.Value === null ? { Key: t.Key } : { Key: t.Key, Value: t.Value },
      ),
    setTags: (arn, tags) => {
      q.delTags.run(arn);
      for (const t of tags) q.addTag.run(arn, t.Key, t.Value ?? null);
    },
  };
}
