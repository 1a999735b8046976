import { describe, expect, it } from 'vitest';
import { ElbError } from '../../../control-plane/traffic/elb-model.js';
import {
  API_HEALTH_CHECK_LIMITS,
  applyTargetGroupAttributes,
  instanceTrafficAddress,
  matches,
  mergeTags,
  parseMatcher,
  parseTrafficAddress,
  resolveHealthCheck,
  validateIpTarget,
  validateName,
  validatePort,
  validateTags,
} from '../../../control-plane/traffic/elb-validation.js';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    if (err instanceof ElbError) return err.code;
    throw err;
  }
  return undefined;
}

describe('ELB names and ports', () => {
  it('accepts 1-32 letters, digits and inner hyphens', () => {
    for (const n of ['a', 'web-1', 'A'.repeat(32), 'x-y-z']) expect(validateName('target group', n)).toBe(n);
  });

  it('refuses empty, long, edge-hyphen and other characters with ValidationError', () => {
    for (const n of ['', '-web', 'web-', 'A'.repeat(33), 'we_b', 'we b', 'wéb', undefined, 7])
      expect(
        codeOf(() => validateName('target group', n)),
        String(n),
      ).toBe('ValidationError');
    expect(codeOf(() => validateName('load balancer', 'internal-lb'))).toBe('ValidationError');
    expect(validateName('target group', 'internal-tg')).toBe('internal-tg');
  });

  it('ports are whole numbers 1-65535', () => {
    expect(validatePort('Port', 1)).toBe(1);
    expect(validatePort('Port', 65535)).toBe(65535);
    for (const p of [0, 65536, 80.5, '80', -1, Number.NaN])
      expect(
        codeOf(() => validatePort('Port', p)),
        String(p),
      ).toBe('ValidationError');
  });
});

describe('Matcher HttpCode', () => {
  it('parses single codes, lists and ranges', () => {
    expect(parseMatcher('200')).toEqual([{ from: 200, to: 200 }]);
    expect(parseMatcher('200,302')).toEqual([
      { from: 200, to: 200 },
      { from: 302, to: 302 },
    ]);
    const r = parseMatcher('200-299, 404');
    expect([199, 200, 250, 299, 300, 404, 405].map((c) => matches(r, c))).toEqual([false, true, true, true, false, true, false]);
  });

  it('refuses codes outside 200-499, reversed ranges and junk', () => {
    for (const m of ['', '199', '500', '200-500', '299-200', '2OO', '200,,201', '200-', 'abc'])
      expect(
        codeOf(() => parseMatcher(m)),
        m,
      ).toBe('ValidationError');
  });
});

describe('health check settings', () => {
  it('fills the ALB defaults', () => {
    expect(resolveHealthCheck({}, undefined, API_HEALTH_CHECK_LIMITS)).toEqual({
      HealthCheckProtocol: 'HTTP',
      HealthCheckPath: '/',
      HealthCheckPort: 'traffic-port',
      HealthCheckEnabled: true,
      HealthCheckIntervalSeconds: 30,
      HealthCheckTimeoutSeconds: 5,
      HealthyThresholdCount: 5,
      UnhealthyThresholdCount: 2,
      Matcher: { HttpCode: '200' },
    });
  });

  it('applies changes over a base and keeps the rest', () => {
    const base = resolveHealthCheck({ HealthCheckPath: '/health' }, undefined, API_HEALTH_CHECK_LIMITS);
    const next = resolveHealthCheck({ HealthyThresholdCount: 2, HealthCheckPort: '8080' }, base, API_HEALTH_CHECK_LIMITS);
    expect(next).toMatchObject({
      HealthCheckPath: '/health',
      HealthyThresholdCount: 2,
      HealthCheckPort: '8080',
      HealthCheckIntervalSeconds: 30,
    });
  });

  it('checks ranges, the timeout against the interval, the path and the port', () => {
    const bad = [
      { HealthCheckIntervalSeconds: 4 },
      { HealthCheckIntervalSeconds: 301 },
      { HealthCheckTimeoutSeconds: 1 },
      { HealthCheckTimeoutSeconds: 121 },
      { HealthCheckIntervalSeconds: 10, HealthCheckTimeoutSeconds: 10 },
      { HealthCheckIntervalSeconds: 5 }, // default timeout 5 is not less than 5
      { HealthyThresholdCount: 1 },
      { HealthyThresholdCount: 11 },
      { UnhealthyThresholdCount: 1 },
      { HealthCheckPath: 'health' },
      { HealthCheckPort: '0' },
      { HealthCheckPort: 'eighty' },
      { HealthCheckProtocol: 'HTTPS' },
      { HealthCheckIntervalSeconds: 7.5 },
    ];
    for (const input of bad)
      expect(
        codeOf(() => resolveHealthCheck(input, undefined, API_HEALTH_CHECK_LIMITS)),
        JSON.stringify(input),
      ).toBe('ValidationError');
    expect(
      resolveHealthCheck({ HealthCheckIntervalSeconds: 5, HealthCheckTimeoutSeconds: 4 }, undefined, API_HEALTH_CHECK_LIMITS)
        .HealthCheckIntervalSeconds,
    ).toBe(5);
  });

  it('says how to fix a timeout that is not below the interval', () => {
    expect(() =>
      resolveHealthCheck({ HealthCheckIntervalSeconds: 10, HealthCheckTimeoutSeconds: 10 }, undefined, API_HEALTH_CHECK_LIMITS),
    ).toThrow(/must be less than HealthCheckIntervalSeconds.*lower the timeout/);
  });

  it('lets tests lower the interval minimum, with fractional seconds below 1', () => {
    const fast = resolveHealthCheck({ HealthCheckIntervalSeconds: 0.2, HealthCheckTimeoutSeconds: 0.1 }, undefined, {
      minIntervalSeconds: 0.1,
    });
    expect(fast).toMatchObject({ HealthCheckIntervalSeconds: 0.2, HealthCheckTimeoutSeconds: 0.1 });
  });
});

