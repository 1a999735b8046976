/**
 * The SNS Query API of the local SNS (sns-service.ts) on the control plane's one port: what
 * `aws sns ... --endpoint-url` and @aws-sdk/client-sns send, a form POST to `/` with `Action` and
 * `Version=2010-03-31`, answered in SNS's XML (sns-wire.ts). It shares `POST /` with the ELBv2
 * Query API and is asked first: it takes a request signed for the `sns` service (the SigV4
 * credential scope, so the body need not be read to decide), or one whose URL says
 * `Version=2010-03-31`. It also answers the GETs a subscriber makes: SubscribeURL
 * (`/?Action=ConfirmSubscription&TopicArn=…&Token=…`), UnsubscribeURL
 * (`/?Action=Unsubscribe&SubscriptionArn=…`) and the signing certificate (SIGNING_CERT_PATH).
 * Like the other APIs, signatures are not checked: the control plane is a local tool.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { readBoundedBody } from '../http/bounded-body.js';
import type { HttpHandler } from '../http/route.js';
import { clip } from '../log/clip.js';
import type { QueryInput } from '../traffic/elbv2-wire.js';
import type { SnsService } from './sns-service.js';
import { SIGNING_CERT_PATH } from './sns-signing.js';
import { entryMap, isSnsRequest, parseSnsQuery, SNS_VERSION, SnsError, snsErrorXml, snsResultXml, str, type SnsXml } from './sns-wire.js';

/** Form bodies larger than this are refused (a Publish of the largest message, form-encoded, fits). */
const MAX_BODY_BYTES = 1024 * 1024;
const PAGE = 100;
/** Actions a subscriber may GET without a Version (SubscribeURL, UnsubscribeURL). */
const LINK_ACTIONS = new Set(['ConfirmSubscription', 'Unsubscribe']);

type Result = { [key: string]: SnsXml } | undefined;
type Action = (input: QueryInput) => Result;

