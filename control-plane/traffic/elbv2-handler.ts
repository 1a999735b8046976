/**
 * The Elastic Load Balancing v2 Query API over the local load balancers (ElbService): what
 * `aws elbv2 ... --endpoint-url` and `@aws-sdk/client-elastic-load-balancing-v2` send, a form
 * POST to `/` with `Action` and `Version=2015-12-01`, answered in ELBv2's XML (elbv2-wire.ts).
 * Like the JSON APIs, signatures are not checked: the control plane is a local tool.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { readBoundedBody } from '../http/bounded-body.js';
import type { HttpHandler } from '../http/route.js';
import { clip } from '../log/clip.js';
import {
  ElbError,
  type CreateTargetGroupInput,
  type ElbService,
  type ElbTag,
  type ListenerRecord,
  type LoadBalancerRecord,
  type TargetDescription,
  type TargetGroupRecord,
  type TargetHealthDescription,
} from './elb-model.js';
import {
  bool,
  ELBV2_VERSION,
  errorXml,
  int,
  obj,
  objList,
  parseQuery,
  resultXml,
  str,
  strList,
  type QueryInput,
  type XmlValue,
} from './elbv2-wire.js';

/** Form bodies larger than this are refused (the largest real request is a few KiB). */
const MAX_BODY_BYTES = 1024 * 1024;

type XmlResult = { [key: string]: XmlValue };
type Action = (input: QueryInput) => XmlResult | Promise<XmlResult>;

