/**
 * The ELBv2 input rules of the local load balancers, pure: names, ports, health check settings
 * (defaults and ranges of the Application Load Balancer guide), the Matcher's HttpCode, target
 * group attributes, tags, target ids and the `local:traffic-address` tag. Every refusal is an
 * ElbError with the code the real service gives (ValidationError unless said otherwise) and a
 * message that says what is wrong and how to fix it.
 */
import { isIP } from 'node:net';
import { ElbError, type CreateTargetGroupInput, type ElbTag, type TargetGroupRecord } from './elb-model.js';
import { TRAFFIC_ADDRESS_TAG } from './traffic-port.js';

/** The Application Load Balancer's defaults for HTTP target groups. */
export const HEALTH_CHECK_DEFAULTS = {
  HealthCheckPath: '/',
  HealthCheckPort: 'traffic-port',
  HealthCheckEnabled: true,
  HealthCheckIntervalSeconds: 30,
  HealthCheckTimeoutSeconds: 5,
  HealthyThresholdCount: 5,
  UnhealthyThresholdCount: 2,
  Matcher: '200',
} as const;

export const DEFAULT_DEREGISTRATION_DELAY_SECONDS = 300;
export const MAX_DEREGISTRATION_DELAY_SECONDS = 3600;
const MAX_TAGS = 50;

/** The API's lower bounds are 5 s (interval) and 2 s (timeout); tests lower them to keep checks fast. */
export interface HealthCheckLimits {
  /** Default 5. Below 1, fractional seconds are accepted (tests only). */
  minIntervalSeconds: number;
}

export const API_HEALTH_CHECK_LIMITS: HealthCheckLimits = { minIntervalSeconds: 5 };

export type HealthCheckFields = Pick<
  TargetGroupRecord,
  | 'HealthCheckProtocol'
  | 'HealthCheckPath'
  | 'HealthCheckPort'
  | 'HealthCheckEnabled'
  | 'HealthCheckIntervalSeconds'
  | 'HealthCheckTimeoutSeconds'
  | 'HealthyThresholdCount'
  | 'UnhealthyThresholdCount'
  | 'Matcher'
>;

const invalid = (message: string): ElbError => new ElbError('ValidationError', message);

const NAME = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,30}[A-Za-z0-9])?$/;

/** Target group and load balancer names: 1-32 letters, digits and hyphens, no hyphen at either end. */
export function validateName(kind: 'target group' | 'load balancer', name: unknown): string {
  if (typeof name !== 'string' || name.length === 0)
    throw invalid(`A ${kind} name is required (Name): give 1-32 letters, digits or hyphens`);
  if (!NAME.test(name))
    throw invalid(
      `The ${kind} name '${clipText(name)}' is not valid: use 1-32 letters, digits and hyphens, not starting or ending with a hyphen`,
    );
  if (kind === 'load balancer' && name.toLowerCase().startsWith('internal-'))
    throw invalid(`The load balancer name '${name}' cannot start with 'internal-': choose another name`);
  return name;
}

export function validatePort(what: string, port: unknown): number {
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535)
    throw invalid(`${what} must be a whole number from 1 to 65535, not ${String(port)}`);
  return port;
}

/** Only HTTP exists here (default HTTP); HTTPS, TCP and the rest are refused with a pointer to HTTP. */
export function validateProtocol(what: string, protocol: unknown): 'HTTP' {
  if (protocol === undefined || protocol === 'HTTP') return 'HTTP';
  throw invalid(`${what} '${String(protocol)}' is not supported by the local load balancers: use HTTP`);
}

function wholeInRange(what: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max)
    throw invalid(`${what} must be a whole number from ${min} to ${max}, not ${String(value)}`);
  return value;
}

function secondsInRange(what: string, value: unknown, min: number, max: number, fractional: boolean): number {
  const ok = typeof value === 'number' && Number.isFinite(value) && (fractional || Number.isInteger(value));
  if (!ok || value < min || value > max)
    throw invalid(`${what} must be a whole number of seconds from ${min} to ${max}, not ${String(value)}`);
  return value;
}

