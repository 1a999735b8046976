/**
 * The local SNS: topics and HTTP(S) subscriptions kept in SQLite (sns-store.ts), the subscription
 * handshake (a signed SubscriptionConfirmation POSTed to the endpoint, confirmed through its
 * SubscribeURL, which points back at this control plane) and Publish, which hands a signed
 * Notification to every confirmed subscription's delivery queue (sns-delivery.ts) and returns at
 * once. Only the http and https protocols exist here; no FIFO topics, filter policies, raw delivery
 * or delivery policies (the retry policy is delivery's own). Errors are SnsError with SNS's codes.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { clip, quoted, shownUrl } from '../log/clip.js';
import type { ControlPlaneIdentity } from '../model.js';
import type { Db } from '../store/database.js';
import { createDeliveryQueues, type DeliveryPolicy, type DeliveryPost, type DeliveryQueues, type DeliveryTimers } from './sns-delivery.js';
import { actionUrl, confirmationText, deliveryHeaders, signedMessage, type MessageSigner, type SnsHttpMessage } from './sns-message.js';
import { SIGNING_CERT_PATH, type SnsSigningKey } from './sns-signing.js';
import { createSnsStore, type SubscriptionRecord, type TopicRecord } from './sns-store.js';
import { invalidParameter, notFound, SnsError } from './sns-wire.js';

export const MAX_TOPICS = 1000;
export const MAX_SUBSCRIPTIONS = 1000;
export const MAX_MESSAGE_BYTES = 256 * 1024;
const MAX_SUBJECT = 100;
const MAX_ENDPOINT = 2048;
const TOPIC_NAME = /^[A-Za-z0-9_-]{1,256}$/;
const SETTABLE_ATTRIBUTES = ['DisplayName', 'Policy', 'DeliveryPolicy', 'KmsMasterKeyId', 'TracingConfig', 'SignatureVersion'];

export interface PublishInput {
  topicArn: string;
  message: string;
  subject?: string;
  /** 'json': Message is an object of per-protocol texts with a "default". */
  messageStructure?: string;
}

export interface SnsService {
  createTopic(name: string, attributes?: ReadonlyMap<string, string>): string;
  deleteTopic(topicArn: string): void;
  listTopics(): string[];
  hasTopic(topicArn: string): boolean;
  getTopicAttributes(topicArn: string): Map<string, string>;
  setTopicAttribute(topicArn: string, name: string, value: string): void;
  /** Returns the subscription ARN, or "pending confirmation" unless `returnSubscriptionArn`. */
  subscribe(input: { topicArn: string; protocol: string; endpoint: string; returnSubscriptionArn?: boolean }): string;
  confirmSubscription(topicArn: string, token: string): string;
  unsubscribe(subscriptionArn: string): void;
  listSubscriptions(topicArn?: string): SubscriptionRecord[];
  /** Queues a Notification for every confirmed subscription of the topic; returns the MessageId. */
  publish(input: PublishInput): string;
  certificatePem: string;
  /** Messages not yet delivered (in flight or waiting for a retry). */
  pendingDeliveries(): number;
  close(): void;
}

export interface SnsServiceOptions {
  db: Db;
  identity: ControlPlaneIdentity;
  logger: Logger;
  signingKey: SnsSigningKey;
  /** The control plane's URL, for SubscribeURL, UnsubscribeURL and SigningCertURL (known once it listens). */
  baseUrl: () => string;
  delivery?: { policy?: Partial<DeliveryPolicy>; post?: DeliveryPost; timers?: DeliveryTimers };
  clock?: () => Date;
}

