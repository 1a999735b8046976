/**
 * Test helper: an SNS HTTP(S) subscriber as real consumers write one, on node:http and port 0. It
 * answers a SubscriptionConfirmation and then GETs its SubscribeURL; it checks every message's
 * signature the way consumer libraries do (certificate fetched from SigningCertURL, SHA1withRSA
 * over the canonical string rebuilt from the body) and records what it accepted. It can answer 500
 * to its first `failFirst` notifications, or never answer notifications (`hangNotifications`).
 */
import { verify, X509Certificate } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedMessage {
  type: string;
  messageId: string;
  subject?: string;
  message: string;
  body: Record<string, string>;
  headers: http.IncomingHttpHeaders;
  /** The signature checked out against the certificate at SigningCertURL. */
  verified: boolean;
}

export interface SnsReceiver {
  url: string;
  /** Accepted messages (answered 2xx), first delivery of each MessageId, in arrival order. */
  messages: ReceivedMessage[];
  notifications(): ReceivedMessage[];
  /** POSTs received, failed ones and retries included. */
  posts: number;
  /** Notifications held open without an answer. */
  held: number;
  close(): Promise<void>;
}

const FIELDS: Record<string, string[]> = {
  Notification: ['Message', 'MessageId', 'Subject', 'Timestamp', 'TopicArn', 'Type'],
  SubscriptionConfirmation: ['Message', 'MessageId', 'SubscribeURL', 'Timestamp', 'Token', 'TopicArn', 'Type'],
};

export async function startSnsReceiver(opts: { failFirst?: number; hangNotifications?: boolean } = {}): Promise<SnsReceiver> {
  const certificates = new Map<string, X509Certificate>();
  const seen = new Set<string>();
  let failed = 0;
  const received: SnsReceiver = {
    url: '',
    messages: [],
    notifications: () => received.messages.filter((m) => m.type === 'Notification'),
    posts: 0,
    held: 0,
    close: async () => undefined,
  };

  const verifyMessage = async (body: Record<string, string>): Promise<boolean> => {
    const certUrl = body['SigningCertURL'] ?? '';
    let cert = certificates.get(certUrl);
    if (!cert) {
      const res = await fetch(certUrl);
      if (!res.ok) return false;
      cert = new X509Certificate(await res.text());
      certificates.set(certUrl, cert);
    }
    const fields = FIELDS[body['Type'] ?? ''] ?? [];
    const text = fields
      .filter((f) => body[f] !== undefined)
      .map((f) => `${f}\n${body[f]}\n`)
      .join('');
    return (
      body['SignatureVersion'] === '1' && verify('sha1', Buffer.from(text), cert.publicKey, Buffer.from(body['Signature'] ?? '', 'base64'))
    );
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        received.posts++;
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, string>;
        const type = body['Type'] ?? '';
        if (type === 'Notification' && failed < (opts.failFirst ?? 0)) {
          failed++;
          return void res.writeHead(500).end('not yet');
        }
        if (type === 'Notification' && opts.hangNotifications) {
          received.held++;
          return; // never answered
        }
        const verified = await verifyMessage(body);
        res.writeHead(200).end();
        const id = body['MessageId'] ?? '';
        if (seen.has(id)) return;
        seen.add(id);
        received.messages.push({
          type,
          messageId: id,
          subject: body['Subject'],
          message: body['Message'] ?? '',
          body,
          headers: req.headers,
          verified,
        });
        if (type === 'SubscriptionConfirmation') await fetch(body['SubscribeURL'] ?? '');
      })();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  received.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/sns`;
  received.close = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  return received;
}
