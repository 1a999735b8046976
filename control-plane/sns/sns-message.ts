/**
 * The JSON documents SNS POSTs to HTTP(S) subscribers, and the string their signature covers. Pure:
 * signing and the URLs are passed in.
 *
 * SignatureVersion 1 is SHA1withRSA over SNS's canonical string: for a Notification the fields
 * Message, MessageId, Subject (only when present), Timestamp, TopicArn, Type; for a
 * SubscriptionConfirmation (and UnsubscribeConfirmation) Message, MessageId, SubscribeURL,
 * Timestamp, Token, TopicArn, Type; each as its name, a newline, its value, a newline, in that
 * (byte) order. Consumer libraries rebuild this string from the body and verify it with the
 * certificate at SigningCertURL.
 */

export type SnsMessageType = 'Notification' | 'SubscriptionConfirmation' | 'UnsubscribeConfirmation';

/** The fields of an HTTP delivery body, in the order SNS writes them. */
export interface SnsHttpMessage {
  Type: SnsMessageType;
  MessageId: string;
  Token?: string;
  TopicArn: string;
  Subject?: string;
  Message: string;
  SubscribeURL?: string;
  Timestamp: string;
  SignatureVersion: '1';
  Signature: string;
  SigningCertURL: string;
  UnsubscribeURL?: string;
}

type Unsigned = Omit<SnsHttpMessage, 'Signature' | 'SignatureVersion' | 'SigningCertURL'>;

const NOTIFICATION_FIELDS = ['Message', 'MessageId', 'Subject', 'Timestamp', 'TopicArn', 'Type'] as const;
const CONFIRMATION_FIELDS = ['Message', 'MessageId', 'SubscribeURL', 'Timestamp', 'Token', 'TopicArn', 'Type'] as const;

/** The string a SignatureVersion 1 signature covers. */
export function canonicalString(m: Unsigned): string {
  const fields = m.Type === 'Notification' ? NOTIFICATION_FIELDS : CONFIRMATION_FIELDS;
  let out = '';
  for (const field of fields) {
    const value = m[field];
    if (value === undefined) continue;
    out += `${field}\n${value}\n`;
  }
  return out;
}

export interface MessageSigner {
  /** Base64 SHA1withRSA signature of `text`. */
  sign(text: string): string;
  signingCertUrl: string;
}

/** A full delivery body: the fields, the signature over them, where the certificate is. */
export function signedMessage(m: Unsigned, signer: MessageSigner): SnsHttpMessage {
  const signature = signer.sign(canonicalString(m));
  const out: SnsHttpMessage = {
    Type: m.Type,
    MessageId: m.MessageId,
    ...(m.Token !== undefined ? { Token: m.Token } : {}),
    TopicArn: m.TopicArn,
    ...(m.Subject !== undefined ? { Subject: m.Subject } : {}),
    Message: m.Message,
    ...(m.SubscribeURL !== undefined ? { SubscribeURL: m.SubscribeURL } : {}),
    Timestamp: m.Timestamp,
    SignatureVersion: '1',
    Signature: signature,
    SigningCertURL: signer.signingCertUrl,
    ...(m.UnsubscribeURL !== undefined ? { UnsubscribeURL: m.UnsubscribeURL } : {}),
  };
  return out;
}

/** The confirmation text SNS puts in a SubscriptionConfirmation's Message. */
export function confirmationText(topicArn: string): string {
  return `You have chosen to subscribe to the topic ${topicArn}.\nTo confirm the subscription, visit the SubscribeURL included in this message.`;
}

/** The URL a subscriber GETs to confirm (SubscribeURL) or to leave (UnsubscribeURL). */
export function actionUrl(baseUrl: string, params: Record<string, string>): string {
  const url = new URL('/', baseUrl);
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  return url.toString();
}

/** The HTTP headers of a delivery. */
export function deliveryHeaders(m: SnsHttpMessage, subscriptionArn: string, body: string): Record<string, string> {
  return {
    'content-type': 'text/plain; charset=UTF-8',
    'content-length': String(Buffer.byteLength(body)),
    'user-agent': 'Amazon Simple Notification Service Agent',
    'x-amz-sns-message-type': m.Type,
    'x-amz-sns-message-id': m.MessageId,
    'x-amz-sns-topic-arn': m.TopicArn,
    ...(m.Type === 'Notification' ? { 'x-amz-sns-subscription-arn': subscriptionArn } : {}),
  };
}
