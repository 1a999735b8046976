import { describe, expect, it } from 'vitest';
import {
  defaultDomain,
  fipsAllowed,
  resolveCommandsEndpoint,
  serviceModel,
  validateRegionForDomain,
} from '../../../agent/commands-client/endpoint.js';
import { AgentError } from '../../../agent/errors.js';

describe('resolveCommandsEndpoint (docs/reference.md section 2.6, codedeploy_control_test.rb)', () => {
  const base = { region: 'us-west-2', useFipsMode: false, enableAuthPolicy: false };

  it.each([
    [
      'override is used verbatim',
      { ...base, useFipsMode: true, enableAuthPolicy: true, deployControlEndpoint: 'http://127.0.0.1:8443/x' },
      'http://127.0.0.1:8443/x',
    ],
    ['plain', base, 'https://codedeploy-commands.us-west-2.amazonaws.com'],
    ['-fips', { ...base, useFipsMode: true }, 'https://codedeploy-commands-fips.us-west-2.amazonaws.com'],
    ['-secure', { ...base, enableAuthPolicy: true }, 'https://codedeploy-commands-secure.us-west-2.amazonaws.com'],
    [
      '-secure-fips',
      { ...base, enableAuthPolicy: true, useFipsMode: true },
      'https://codedeploy-commands-secure-fips.us-west-2.amazonaws.com',
    ],
    ['no IMDS: us-east-1', { ...base, region: 'us-east-1' }, 'https://codedeploy-commands.us-east-1.amazonaws.com'],
    ['no IMDS: cn-north-1', { ...base, region: 'cn-north-1' }, 'https://codedeploy-commands.cn-north-1.amazonaws.com.cn'],
    ['no IMDS: cn-northwest-1', { ...base, region: 'cn-northwest-1' }, 'https://codedeploy-commands.cn-northwest-1.amazonaws.com.cn'],
    ['no IMDS: eusc-de-east-1', { ...base, region: 'eusc-de-east-1' }, 'https://codedeploy-commands.eusc-de-east-1.amazonaws.eu'],
    [
      'IMDS domain wins',
      { ...base, region: 'us-iso-east-1', domain: 'c2s.ic.gov' },
      'https://codedeploy-commands.us-iso-east-1.c2s.ic.gov',
    ],
    [
      'IMDS domain with -secure',
      { ...base, region: 'cn-north-1', domain: 'amazonaws.com.cn', enableAuthPolicy: true },
      'https://codedeploy-commands-secure.cn-north-1.amazonaws.com.cn',
    ],
    ['blank override is ignored', { ...base, deployControlEndpoint: '  ' }, 'https://codedeploy-commands.us-west-2.amazonaws.com'],
  ])('%s', (_name, opts, expected) => {
    expect(resolveCommandsEndpoint(opts)).toBe(expected);
  });

  it.each([
    [{ ...base, region: 'us-east-1.evil.com/' }, 'Invalid region: us-east-1.evil.com/'],
    [{ ...base, region: '' }, 'Invalid region: '],
    [{ ...base, domain: 'evil.com/path' }, 'Unknown domain: evil.com/path'],
  ])('refuses a region or domain that is not a host name part: %j', (opts, message) => {
    expect(() => resolveCommandsEndpoint(opts)).toThrow(message);
  });
});

describe('validateRegionForDomain (on-premises, partition-region-pattern.json)', () => {
  it.each([
    ['us-east-1', 'amazonaws.com'],
    ['eusc-de-east-1', 'amazonaws.eu'],
    ['cn-north-1', 'amazonaws.com.cn'],
    ['cn-northwest-1', 'amazonaws.com.cn'],
  ])('accepts %s in %s', (region, domain) => {
    expect(validateRegionForDomain(region, domain)).toBeUndefined();
  });

  it.each([
    ['us-east-1', 'example.com', 'Unknown domain: example.com'],
    ['us-east-1', 'amazonaws.com.cn', 'Invalid region: us-east-1'],
    ['Us_East_1', 'amazonaws.com', 'Invalid region: Us_East_1'],
    ['a-very-long-region-name-1', 'amazonaws.eu', 'Invalid region: a-very-long-region-name-1'],
  ])('refuses %s in %s with the official message', (region, domain, message) => {
    let caught: unknown;
    try {
      validateRegionForDomain(region, domain);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(AgentError);
    expect((caught as AgentError).message).toBe(message);
    expect((caught as AgentError).code).toBe('CDA_ERR_IDENTITY');
  });
});

describe('fipsAllowed, defaultDomain, serviceModel', () => {
  it.each([
    ['us-east-1', true],
    ['us-east-2', true],
    ['us-west-1', true],
    ['us-west-2', true],
    ['us-gov-west-1', true],
    ['us-gov-east-1', true],
    ['eu-west-1', false],
    ['cn-north-1', false],
    ['ca-central-1', false],
  ])('FIPS in %s: %s', (region, allowed) => {
    expect(fipsAllowed(region)).toBe(allowed);
  });

  it('picks the domain from the region', () => {
    expect([defaultDomain('eusc-de-east-1'), defaultDomain('cn-north-1'), defaultDomain('eu-west-1')]).toEqual([
      'amazonaws.eu',
      'amazonaws.com.cn',
      'amazonaws.com',
    ]);
  });

  it('has the two service models of docs/reference.md section 2.1', () => {
    expect(serviceModel(false)).toEqual({ targetPrefix: 'CodeDeployCommandService_v20141006', signingName: 'codedeploy-commands' });
    expect(serviceModel(true)).toEqual({ targetPrefix: 'CodeDeployCommandService', signingName: 'codedeploy-commands-secure' });
  });
});