/** One range of Matcher.HttpCode, inclusive. */
export interface CodeRange {
  from: number;
  to: number;
}

/** Matcher.HttpCode: "200", "200,302" or "200-299" (ALB over HTTP: codes 200 to 499). */
export function parseMatcher(httpCode: string): CodeRange[] {
  const fail = (): ElbError =>
    invalid(`Matcher HttpCode '${clipText(httpCode)}' is not valid: use codes from 200 to 499, e.g. '200', '200,302' or '200-299'`);
  if (typeof httpCode !== 'string' || httpCode.trim() === '') throw fail();
  return httpCode.split(',').map((part) => {
    const m = /^\s*(\d{3})(?:\s*-\s*(\d{3}))?\s*$/.exec(part);
    if (!m) throw fail();
    const from = Number(m[1]);
    const to = m[2] === undefined ? from : Number(m[2]);
    if (from < 200 || to > 499 || from > to) throw fail();
    return { from, to };
  });
}

export function matches(ranges: readonly CodeRange[], status: number): boolean {
  return ranges.some((r) => status >= r.from && status <= r.to);
}

/**
 * The health check settings of a target group: `input`'s fields over `base` (the group's current
 * settings, or the defaults for a new group), each checked, then the timeout against the interval.
 */
export function resolveHealthCheck(
  input: Partial<CreateTargetGroupInput>,
  base: HealthCheckFields | undefined,
  limits: HealthCheckLimits,
): HealthCheckFields {
  const d = base ?? {
    HealthCheckProtocol: 'HTTP' as const,
    HealthCheckPath: HEALTH_CHECK_DEFAULTS.HealthCheckPath,
    HealthCheckPort: HEALTH_CHECK_DEFAULTS.HealthCheckPort,
    HealthCheckEnabled: HEALTH_CHECK_DEFAULTS.HealthCheckEnabled,
    HealthCheckIntervalSeconds: HEALTH_CHECK_DEFAULTS.HealthCheckIntervalSeconds,
    HealthCheckTimeoutSeconds: HEALTH_CHECK_DEFAULTS.HealthCheckTimeoutSeconds,
    HealthyThresholdCount: HEALTH_CHECK_DEFAULTS.HealthyThresholdCount,
    UnhealthyThresholdCount: HEALTH_CHECK_DEFAULTS.UnhealthyThresholdCount,
    Matcher: { HttpCode: HEALTH_CHECK_DEFAULTS.Matcher },
  };
  const fractional = limits.minIntervalSeconds < 1;
  const minInterval = limits.minIntervalSeconds;
  const minTimeout = Math.min(2, minInterval / 2);
  const path = input.HealthCheckPath ?? d.HealthCheckPath;
  if (typeof path !== 'string' || !path.startsWith('/') || path.length > 1024 || /[\s]/.test(path))
    throw invalid(
      `HealthCheckPath '${clipText(String(path))}' is not valid: give a path starting with '/' (at most 1024 characters, no spaces)`,
    );
  let port = input.HealthCheckPort ?? d.HealthCheckPort;
  if (port !== 'traffic-port') {
    const n = typeof port === 'string' && /^\d+$/.test(port) ? Number(port) : Number.NaN;
    port = String(validatePort(`HealthCheckPort ('traffic-port' or a port number)`, n));
  }
  const enabled = input.HealthCheckEnabled ?? d.HealthCheckEnabled;
  if (typeof enabled !== 'boolean') throw invalid('HealthCheckEnabled must be true or false');
  const interval = secondsInRange(
    'HealthCheckIntervalSeconds',
    input.HealthCheckIntervalSeconds ?? d.HealthCheckIntervalSeconds,
    minInterval,
    300,
    fractional,
  );
  const timeout = secondsInRange(
    'HealthCheckTimeoutSeconds',
    input.HealthCheckTimeoutSeconds ?? d.HealthCheckTimeoutSeconds,
    minTimeout,
    120,
    fractional,
  );
  if (timeout >= interval)
    throw invalid(
      `HealthCheckTimeoutSeconds (${timeout}) must be less than HealthCheckIntervalSeconds (${interval}): lower the timeout or raise the interval`,
    );
  const healthy = wholeInRange('HealthyThresholdCount', input.HealthyThresholdCount ?? d.HealthyThresholdCount, 2, 10);
  const unhealthy = wholeInRange('UnhealthyThresholdCount', input.UnhealthyThresholdCount ?? d.UnhealthyThresholdCount, 2, 10);
  const httpCode = input.Matcher?.HttpCode ?? d.Matcher.HttpCode;
  parseMatcher(httpCode);
  return {
    HealthCheckProtocol: validateProtocol('HealthCheckProtocol', input.HealthCheckProtocol ?? d.HealthCheckProtocol),
    HealthCheckPath: path,
    HealthCheckPort: port,
    HealthCheckEnabled: enabled,
    HealthCheckIntervalSeconds: interval,
    HealthCheckTimeoutSeconds: timeout,
    HealthyThresholdCount: healthy,
    UnhealthyThresholdCount: unhealthy,
    Matcher: { HttpCode: httpCode.replace(/\s+/g, '') },
  };
}

