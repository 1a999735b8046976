import { describe, expect, it } from 'vitest';
import { parseServiceError } from '../../../agent/commands-client/json-protocol.js';
import { MalformedResponse, parsePollOutput, parseSpecOutput, parseStatusOutput } from '../../../agent/commands-client/wire-types.js';

const good = {
  HostCommandIdentifier: 'WyJjb20uYW1hem9uIl0=',
  HostIdentifier: 'arn:aws:ec2:us-east-1:123456789012:instance/i-deadbeef',
  DeploymentExecutionId: 'CodeDeploy/us-east-1/Prod/arn:aws:sds:us-east-1:123456789012:deployment/d-M6RPSQFXM',
  CommandName: 'DownloadBundle',
  Nonce: 12,
};

function fieldOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof MalformedResponse) return `${err.field} | ${err.message}`;
    throw err;
  }
  throw new Error('expected a MalformedResponse');
}

describe('parsePollOutput', () => {
  it('returns the command with the wire field names, or undefined for no command', () => {
    expect(parsePollOutput({ HostCommand: good })).toEqual(good);
    expect(parsePollOutput({})).toBeUndefined();
    expect(parsePollOutput({ HostCommand: null })).toBeUndefined();
  });

  it.each([
    [[], '(response) | (response) must be a JSON object, got an array'],
    [null, '(response) | (response) must be a JSON object, got null'],
    [{ HostCommand: 'x' }, 'HostCommand | HostCommand must be an object, got a string of 1 characters'],
    [{ HostCommand: { ...good, CommandName: undefined } }, 'HostCommand.CommandName | HostCommand.CommandName is missing or empty'],
    [{ HostCommand: { ...good, CommandName: '' } }, 'HostCommand.CommandName | HostCommand.CommandName is missing or empty'],
    [
      { HostCommand: { ...good, HostCommandIdentifier: 5 } },
      'HostCommand.HostCommandIdentifier | HostCommand.HostCommandIdentifier must be a string, got number 5',
    ],
    [
      { HostCommand: { ...good, DeploymentExecutionId: 'd-123' } },
      'HostCommand.DeploymentExecutionId | HostCommand.DeploymentExecutionId must match ^[^/]+/[^/]+/[^/]+/.+$',
    ],
    [
      { HostCommand: { ...good, DeploymentExecutionId: `a/b/c/${'x'.repeat(124)}` } },
      'HostCommand.DeploymentExecutionId | HostCommand.DeploymentExecutionId must be at most 129 characters, got 130',
    ],
    [{ HostCommand: { ...good, Nonce: 'n' } }, 'HostCommand.Nonce | HostCommand.Nonce must be an integer, got a string of 1 characters'],
  ])('refuses %j naming the field', (body, expected) => {
    expect(fieldOf(() => parsePollOutput(body))).toBe(expected);
  });

  it('accepts a DeploymentExecutionId of exactly 129 characters', () => {
    const id = `a/b/c/${'x'.repeat(123)}`;
    expect(parsePollOutput({ HostCommand: { ...good, DeploymentExecutionId: id } })?.DeploymentExecutionId).toBe(id);
  });
});

describe('parseSpecOutput and parseStatusOutput', () => {
  it('returns the generic envelope and the deployment system', () => {
    expect(
      parseSpecOutput({
        DeploymentSystem: 'CodeDeploy',
        DeploymentSpecification: { GenericEnvelope: { Format: 'TEXT/JSON', Payload: '{}' }, VariantId: 'v' },
      }),
    ).toEqual({ deploymentSystem: 'CodeDeploy', envelope: { Format: 'TEXT/JSON', Payload: '{}' } });
    expect(parseSpecOutput({})).toEqual({});
  });

  it.each([
    [{ DeploymentSystem: 1 }, 'DeploymentSystem'],
    [{ DeploymentSpecification: [] }, 'DeploymentSpecification'],
    [{ DeploymentSpecification: { GenericEnvelope: { Payload: {} } } }, 'DeploymentSpecification.GenericEnvelope.Payload'],
    [{ DeploymentSpecification: { VariantEnvelope: 'x' } }, 'DeploymentSpecification.VariantEnvelope'],
  ])('refuses %j naming %s', (body, field) => {
    expect(fieldOf(() => parseSpecOutput(body)).split(' | ')[0]).toBe(field);
  });

  it('accepts the four statuses and refuses others', () => {
    for (const s of ['Pending', 'InProgress', 'Succeeded', 'Failed']) expect(parseStatusOutput({ CommandStatus: s })).toBe(s);
    expect(parseStatusOutput({})).toBeUndefined();
    expect(fieldOf(() => parseStatusOutput({ CommandStatus: 'Bogus' }))).toBe(
      'CommandStatus | CommandStatus must be one of Pending, InProgress, Succeeded, Failed, got "Bogus"',
    );
  });
});

describe('parseServiceError (AWS JSON 1.1 errors)', () => {
  const res = (body: string, headers: Record<string, string> = {}) => ({ statusCode: 400, headers, body });
  it.each([
    [res('{"__type":"com.amazonaws.codedeploy#ThrottlingException","message":"Rate exceeded"}'), 'ThrottlingException', 'Rate exceeded'],
    [res('{"message":"m"}', { 'x-amzn-errortype': 'ClientException:http://internal.amazon.com/coral/x/' }), 'ClientException', 'm'],
    [res('{"code":"ServerException","Message":"M"}'), 'ServerException', 'M'],
    [res('<html>bad gateway</html>'), undefined, undefined],
    [res(''), undefined, undefined],
  ])('%j', (r, code, message) => {
    expect(parseServiceError(r)).toEqual({ code, message });
  });
});