export function createSnsService(opts: SnsServiceOptions): SnsService {
  const store = createSnsStore(opts.db);
  const log = opts.logger;
  const clock = opts.clock ?? (() => new Date());
  const queues: DeliveryQueues = createDeliveryQueues({ logger: log, ...opts.delivery });
  const { region, accountId } = opts.identity;
  const arnPrefix = `arn:aws:sns:${region}:${accountId}:`;
  const signer = (): MessageSigner => ({
    sign: (text) => opts.signingKey.sign(text),
    signingCertUrl: new URL(SIGNING_CERT_PATH, opts.baseUrl()).toString(),
  });

  const requireTopic = (topicArn: string, member = 'TopicArn'): TopicRecord => {
    if (!topicArn.startsWith('arn:') || topicArn.split(':').length !== 6)
      throw invalidParameter(`${member}: ${quoted(topicArn)} is not a topic ARN`);
    const topic = store.topic(topicArn);
    if (!topic) throw notFound(`Topic does not exist: ${clip(topicArn, 300)} (ListTopics lists the topics of the local SNS)`);
    return topic;
  };

  const deliver = (sub: SubscriptionRecord, message: SnsHttpMessage): void => {
    const body = JSON.stringify(message);
    queues.enqueue({
      subscriptionArn: sub.arn,
      endpoint: sub.endpoint,
      headers: deliveryHeaders(message, sub.arn, body),
      body,
      what: `${message.Type} ${message.MessageId}`,
    });
  };

  const sendConfirmation = (sub: SubscriptionRecord): void => {
    const subscribeUrl = actionUrl(opts.baseUrl(), { Action: 'ConfirmSubscription', TopicArn: sub.topicArn, Token: sub.token });
    deliver(
      sub,
      signedMessage(
        {
          Type: 'SubscriptionConfirmation',
          MessageId: randomUUID(),
          Token: sub.token,
          TopicArn: sub.topicArn,
          Message: confirmationText(sub.topicArn),
          SubscribeURL: subscribeUrl,
          Timestamp: clock().toISOString(),
        },
        signer(),
      ),
    );
  };

  const service: SnsService = {
    createTopic(name, attributes) {
      if (name.endsWith('.fifo')) throw invalidParameter('FIFO topics are not supported by the local SNS; use a standard topic name');
      if (!TOPIC_NAME.test(name))
        throw invalidParameter(`Topic Name: ${quoted(name)} must be 1 to 256 characters of letters, digits, hyphens and underscores`);
      for (const key of attributes?.keys() ?? [])
        if (key === 'FifoTopic' || key === 'ContentBasedDeduplication')
          throw invalidParameter(`Attributes: ${key} is not supported (no FIFO topics in the local SNS)`);
      const existing = store.topicByName(name);
      if (existing) return existing.arn;
      if (store.topics().length >= MAX_TOPICS)
        throw new SnsError('TopicLimitExceeded', `The local SNS holds at most ${MAX_TOPICS} topics; delete some (DeleteTopic) first`, 403);
      const arn = `${arnPrefix}${name}`;
      store.putTopic({ arn, name, attributes: Object.fromEntries(attributes ?? []) });
      log.debug({ topicArn: arn }, 'SNS topic created');
      return arn;
    },
    deleteTopic(topicArn) {
      // Like SNS, deleting a topic that is not there succeeds.
      for (const sub of store.subscriptions(topicArn)) queues.drop(sub.arn);
      store.deleteTopic(topicArn);
    },
    listTopics: () => store.topics().map((t) => t.arn),
    hasTopic: (topicArn) => store.topic(topicArn) !== undefined,
    getTopicAttributes(topicArn) {
      const topic = requireTopic(topicArn);
      const subs = store.subscriptions(topicArn);
      return new Map([
        ...Object.entries(topic.attributes),
        ['TopicArn', topic.arn],
        ['Owner', accountId],
        ['DisplayName', topic.attributes['DisplayName'] ?? ''],
        ['SubscriptionsConfirmed', String(subs.filter((s) => s.confirmed).length)],
        ['SubscriptionsPending', String(subs.filter((s) => !s.confirmed).length)],
        ['SubscriptionsDeleted', '0'],
      ]);
    },
    setTopicAttribute(topicArn, name, value) {
      const topic = requireTopic(topicArn);
      if (!SETTABLE_ATTRIBUTES.includes(name))
        throw invalidParameter(`AttributeName: ${quoted(name)} cannot be set; use one of ${SETTABLE_ATTRIBUTES.join(', ')}`);
      store.putTopic({ ...topic, attributes: { ...topic.attributes, [name]: value } });
    },
    subscribe(input) {
      const topic = requireTopic(input.topicArn);
      const protocol = input.protocol.toLowerCase();
      if (protocol !== 'http' && protocol !== 'https')
        throw invalidParameter(
          `Protocol: ${quoted(input.protocol)} is not supported by the local SNS; use http or https (an HTTP endpoint that confirms through SubscribeURL)`,
        );
      let url: URL;
      try {
        url = new URL(input.endpoint);
      } catch {
        throw invalidParameter(`Endpoint: ${quoted(input.endpoint)} is not a URL`);
      }
      if (url.protocol !== `${protocol}:` || input.endpoint.length > MAX_ENDPOINT)
        throw invalidParameter(`Endpoint: ${quoted(input.endpoint)} must be a ${protocol}:// URL of at most ${MAX_ENDPOINT} characters`);
      const existing = store.subscriptionByEndpoint(topic.arn, protocol, input.endpoint);
      if (existing?.confirmed) return existing.arn;
      if (!existing && store.subscriptionCount() >= MAX_SUBSCRIPTIONS)
        throw new SnsError(
          'SubscriptionLimitExceeded',
          `The local SNS holds at most ${MAX_SUBSCRIPTIONS} subscriptions; remove some (Unsubscribe) first`,
          403,
        );
      const sub: SubscriptionRecord = existing ?? {
        arn: `${topic.arn}:${randomUUID()}`,
        topicArn: topic.arn,
        protocol,
        endpoint: input.endpoint,
        token: randomBytes(64).toString('hex'),
        confirmed: false,
      };
      if (!existing) store.putSubscription(sub);
      sendConfirmation(sub);
      log.info(
        { topicArn: topic.arn, subscriptionArn: sub.arn, endpoint: shownUrl(sub.endpoint) },
        `SNS subscription of ${shownUrl(sub.endpoint)} to ${topic.name} pending: a SubscriptionConfirmation was sent`,
      );
      return input.returnSubscriptionArn ? sub.arn : 'pending confirmation';
    },
    confirmSubscription(topicArn, token) {
      requireTopic(topicArn);
      const sub = store.subscriptions(topicArn).find((s) => s.token === token);
      if (!sub) throw invalidParameter('Token: no pending subscription of this topic has this token (subscribe again for a new one)');
      if (!sub.confirmed) {
        store.putSubscription({ ...sub, confirmed: true });
        log.info({ topicArn, subscriptionArn: sub.arn, endpoint: shownUrl(sub.endpoint) }, 'SNS subscription confirmed');
      }
      return sub.arn;
    },
    unsubscribe(subscriptionArn) {
      const sub = store.subscription(subscriptionArn);
      if (!sub) throw notFound(`Subscription does not exist: ${clip(subscriptionArn, 300)}`);
      queues.drop(sub.arn);
      store.deleteSubscription(sub.arn);
      log.info({ subscriptionArn, endpoint: shownUrl(sub.endpoint) }, 'SNS subscription removed');
    },
    listSubscriptions(topicArn) {
      if (topicArn !== undefined) requireTopic(topicArn);
      return store.subscriptions(topicArn);
    },
    publish(input) {
      const topic = requireTopic(input.topicArn);
      if (Buffer.byteLength(input.message) > MAX_MESSAGE_BYTES)
        throw invalidParameter(`Message too long: at most ${MAX_MESSAGE_BYTES} bytes`);
      if (input.subject !== undefined) checkSubject(input.subject);
      const texts = perProtocol(input);
      const messageId = randomUUID();
      const timestamp = clock().toISOString();
      for (const sub of store.subscriptions(topic.arn)) {
        if (!sub.confirmed) continue;
        deliver(
          sub,
          signedMessage(
            {
              Type: 'Notification',
              MessageId: messageId,
              TopicArn: topic.arn,
              ...(input.subject !== undefined ? { Subject: input.subject } : {}),
              Message: texts[sub.protocol] ?? texts.default,
              Timestamp: timestamp,
              UnsubscribeURL: actionUrl(opts.baseUrl(), { Action: 'Unsubscribe', SubscriptionArn: sub.arn }),
            },
            signer(),
          ),
        );
      }
      return messageId;
    },
    certificatePem: opts.signingKey.certificatePem,
    pendingDeliveries: () => queues.pending(),
    close: () => queues.close(),
  };
  return service;
}

function checkSubject(subject: string): void {
  if (subject.length === 0 || subject.length > MAX_SUBJECT) throw invalidParameter(`Subject must be 1 to ${MAX_SUBJECT} characters long`);
  if (!/^[\x20-\x7e]+$/.test(subject)) throw invalidParameter('Subject must be printable ASCII with no line breaks');
}

/** The text each protocol gets: the Message, or with MessageStructure json its "http"/"https" member, else "default". */
function perProtocol(input: PublishInput): { default: string; http?: string; https?: string } {
  if (input.messageStructure === undefined) return { default: input.message };
  if (input.messageStructure !== 'json') throw invalidParameter('MessageStructure must be json when given');
  let parsed: unknown;
  try {
    parsed = JSON.parse(input.message);
  } catch {
    throw invalidParameter('Message Structure - JSON message body failed to parse');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
    throw invalidParameter('Message Structure - the message must be a JSON object');
  const obj = parsed as Record<string, unknown>;
  if (typeof obj['default'] !== 'string') throw invalidParameter('Message Structure - No default entry in JSON message body');
  const text = (k: string) => (typeof obj[k] === 'string' ? obj[k] : undefined);
  return { default: obj['default'], http: text('http'), https: text('https') };
}
