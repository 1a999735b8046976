/**
 * The local SNS's tables (module 'sns') in the control plane's database: topics (with the
 * attributes they were created or set with) and their HTTP(S) subscriptions (pending ones carry
 * the token a SubscribeURL confirms). A topic's subscriptions go with it.
 */
import { fromJson, migrate, toJson, type Db } from '../store/database.js';

const STEPS = [
  `CREATE TABLE sns_topics (arn TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, attributes TEXT NOT NULL);
   CREATE TABLE sns_subscriptions (
     arn TEXT PRIMARY KEY,
     topic_arn TEXT NOT NULL REFERENCES sns_topics (arn) ON DELETE CASCADE,
     protocol TEXT NOT NULL, endpoint TEXT NOT NULL, token TEXT NOT NULL, confirmed INTEGER NOT NULL,
     UNIQUE (topic_arn, protocol, endpoint));`,
];

export interface TopicRecord {
  arn: string;
  name: string;
  /** Attributes set by CreateTopic or SetTopicAttributes (DisplayName, …); computed ones are added on read. */
  attributes: Record<string, string>;
}

export interface SubscriptionRecord {
  arn: string;
  topicArn: string;
  protocol: 'http' | 'https';
  endpoint: string;
  token: string;
  confirmed: boolean;
}

export interface SnsStore {
  topics(): TopicRecord[];
  topic(arn: string): TopicRecord | undefined;
  topicByName(name: string): TopicRecord | undefined;
  putTopic(t: TopicRecord): void;
  deleteTopic(arn: string): void;
  subscriptions(topicArn?: string): SubscriptionRecord[];
  subscription(arn: string): SubscriptionRecord | undefined;
  subscriptionByEndpoint(topicArn: string, protocol: string, endpoint: string): SubscriptionRecord | undefined;
  putSubscription(s: SubscriptionRecord): void;
  deleteSubscription(arn: string): void;
  subscriptionCount(): number;
}

interface SubscriptionRow {
  arn: string;
  topic_arn: string;
  protocol: 'http' | 'https';
  endpoint: string;
  token: string;
  confirmed: number;
}

export function createSnsStore(db: Db): SnsStore {
  migrate(db, 'sns', STEPS);
  const q = {
    topics: db.prepare('SELECT arn, name, attributes FROM sns_topics ORDER BY rowid'),
    topic: db.prepare('SELECT arn, name, attributes FROM sns_topics WHERE arn = ?'),
    topicByName: db.prepare('SELECT arn, name, attributes FROM sns_topics WHERE name = ?'),
    putTopic: db.prepare(
      'INSERT INTO sns_topics (arn, name, attributes) VALUES (?, ?, ?) ON CONFLICT (arn) DO UPDATE SET attributes = excluded.attributes',
    ),
    delTopic: db.prepare('DELETE FROM sns_topics WHERE arn = ?'),
    subs: db.prepare('SELECT * FROM sns_subscriptions ORDER BY rowid'),
    subsOf: db.prepare('SELECT * FROM sns_subscriptions WHERE topic_arn = ? ORDER BY rowid'),
    sub: db.prepare('SELECT * FROM sns_subscriptions WHERE arn = ?'),
    subByEndpoint: db.prepare('SELECT * FROM sns_subscriptions WHERE topic_arn = ? AND protocol = ? AND endpoint = ?'),
    putSub: db.prepare(
      `INSERT INTO sns_subscriptions (arn, topic_arn, protocol, endpoint, token, confirmed) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (arn) DO UPDATE SET token = excluded.token, confirmed = excluded.confirmed`,
    ),
    delSub: db.prepare('DELETE FROM sns_subscriptions WHERE arn = ?'),
    countSubs: db.prepare('SELECT COUNT(*) AS n FROM sns_subscriptions'),
  };
  const topic = (row: unknown): TopicRecord | undefined => {
    if (row === undefined) return undefined;
    const r = row as { arn: string; name: string; attributes: string };
    return { arn: r.arn, name: r.name, attributes: fromJson<Record<string, string>>(r.attributes) };
  };
  const sub = (row: unknown): SubscriptionRecord | undefined => {
    if (row === undefined) return undefined;
    const r = row as SubscriptionRow;
    return { arn: r.arn, topicArn: r.topic_arn, protocol: r.protocol, endpoint: r.endpoint, token: r.token, confirmed: r.confirmed === 1 };
  };
  return {
    topics: () => q.topics.all().map((r) => topic(r) as TopicRecord),
    topic: (arn) => topic(q.topic.get(arn)),
    topicByName: (name) => topic(q.topicByName.get(name)),
    putTopic: (t) => void q.putTopic.run(t.arn, t.name, toJson(t.attributes)),
    deleteTopic: (arn) => void q.delTopic.run(arn),
    subscriptions: (topicArn) => (topicArn === undefined ? q.subs.all() : q.subsOf.all(topicArn)).map((r) => sub(r) as SubscriptionRecord),
    subscription: (arn) => sub(q.sub.get(arn)),
    subscriptionByEndpoint: (topicArn, protocol, endpoint) => sub(q.subByEndpoint.get(topicArn, protocol, endpoint)),
    putSubscription: (s) => void q.putSub.run(s.arn, s.topicArn, s.protocol, s.endpoint, s.token, s.confirmed ? 1 : 0),
    deleteSubscription: (arn) => void q.delSub.run(arn),
    subscriptionCount: () => (q.countSubs.get() as { n: number }).n,
  };
}