export function createElbv2Handler(opts: {
  service: ElbService;
  logger: Logger;
  /** Requests of another Query API on the same `POST /` (SNS: sns/sns-wire.ts isSnsRequest), left to its handler. */
  decline?: (req: IncomingMessage) => boolean;
}): HttpHandler {
  const actions = elbv2Actions(opts.service);
  const log = opts.logger;
  return async (req, res) => {
    if (req.method !== 'POST' || req.headers['x-amz-target'] !== undefined || opts.decline?.(req)) return false;
    if ((req.url ?? '').split('?')[0] !== '/') return false;
    if (!String(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) return false;
    const requestId = randomUUID();
    let action = '';
    try {
      const input = parseQuery(await readForm(req, res));
      action = str(input, 'Action') ?? '';
      if (!action) throw new ElbError('MissingAction', 'The request must contain the parameter Action');
      const version = str(input, 'Version');
      if (version === undefined) throw new ElbError('MissingParameter', 'The request must contain the parameter Version');
      if (version !== ELBV2_VERSION)
        throw new ElbError(
          'InvalidParameterValue',
          `Version ${clip(version, 50)} is not supported here: use ${ELBV2_VERSION} (Elastic Load Balancing v2)`,
        );
      const run = Object.hasOwn(actions, action) ? actions[action] : undefined;
      if (!run)
        throw new ElbError(
          'InvalidAction',
          `The action ${clip(action, 100)} is not valid for this web service, or not implemented by the local load balancers. Supported: ${Object.keys(actions).sort().join(', ')}`,
        );
      const result = await run(input);
      send(res, 200, resultXml(action, result, requestId), requestId);
    } catch (err) {
      if (err instanceof ElbError) {
        log.info({ action: clip(action, 100), code: err.code, message: clip(err.message, 400) }, 'ELBv2 request refused');
        send(res, err.status, errorXml(err.code, err.message, requestId), requestId);
      } else {
        log.error({ err, action: clip(action, 100) }, 'ELBv2 request failed');
        send(
          res,
          500,
          errorXml(
            'InternalFailure',
            `Internal error in the local load balancers (request ${requestId}); see the control plane's log.`,
            requestId,
            'Receiver',
          ),
          requestId,
        );
      }
    }
    return true;
  };
}

function send(res: ServerResponse, status: number, body: string, requestId: string): void {
  if (res.headersSent) return void res.destroy();
  res.writeHead(status, {
    'content-type': 'text/xml',
    'content-length': Buffer.byteLength(body),
    'x-amzn-requestid': requestId,
  });
  res.end(body);
}

/** The form body, at most MAX_BODY_BYTES (past that: a 413 ValidationError, on a connection then closed). */
async function readForm(req: IncomingMessage, res: ServerResponse): Promise<string> {
  const body = await readBoundedBody(req, res, MAX_BODY_BYTES);
  if (!body) throw new ElbError('ValidationError', `The request body is larger than ${MAX_BODY_BYTES} bytes`, 413);
  return body.toString('utf8');
}

function tagsOf(input: QueryInput, name = 'Tags'): ElbTag[] | undefined {
  return objList(input, name)?.map((t) => ({
    Key: str(t, 'Key', true) as string,
    ...(str(t, 'Value') !== undefined ? { Value: str(t, 'Value') } : {}),
  }));
}

function targetsOf(input: QueryInput, required: boolean): TargetDescription[] | undefined {
  const list = objList(input, 'Targets');
  if (!list) {
    if (required)
      throw new ElbError(
        'ValidationError',
        "1 validation error detected: Value null at 'targets' failed to satisfy constraint: Member must not be null",
      );
    return undefined;
  }
  return list.map((t) => ({ Id: str(t, 'Id', true) as string, ...(int(t, 'Port') !== undefined ? { Port: int(t, 'Port') } : {}) }));
}

function healthCheckInput(input: QueryInput): Partial<CreateTargetGroupInput> {
  const matcher = obj(input, 'Matcher');
  const out: Partial<CreateTargetGroupInput> = {
    HealthCheckProtocol: str(input, 'HealthCheckProtocol'),
    HealthCheckPath: str(input, 'HealthCheckPath'),
    HealthCheckPort: str(input, 'HealthCheckPort'),
    HealthCheckEnabled: bool(input, 'HealthCheckEnabled'),
    HealthCheckIntervalSeconds: int(input, 'HealthCheckIntervalSeconds'),
    HealthCheckTimeoutSeconds: int(input, 'HealthCheckTimeoutSeconds'),
    HealthyThresholdCount: int(input, 'HealthyThresholdCount'),
    UnhealthyThresholdCount: int(input, 'UnhealthyThresholdCount'),
    ...(matcher ? { Matcher: { HttpCode: str(matcher, 'HttpCode') } } : {}),
  };
  for (const k of Object.keys(out) as (keyof typeof out)[]) if (out[k] === undefined) delete out[k];
  return out;
}

const targetGroupXml = (tg: TargetGroupRecord): XmlResult => ({
  TargetGroupArn: tg.TargetGroupArn,
  TargetGroupName: tg.TargetGroupName,
  Protocol: tg.Protocol,
  Port: tg.Port,
  VpcId: tg.VpcId,
  HealthCheckProtocol: tg.HealthCheckProtocol,
  HealthCheckPort: tg.HealthCheckPort,
  HealthCheckEnabled: tg.HealthCheckEnabled,
  HealthCheckIntervalSeconds: tg.HealthCheckIntervalSeconds,
  HealthCheckTimeoutSeconds: tg.HealthCheckTimeoutSeconds,
  HealthyThresholdCount: tg.HealthyThresholdCount,
  UnhealthyThresholdCount: tg.UnhealthyThresholdCount,
  HealthCheckPath: tg.HealthCheckPath,
  Matcher: { HttpCode: tg.Matcher.HttpCode },
  LoadBalancerArns: tg.LoadBalancerArns,
  TargetType: tg.TargetType,
  ProtocolVersion: 'HTTP1',
  IpAddressType: 'ipv4',
});

const loadBalancerXml = (lb: LoadBalancerRecord): XmlResult => ({
  LoadBalancerArn: lb.LoadBalancerArn,
  DNSName: lb.DNSName,
  CanonicalHostedZoneId: lb.CanonicalHostedZoneId,
  CreatedTime: new Date(lb.CreatedTime),
  LoadBalancerName: lb.LoadBalancerName,
  Scheme: lb.Scheme,
  VpcId: lb.VpcId,
  State: { Code: lb.State.Code, Reason: lb.State.Reason },
  Type: lb.Type,
  IpAddressType: lb.IpAddressType,
});

const listenerXml = (l: ListenerRecord): XmlResult => ({
  ListenerArn: l.ListenerArn,
  LoadBalancerArn: l.LoadBalancerArn,
  Port: l.Port,
  Protocol: l.Protocol,
  DefaultActions: l.DefaultActions.map((a) => ({ Type: a.Type, TargetGroupArn: a.TargetGroupArn })),
});

const healthXml = (h: TargetHealthDescription): XmlResult => ({
  Target: { Id: h.Target.Id, Port: h.Target.Port },
  HealthCheckPort: h.HealthCheckPort,
  TargetHealth: { State: h.TargetHealth.State, Reason: h.TargetHealth.Reason, Description: h.TargetHealth.Description },
});

/** PageSize (1-400) is checked; every page is the whole list (no NextMarker). */
function checkPageSize(input: QueryInput): void {
  const size = int(input, 'PageSize');
  if (size !== undefined && (size < 1 || size > 400)) throw new ElbError('ValidationError', `PageSize must be from 1 to 400, got ${size}`);
}

function elbv2Actions(service: ElbService): Record<string, Action> {
  const arn = (input: QueryInput, name: string) => str(input, name, true) as string;
  return {
    CreateTargetGroup(input) {
      const tg = service.createTargetGroup({
        Name: str(input, 'Name', true) as string,
        Protocol: str(input, 'Protocol'),
        Port: int(input, 'Port'),
        VpcId: str(input, 'VpcId'),
        TargetType: str(input, 'TargetType'),
        ...healthCheckInput(input),
        Tags: tagsOf(input),
      });
      return { TargetGroups: [targetGroupXml(tg)] };
    },
    DescribeTargetGroups(input) {
      checkPageSize(input);
      const groups = service.describeTargetGroups({
        TargetGroupArns: strList(input, 'TargetGroupArns'),
        Names: strList(input, 'Names'),
        LoadBalancerArn: str(input, 'LoadBalancerArn'),
      });
      return { TargetGroups: groups.map(targetGroupXml) };
    },
    ModifyTargetGroup(input) {
      const tg = service.modifyTargetGroup({ TargetGroupArn: arn(input, 'TargetGroupArn'), ...healthCheckInput(input) });
      return { TargetGroups: [targetGroupXml(tg)] };
    },
    DeleteTargetGroup(input) {
      service.deleteTargetGroup(arn(input, 'TargetGroupArn'));
      return {};
    },
    DescribeTargetGroupAttributes(input) {
      return { Attributes: service.describeTargetGroupAttributes(arn(input, 'TargetGroupArn')) };
    },
    ModifyTargetGroupAttributes(input) {
      const attributes = (objList(input, 'Attributes') ?? []).map((a) => ({
        Key: str(a, 'Key', true) as string,
        Value: str(a, 'Value') ?? '',
      }));
      return { Attributes: service.modifyTargetGroupAttributes(arn(input, 'TargetGroupArn'), attributes) };
    },
    RegisterTargets(input) {
      service.registerTargets(arn(input, 'TargetGroupArn'), targetsOf(input, true) as TargetDescription[]);
      return {};
    },
    DeregisterTargets(input) {
      service.deregisterTargets(arn(input, 'TargetGroupArn'), targetsOf(input, true) as TargetDescription[]);
      return {};
    },
    DescribeTargetHealth(input) {
      return {
        TargetHealthDescriptions: service.describeTargetHealth(arn(input, 'TargetGroupArn'), targetsOf(input, false)).map(healthXml),
      };
    },
    CreateLoadBalancer(input) {
      const lb = service.createLoadBalancer({
        Name: str(input, 'Name', true) as string,
        Scheme: str(input, 'Scheme'),
        Type: str(input, 'Type'),
        Subnets: strList(input, 'Subnets'),
        Tags: tagsOf(input),
      });
      return { LoadBalancers: [loadBalancerXml(lb)] };
    },
    DescribeLoadBalancers(input) {
      checkPageSize(input);
      const lbs = service.describeLoadBalancers({ LoadBalancerArns: strList(input, 'LoadBalancerArns'), Names: strList(input, 'Names') });
      return { LoadBalancers: lbs.map(loadBalancerXml) };
    },
    async DeleteLoadBalancer(input) {
      await service.deleteLoadBalancer(arn(input, 'LoadBalancerArn'));
      return {};
    },
    async CreateListener(input) {
      const listener = await service.createListener({
        LoadBalancerArn: arn(input, 'LoadBalancerArn'),
        Protocol: str(input, 'Protocol'),
        Port: int(input, 'Port', true) as number,
        DefaultActions: (objList(input, 'DefaultActions') ?? []).map((a) => ({
          Type: str(a, 'Type', true) as string,
          TargetGroupArn: str(a, 'TargetGroupArn'),
        })),
      });
      return { Listeners: [listenerXml(listener)] };
    },
    DescribeListeners(input) {
      checkPageSize(input);
      const listeners = service.describeListeners({
        LoadBalancerArn: str(input, 'LoadBalancerArn'),
        ListenerArns: strList(input, 'ListenerArns'),
      });
      return { Listeners: listeners.map(listenerXml) };
    },
    async DeleteListener(input) {
      await service.deleteListener(arn(input, 'ListenerArn'));
      return {};
    },
    AddTags(input) {
      service.addTags(strList(input, 'ResourceArns') ?? [], tagsOf(input) ?? []);
      return {};
    },
    RemoveTags(input) {
      service.removeTags(strList(input, 'ResourceArns') ?? [], strList(input, 'TagKeys') ?? []);
      return {};
    },
    DescribeTags(input) {
      const descriptions = service.describeTags(strList(input, 'ResourceArns') ?? []);
      return {
        TagDescriptions: descriptions.map((d) => ({
          ResourceArn: d.ResourceArn,
          Tags: d.Tags.map((t) => ({ Key: t.Key, Value: t.Value })),
        })),
      };
    },
  };
}