export function validateTargetType(value: unknown): 'instance' | 'ip' {
  if (value === undefined || value === 'instance' || value === 'ip') return value ?? 'instance';
  throw invalid(
    `TargetType '${String(value)}' is not supported by the local load balancers: use 'instance' (on-premises instance names) or 'ip'`,
  );
}

/** The target group attributes described; only deregistration_delay.timeout_seconds can change. */
export function targetGroupAttributes(deregistrationDelaySeconds: number): { Key: string; Value: string }[] {
  return [
    { Key: 'deregistration_delay.timeout_seconds', Value: String(deregistrationDelaySeconds) },
    { Key: 'stickiness.enabled', Value: 'false' },
    { Key: 'stickiness.type', Value: 'lb_cookie' },
    { Key: 'stickiness.lb_cookie.duration_seconds', Value: '86400' },
    { Key: 'load_balancing.algorithm.type', Value: 'round_robin' },
    { Key: 'slow_start.duration_seconds', Value: '0' },
  ];
}

/** The new deregistration delay after ModifyTargetGroupAttributes (attributes that are already so are accepted). */
export function applyTargetGroupAttributes(current: number, attributes: { Key: string; Value: string }[]): number {
  if (!Array.isArray(attributes) || attributes.length === 0) throw invalid('Attributes must list at least one attribute (Key and Value)');
  const fixed = new Map(targetGroupAttributes(current).map((a) => [a.Key, a.Value]));
  let delay = current;
  for (const a of attributes) {
    if (a.Key === 'deregistration_delay.timeout_seconds') {
      const n = /^\d+$/.test(a.Value ?? '') ? Number(a.Value) : Number.NaN;
      delay = wholeInRange('deregistration_delay.timeout_seconds', n, 0, MAX_DEREGISTRATION_DELAY_SECONDS);
    } else if (fixed.has(a.Key)) {
      if (fixed.get(a.Key) !== a.Value)
        throw invalid(
          `Attribute ${a.Key} can only be '${fixed.get(a.Key)}' on the local load balancers (round robin, no stickiness or slow start)`,
        );
    } else {
      throw invalid(
        `Attribute '${clipText(String(a.Key))}' is not supported by the local load balancers: only deregistration_delay.timeout_seconds can change`,
      );
    }
  }
  return delay;
}

