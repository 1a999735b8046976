/**
 * The local SNS on the control plane's port, as users drive it: @aws-sdk/client-sns and the aws CLI
 * v2 (/usr/bin/aws, skipped where absent) next to ELBv2's Query API on the same `POST /`; a real
 * HTTP subscriber that confirms through SubscribeURL and checks signatures; UnsubscribeURL; SNS's
 * error codes; and topics and subscriptions surviving a restart.
 */
import { join } from 'node:path';
import {
  CreateTopicCommand,
  DeleteTopicCommand,
  GetTopicAttributesCommand,
  ListSubscriptionsByTopicCommand,
  ListSubscriptionsCommand,
  ListTopicsCommand,
  PublishCommand,
  SNSClient,
  SubscribeCommand,
} from '@aws-sdk/client-sns';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { ControlPlane } from '../../../control-plane/server.js';
import { awsCli, hasAwsCli } from '../../helpers/aws-cli.js';
import { LOCAL_CREDENTIALS, startTestControlPlane } from '../../helpers/control-plane.js';
import { suiteTempDir, tempDir } from '../../helpers/temp.js';
import { waitFor } from '../../helpers/wait-for.js';
import { startSnsReceiver, type SnsReceiver } from './sns-receiver.js';

const receivers: SnsReceiver[] = [];
let cp: ControlPlane | undefined;
afterEach(async () => {
  await cp?.close();
  cp = undefined;
  while (receivers.length > 0) await receivers.pop()?.close();
});
afterAll(async () => cp?.close());

const sns = (url: string) => new SNSClient({ endpoint: url, region: 'us-east-1', credentials: LOCAL_CREDENTIALS, maxAttempts: 1 });
const receiver = async (o?: Parameters<typeof startSnsReceiver>[0]) => {
  const r = await startSnsReceiver(o);
  receivers.push(r);
  return r;
};