describe('target group attributes and tags', () => {
  it('changes only the deregistration delay (0-3600) and accepts the fixed values as they are', () => {
    expect(applyTargetGroupAttributes(300, [{ Key: 'deregistration_delay.timeout_seconds', Value: '0' }])).toBe(0);
    expect(applyTargetGroupAttributes(300, [{ Key: 'stickiness.enabled', Value: 'false' }])).toBe(300);
    for (const a of [
      { Key: 'deregistration_delay.timeout_seconds', Value: '3601' },
      { Key: 'deregistration_delay.timeout_seconds', Value: '-1' },
      { Key: 'stickiness.enabled', Value: 'true' },
      { Key: 'no.such.attribute', Value: '1' },
    ])
      expect(
        codeOf(() => applyTargetGroupAttributes(300, [a])),
        a.Key,
      ).toBe('ValidationError');
  });

  it('refuses reserved, duplicate and too many tags with their codes', () => {
    expect(codeOf(() => validateTags([{ Key: 'aws:x', Value: '1' }]))).toBe('ValidationError');
    expect(codeOf(() => validateTags([{ Key: 'a' }, { Key: 'a', Value: 'b' }]))).toBe('DuplicateTagKeys');
    const fifty = Array.from({ length: 50 }, (_, i) => ({ Key: `k${i}` }));
    expect(mergeTags(fifty, [{ Key: 'k0', Value: 'v' }], 'arn').length).toBe(50);
    expect(codeOf(() => mergeTags(fifty, [{ Key: 'k50' }], 'arn'))).toBe('TooManyTags');
  });
});

describe('targets and traffic addresses', () => {
  it('ip targets must be IP addresses (InvalidTarget)', () => {
    expect(validateIpTarget('10.0.0.1')).toBe('10.0.0.1');
    expect(validateIpTarget('::1')).toBe('::1');
    expect(codeOf(() => validateIpTarget('localhost'))).toBe('InvalidTarget');
  });

  it('parses host:port and [v6]:port, and says what is wrong otherwise', () => {
    expect(parseTrafficAddress('127.0.0.1:8080')).toEqual({ host: '127.0.0.1', port: 8080 });
    expect(parseTrafficAddress('web.local:80')).toEqual({ host: 'web.local', port: 80 });
    expect(parseTrafficAddress('[::1]:8080')).toEqual({ host: '::1', port: 8080 });
    for (const v of ['', '127.0.0.1', ':80', '127.0.0.1:0', '127.0.0.1:70000', '::1:80', 'a b:80', undefined])
      expect(parseTrafficAddress(v), String(v)).toMatch(/local:traffic-address/);
  });

  it("an instance's address comes from its local:traffic-address tag", () => {
    expect(instanceTrafficAddress('h', [{ Key: 'local:traffic-address', Value: '127.0.0.1:9000' }])).toEqual({
      host: '127.0.0.1',
      port: 9000,
    });
    expect(instanceTrafficAddress('h', undefined)).toMatch(/no on-premises instance named 'h'/);
    expect(instanceTrafficAddress('h', [{ Key: 'env', Value: 'x' }])).toMatch(/has no local:traffic-address tag/);
  });
});