export function createSnsHandler(opts: { service: SnsService; logger: Logger }): HttpHandler {
  const actions = snsActions(opts.service);
  const log = opts.logger;
  return async (req, res) => {
    const [path, search = ''] = (req.url ?? '').split('?', 2) as [string, string?];
    if (req.method === 'GET' && path === SIGNING_CERT_PATH) {
      const body = opts.service.certificatePem;
      res.writeHead(200, { 'content-type': 'application/x-pem-file', 'content-length': Buffer.byteLength(body) });
      res.end(body);
      return true;
    }
    if (path !== '/' || req.headers['x-amz-target'] !== undefined) return false;
    let text: () => Promise<string>;
    if (req.method === 'GET') {
      const query = new URLSearchParams(search);
      const action = query.get('Action') ?? '';
      if (!(query.get('Version') === SNS_VERSION || (LINK_ACTIONS.has(action) && !query.has('Version')))) return false;
      text = () => Promise.resolve(search);
    } else if (req.method === 'POST') {
      if (!String(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded') || !isSnsRequest(req)) return false;
      text = () => readForm(req, res);
    } else return false;

    const requestId = randomUUID();
    let action = '';
    try {
      const input = parseSnsQuery(await text());
      action = str(input, 'Action') ?? '';
      if (!action) throw new SnsError('MissingAction', 'The request must contain the parameter Action');
      const version = str(input, 'Version');
      if (version !== undefined && version !== SNS_VERSION)
        throw new SnsError('InvalidParameterValue', `Version ${clip(version, 50)} is not supported here: use ${SNS_VERSION} (SNS)`);
      const run = Object.hasOwn(actions, action) ? actions[action] : undefined;
      if (!run)
        throw new SnsError(
          'InvalidAction',
          `The action ${clip(action, 100)} is not valid for this web service, or not implemented by the local SNS. Supported: ${Object.keys(actions).sort().join(', ')}`,
        );
      send(res, 200, snsResultXml(action, run(input), requestId), requestId);
    } catch (err) {
      if (err instanceof SnsError) {
        log.info({ action: clip(action, 100), code: err.code, message: clip(err.message, 400) }, 'SNS request refused');
        send(res, err.status, snsErrorXml(err.code, err.message, requestId), requestId);
      } else {
        log.error({ err, action: clip(action, 100) }, 'SNS request failed');
        const message = `Internal error in the local SNS (request ${requestId}); see the control plane's log.`;
        send(res, 500, snsErrorXml('InternalError', message, requestId, 'Receiver'), requestId);
      }
    }
    return true;
  };
}

function send(res: ServerResponse, status: number, body: string, requestId: string): void {
  if (res.headersSent) return void res.destroy();
  res.writeHead(status, { 'content-type': 'text/xml', 'content-length': Buffer.byteLength(body), 'x-amzn-requestid': requestId });
  res.end(body);
}

/** The form body, at most MAX_BODY_BYTES (past that: a 413 answered on a connection then closed). */
async function readForm(req: IncomingMessage, res: ServerResponse): Promise<string> {
  const body = await readBoundedBody(req, res, MAX_BODY_BYTES);
  if (!body) throw new SnsError('RequestEntityTooLarge', `The request body is larger than ${MAX_BODY_BYTES} bytes`, 413);
  return body.toString('utf8');
}

/** One page of `items` from NextToken (an offset written as a number). */
function paged<T>(items: T[], input: QueryInput): { items: T[]; next?: string } {
  const token = str(input, 'NextToken');
  const start = token === undefined ? 0 : Number(token);
  if (!Number.isInteger(start) || start < 0 || start > items.length) throw new SnsError('InvalidParameter', 'Invalid parameter: NextToken');
  const end = start + PAGE;
  return { items: items.slice(start, end), ...(end < items.length ? { next: String(end) } : {}) };
}

function snsActions(service: SnsService): Record<string, Action> {
  const required = (input: QueryInput, name: string) => str(input, name, true) as string;
  const subscriptionXml = (s: ReturnType<SnsService['listSubscriptions']>[number], accountId: string): SnsXml => ({
    SubscriptionArn: s.confirmed ? s.arn : 'PendingConfirmation',
    Owner: accountId,
    Protocol: s.protocol,
    Endpoint: s.endpoint,
    TopicArn: s.topicArn,
  });
  const owner = (topicArn: string) => topicArn.split(':')[4] ?? '';
  return {
    CreateTopic: (input) => ({ TopicArn: service.createTopic(required(input, 'Name'), entryMap(input, 'Attributes')) }),
    DeleteTopic(input) {
      service.deleteTopic(required(input, 'TopicArn'));
      return undefined;
    },
    ListTopics(input) {
      const p = paged(service.listTopics(), input);
      return { Topics: p.items.map((TopicArn) => ({ TopicArn })), NextToken: p.next };
    },
    GetTopicAttributes: (input) => ({ Attributes: service.getTopicAttributes(required(input, 'TopicArn')) }),
    SetTopicAttributes(input) {
      service.setTopicAttribute(required(input, 'TopicArn'), required(input, 'AttributeName'), str(input, 'AttributeValue') ?? '');
      return undefined;
    },
    Subscribe(input) {
      const arn = service.subscribe({
        topicArn: required(input, 'TopicArn'),
        protocol: required(input, 'Protocol'),
        endpoint: required(input, 'Endpoint'),
        returnSubscriptionArn: str(input, 'ReturnSubscriptionArn') === 'true',
      });
      return { SubscriptionArn: arn };
    },
    ConfirmSubscription: (input) => ({
      SubscriptionArn: service.confirmSubscription(required(input, 'TopicArn'), required(input, 'Token')),
    }),
    Unsubscribe(input) {
      service.unsubscribe(required(input, 'SubscriptionArn'));
      return undefined;
    },
    ListSubscriptions(input) {
      const p = paged(service.listSubscriptions(), input);
      return { Subscriptions: p.items.map((s) => subscriptionXml(s, owner(s.topicArn))), NextToken: p.next };
    },
    ListSubscriptionsByTopic(input) {
      const p = paged(service.listSubscriptions(required(input, 'TopicArn')), input);
      return { Subscriptions: p.items.map((s) => subscriptionXml(s, owner(s.topicArn))), NextToken: p.next };
    },
    Publish(input) {
      const topicArn = str(input, 'TopicArn') ?? str(input, 'TargetArn');
      if (str(input, 'PhoneNumber') !== undefined)
        throw new SnsError(
          'InvalidParameter',
          'Invalid parameter: PhoneNumber (the local SNS delivers to HTTP(S) subscriptions of topics only)',
        );
      if (topicArn === undefined) throw new SnsError('InvalidParameter', 'Invalid parameter: TopicArn or TargetArn is required');
      const messageId = service.publish({
        topicArn,
        message: str(input, 'Message', true) as string,
        subject: str(input, 'Subject'),
        messageStructure: str(input, 'MessageStructure'),
      });
      return { MessageId: messageId };
    },
  };
}