describe('the local SNS', () => {
  it('topics, a confirmed HTTP subscription, signed notifications, errors, UnsubscribeURL, and a restart', async () => {
    const dataDir = join(await suiteTempDir('cda-sns-'), 'data');
    cp = await startTestControlPlane({ dataDir });
    const client = sns(cp.url);
    const { TopicArn } = await client.send(new CreateTopicCommand({ Name: 'deploys', Attributes: { DisplayName: 'Deploys' } }));
    expect(TopicArn).toBe('arn:aws:sns:us-east-1:000000000000:deploys');
    expect((await client.send(new CreateTopicCommand({ Name: 'deploys' }))).TopicArn).toBe(TopicArn);
    expect((await client.send(new ListTopicsCommand({}))).Topics).toEqual([{ TopicArn }]);

    const r = await receiver();
    const sub = await client.send(new SubscribeCommand({ TopicArn, Protocol: 'http', Endpoint: r.url, ReturnSubscriptionArn: true }));
    expect(sub.SubscriptionArn).toMatch(/^arn:aws:sns:us-east-1:000000000000:deploys:[0-9a-f-]{36}$/);
    await waitFor(
      'the subscription to be confirmed',
      async () => {
        const list = await client.send(new ListSubscriptionsByTopicCommand({ TopicArn }));
        return list.Subscriptions?.[0]?.SubscriptionArn === sub.SubscriptionArn;
      },
      { timeoutMs: 10_000 },
    );
    const confirmation = r.messages[0];
    expect(confirmation?.type).toBe('SubscriptionConfirmation');
    expect(confirmation?.verified).toBe(true);
    expect(confirmation?.body['SubscribeURL']).toMatch(new RegExp(`^${cp.url}/\\?Action=ConfirmSubscription&TopicArn=`));
    expect(confirmation?.headers['x-amz-sns-message-type']).toBe('SubscriptionConfirmation');
    expect(confirmation?.headers['content-type']).toBe('text/plain; charset=UTF-8');

    const attributes = (await client.send(new GetTopicAttributesCommand({ TopicArn }))).Attributes;
    expect(attributes).toMatchObject({ TopicArn, DisplayName: 'Deploys', SubscriptionsConfirmed: '1', SubscriptionsPending: '0' });

    const { MessageId } = await client.send(new PublishCommand({ TopicArn, Subject: 'Hello', Message: 'first message' }));
    await waitFor('the notification', () => r.notifications().length === 1, { timeoutMs: 10_000 });
    const n = r.notifications()[0];
    expect(n).toMatchObject({ type: 'Notification', messageId: MessageId, subject: 'Hello', message: 'first message', verified: true });
    expect(n?.headers).toMatchObject({
      'x-amz-sns-message-type': 'Notification',
      'x-amz-sns-message-id': MessageId,
      'x-amz-sns-topic-arn': TopicArn,
      'x-amz-sns-subscription-arn': sub.SubscriptionArn,
    });
    expect(n?.body['SigningCertURL']).toBe(`${cp.url}/_sns/SimpleNotificationService.pem`);

    // SNS's errors, as the SDK sees them.
    const missing = 'arn:aws:sns:us-east-1:000000000000:nope';
    await expect(client.send(new GetTopicAttributesCommand({ TopicArn: missing }))).rejects.toMatchObject({
      name: 'NotFoundException',
      $metadata: { httpStatusCode: 404 },
    });
    await expect(client.send(new SubscribeCommand({ TopicArn, Protocol: 'email', Endpoint: 'a@b.c' }))).rejects.toMatchObject({
      name: 'InvalidParameterException',
      message: expect.stringContaining('use http or https'),
    });
    await expect(client.send(new CreateTopicCommand({ Name: 'bad name!' }))).rejects.toMatchObject({ name: 'InvalidParameterException' });

    // A restart keeps the topic and the confirmed subscription.
    await cp.close();
    cp = await startTestControlPlane({ dataDir });
    const again = sns(cp.url);
    expect((await again.send(new ListSubscriptionsCommand({}))).Subscriptions).toEqual([
      { SubscriptionArn: sub.SubscriptionArn, Owner: '000000000000', Protocol: 'http', Endpoint: r.url, TopicArn },
    ]);
    await again.send(new PublishCommand({ TopicArn, Message: 'after the restart' }));
    await waitFor('the notification after the restart', () => r.notifications().length === 2, { timeoutMs: 10_000 });
    expect(r.notifications()[1]).toMatchObject({ message: 'after the restart', verified: true });

    // The UnsubscribeURL works with a plain GET, as SNS's does.
    const unsubscribe = await fetch(r.notifications()[1]?.body['UnsubscribeURL'] ?? '');
    expect(unsubscribe.status).toBe(200);
    expect(await unsubscribe.text()).toContain('<UnsubscribeResponse');
    expect((await again.send(new ListSubscriptionsCommand({}))).Subscriptions).toEqual([]);
    await again.send(new DeleteTopicCommand({ TopicArn }));
    await again.send(new DeleteTopicCommand({ TopicArn }));
    expect((await again.send(new ListTopicsCommand({}))).Topics).toEqual([]);
  });

  it.skipIf(!hasAwsCli)(
    'aws sns and aws elbv2 share the port',
    async () => {
      cp = await startTestControlPlane();
      const home = await tempDir('cda-sns-home-');
      const url = cp.url;
      const aws = awsCli(url, home);
      const created = await aws('sns', 'create-topic', '--name', 'cli-topic');
      expect(created.code).toBe(0);
      const topicArn = (JSON.parse(created.stdout) as { TopicArn: string }).TopicArn;
      expect(topicArn).toBe('arn:aws:sns:us-east-1:000000000000:cli-topic');
      const r = await receiver();
      expect((await aws('sns', 'subscribe', '--topic-arn', topicArn, '--protocol', 'http', '--notification-endpoint', r.url)).code).toBe(0);
      await waitFor('the confirmation', () => cp?.sns.listSubscriptions(topicArn)[0]?.confirmed === true, { timeoutMs: 10_000 });
      const published = await aws('sns', 'publish', '--topic-arn', topicArn, '--subject', 'From the CLI', '--message', 'hi');
      expect(published.code).toBe(0);
      await waitFor('the notification', () => r.notifications().length === 1, { timeoutMs: 10_000 });
      expect(r.notifications()[0]).toMatchObject({ subject: 'From the CLI', message: 'hi', verified: true });
      const listed = JSON.parse((await aws('sns', 'list-subscriptions-by-topic', '--topic-arn', topicArn)).stdout) as {
        Subscriptions: { Endpoint: string }[];
      };
      expect(listed.Subscriptions.map((s) => s.Endpoint)).toEqual([r.url]);
      const missing = await aws('sns', 'get-topic-attributes', '--topic-arn', 'arn:aws:sns:us-east-1:000000000000:none');
      expect(missing.code).toBe(254);
      expect(missing.stderr).toContain('NotFound');

      // ELBv2 on the same POST / still answers.
      const tg = await aws('elbv2', 'create-target-group', '--name', 'cli-web', '--protocol', 'HTTP', '--port', '80');
      expect(tg.code).toBe(0);
      const described = JSON.parse((await aws('elbv2', 'describe-target-groups')).stdout) as {
        TargetGroups: { TargetGroupName: string }[];
      };
      expect(described.TargetGroups.map((g) => g.TargetGroupName)).toEqual(['cli-web']);
    },
    60_000,
  );
});