/** Tags to add: keys 1-128 characters, not 'aws:', values up to 256, no key twice (DuplicateTagKeys). */
export function validateTags(tags: ElbTag[] | undefined): ElbTag[] {
  if (tags === undefined) return [];
  if (!Array.isArray(tags)) throw invalid('Tags must be a list of Key/Value pairs');
  const seen = new Set<string>();
  for (const t of tags) {
    if (typeof t?.Key !== 'string' || t.Key.length < 1 || t.Key.length > 128) throw invalid('Each tag needs a Key of 1-128 characters');
    if (t.Key.toLowerCase().startsWith('aws:')) throw invalid(`Tag keys starting with 'aws:' are reserved: rename '${clipText(t.Key)}'`);
    if (t.Value !== undefined && (typeof t.Value !== 'string' || t.Value.length > 256))
      throw invalid(`The value of tag '${clipText(t.Key)}' must be text of at most 256 characters`);
    if (seen.has(t.Key)) throw new ElbError('DuplicateTagKeys', `Tag key '${clipText(t.Key)}' is given more than once: give each key once`);
    seen.add(t.Key);
  }
  return tags.map((t) => (t.Value === undefined ? { Key: t.Key } : { Key: t.Key, Value: t.Value }));
}

/** The tags a resource would have after adding `added` (at most 50: TooManyTags). */
export function mergeTags(current: ElbTag[], added: ElbTag[], resourceArn: string): ElbTag[] {
  const byKey = new Map(current.map((t) => [t.Key, t]));
  for (const t of added) byKey.set(t.Key, t);
  if (byKey.size > MAX_TAGS)
    throw new ElbError(
      'TooManyTags',
      `${resourceArn} would have ${byKey.size} tags; a resource has at most ${MAX_TAGS}: remove some first`,
    );
  return [...byKey.values()];
}

/** A target Id for an 'ip' target group: an IPv4 or IPv6 address. */
export function validateIpTarget(id: unknown): string {
  if (typeof id !== 'string' || isIP(id) === 0)
    throw new ElbError(
      'InvalidTarget',
      `The target Id '${clipText(String(id))}' is not an IP address; an 'ip' target group takes IPv4 or IPv6 addresses`,
    );
  return id;
}

export interface TrafficAddress {
  host: string;
  port: number;
}

/**
 * The `local:traffic-address` tag's value: `host:port`, `[v6]:port`. Returns the reason it is
 * unusable as text instead of throwing, for both the API (InvalidTarget) and the engine (no-address).
 */
export function parseTrafficAddress(value: string | undefined): TrafficAddress | string {
  if (value === undefined || value.trim() === '')
    return `its ${TRAFFIC_ADDRESS_TAG} tag has no value; set it to host:port (where its web app listens, e.g. 127.0.0.1:8080)`;
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(value.trim());
  const host = m?.[1] ?? m?.[2];
  const port = m ? Number(m[3]) : Number.NaN;
  if (!m || !host || port < 1 || port > 65535 || (m[1] !== undefined && isIP(m[1]) !== 6))
    return `its ${TRAFFIC_ADDRESS_TAG} tag '${clipText(value)}' is not host:port; set it to e.g. 127.0.0.1:8080 or [::1]:8080`;
  return { host, port };
}

/** An instance's traffic address from its tags (undefined tags: no such instance). */
export function instanceTrafficAddress(instanceName: string, tags: ElbTag[] | undefined): TrafficAddress | string {
  if (tags === undefined)
    return `no on-premises instance named '${instanceName}' is registered; register it (RegisterOnPremisesInstance) first`;
  const tag = tags.find((t) => t.Key === TRAFFIC_ADDRESS_TAG);
  if (!tag)
    return `on-premises instance '${instanceName}' has no ${TRAFFIC_ADDRESS_TAG} tag; add one with host:port (AddTagsToOnPremisesInstances)`;
  const address = parseTrafficAddress(tag.Value);
  return typeof address === 'string' ? `on-premises instance '${instanceName}': ${address}` : address;
}

function clipText(s: string): string {
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}
