/**
 * SNS HTTP messages: the canonical string SignatureVersion 1 covers, literally, for a
 * Notification with and without a Subject and for a SubscriptionConfirmation; and a signature made
 * with the control plane's key, checked as a consumer library checks it (certificate from the PEM,
 * SHA1withRSA over the rebuilt string), failing when a field is changed.
 */
import { verify, X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { canonicalString, deliveryHeaders, signedMessage } from '../../../../control-plane/sns/sns-message.js';
import { loadSnsSigningKey } from '../../../../control-plane/sns/sns-signing.js';
import { silentLogger, tempDir } from '../../../helpers/temp.js';

const base = {
  MessageId: 'm-1',
  TopicArn: 'arn:aws:sns:us-east-1:000000000000:deploys',
  Message: 'hello\nworld',
  Timestamp: '2024-01-02T03:04:05.678Z',
};

describe('the canonical string', () => {
  it('of a Notification lists Message, MessageId, Subject, Timestamp, TopicArn, Type', () => {
    expect(canonicalString({ ...base, Type: 'Notification', Subject: 'S', UnsubscribeURL: 'http://x/' })).toBe(
      'Message\nhello\nworld\nMessageId\nm-1\nSubject\nS\nTimestamp\n2024-01-02T03:04:05.678Z\nTopicArn\narn:aws:sns:us-east-1:000000000000:deploys\nType\nNotification\n',
    );
    expect(canonicalString({ ...base, Type: 'Notification' })).toBe(
      'Message\nhello\nworld\nMessageId\nm-1\nTimestamp\n2024-01-02T03:04:05.678Z\nTopicArn\narn:aws:sns:us-east-1:000000000000:deploys\nType\nNotification\n',
    );
  });

  it('of a SubscriptionConfirmation adds SubscribeURL and Token', () => {
    expect(canonicalString({ ...base, Type: 'SubscriptionConfirmation', Token: 'tok', SubscribeURL: 'http://cp/?a=1' })).toBe(
      'Message\nhello\nworld\nMessageId\nm-1\nSubscribeURL\nhttp://cp/?a=1\nTimestamp\n2024-01-02T03:04:05.678Z\nToken\ntok\nTopicArn\narn:aws:sns:us-east-1:000000000000:deploys\nType\nSubscriptionConfirmation\n',
    );
  });
});

describe('signed messages', () => {
  it('verify with the certificate, and not once altered; the key is kept across loads', async () => {
    const dir = await tempDir('cda-sns-key-');
    const key = await loadSnsSigningKey({ dir, logger: silentLogger() });
    const m = signedMessage(
      { ...base, Type: 'Notification', Subject: 'Deploys' },
      { sign: key.sign, signingCertUrl: 'http://cp/cert.pem' },
    );
    expect(m.SignatureVersion).toBe('1');
    expect(m.SigningCertURL).toBe('http://cp/cert.pem');
    const cert = new X509Certificate(key.certificatePem);
    const check = (msg: typeof m) => verify('sha1', Buffer.from(canonicalString(msg)), cert.publicKey, Buffer.from(m.Signature, 'base64'));
    expect(check(m)).toBe(true);
    expect(check({ ...m, Message: 'tampered' })).toBe(false);
    const again = await loadSnsSigningKey({ dir, logger: silentLogger() });
    expect(again.certificatePem).toBe(key.certificatePem);

    const body = JSON.stringify(m);
    const headers = deliveryHeaders(m, `${base.TopicArn}:sub-1`, body);
    expect(headers).toMatchObject({
      'content-type': 'text/plain; charset=UTF-8',
      'x-amz-sns-message-type': 'Notification',
      'x-amz-sns-message-id': 'm-1',
      'x-amz-sns-topic-arn': base.TopicArn,
      'x-amz-sns-subscription-arn': `${base.TopicArn}:sub-1`,
      'content-length': String(Buffer.byteLength(body)),
    });
  });
});
