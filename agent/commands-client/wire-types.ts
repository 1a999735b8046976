/**
 * The commands API shapes as they travel (PascalCase, docs/reference.md section 2.3), and the checks that
 * turn an untrusted JSON answer into them. A check failure is a MalformedResponse naming the field
 * (e.g. "HostCommand.CommandName"), never a TypeError somewhere downstream.
 */
import type { Envelope } from '../spec/deployment-spec.js';

export type Operation =
  'PollHostCommand' | 'GetDeploymentSpecification' | 'PutHostCommandAcknowledgement' | 'PutHostCommandComplete' | 'PostHostCommandUpdate';

export const OPERATIONS: readonly Operation[] = [
  'PollHostCommand',
  'GetDeploymentSpecification',
  'PutHostCommandAcknowledgement',
  'PutHostCommandComplete',
  'PostHostCommandUpdate',
];

/** `HostCommandInstance` with the wire field names. Nonce is a Long the agent does not use. */
export interface HostCommand {
  HostCommandIdentifier: string;
  HostIdentifier: string;
  DeploymentExecutionId: string;
  CommandName: string;
  Nonce?: number;
}

/** `DeploymentCommandStatus`. */
export type DeploymentCommandStatus = 'Pending' | 'InProgress' | 'Succeeded' | 'Failed';
/** The name the client interface uses; the same enum. */
export type CommandStatus = DeploymentCommandStatus;

export const COMMAND_STATUSES: readonly DeploymentCommandStatus[] = ['Pending', 'InProgress', 'Succeeded', 'Failed'];

/** The model's `DeploymentExecutionId`: length 1..129, pattern ^[^/]+/[^/]+/[^/]+/.+$ */
export const DEPLOYMENT_EXECUTION_ID_PATTERN = /^[^/]+\/[^/]+\/[^/]+\/.+$/s;
export const DEPLOYMENT_EXECUTION_ID_MAX_LENGTH = 129;

export interface DeploymentSpecificationOutput {
  deploymentSystem?: string;
  envelope?: Envelope;
}

export class MalformedResponse extends Error {
  constructor(
    readonly field: string,
    problem: string,
  ) {
    super(`${field} ${problem}`);
    this.name = 'MalformedResponse';
  }
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `a string of ${value.length} characters`;
  return typeof value === 'object' ? 'an object' : `${typeof value} ${String(value)}`.slice(0, 60);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The top level of every answer: an object (an empty body counts as {}). */
export function asObject(value: unknown, field = '(response)'): Record<string, unknown> {
  if (!isObject(value)) throw new MalformedResponse(field, `must be a JSON object, got ${describe(value)}`);
  return value;
}

function optionalString(obj: Record<string, unknown>, key: string, path: string): string | undefined {
  const v = obj[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new MalformedResponse(`${path}${key}`, `must be a string, got ${describe(v)}`);
  return v;
}

function requiredString(obj: Record<string, unknown>, key: string, path: string): string {
  const v = optionalString(obj, key, path);
  if (v === undefined || v === '') throw new MalformedResponse(`${path}${key}`, 'is missing or empty');
  return v;
}

function optionalStatus(obj: Record<string, unknown>, key: string): DeploymentCommandStatus | undefined {
  const v = optionalString(obj, key, '');
  if (v === undefined) return undefined;
  if (!(COMMAND_STATUSES as readonly string[]).includes(v)) {
    throw new MalformedResponse(key, `must be one of ${COMMAND_STATUSES.join(', ')}, got ${JSON.stringify(v.slice(0, 40))}`);
  }
  return v as DeploymentCommandStatus;
}

export function checkDeploymentExecutionId(value: string, field: string): string {
  if (value.length > DEPLOYMENT_EXECUTION_ID_MAX_LENGTH) {
    throw new MalformedResponse(field, `must be at most ${DEPLOYMENT_EXECUTION_ID_MAX_LENGTH} characters, got ${value.length}`);
  }
  if (!DEPLOYMENT_EXECUTION_ID_PATTERN.test(value)) {
    throw new MalformedResponse(field, 'must match ^[^/]+/[^/]+/[^/]+/.+$');
  }
  return value;
}

/** PollHostCommand output: { HostCommand?: HostCommandInstance }. */
export function parsePollOutput(body: unknown): HostCommand | undefined {
  const out = asObject(body);
  const hc = out.HostCommand;
  if (hc === undefined || hc === null) return undefined;
  if (!isObject(hc)) throw new MalformedResponse('HostCommand', `must be an object, got ${describe(hc)}`);
  const p = 'HostCommand.';
  const command: HostCommand = {
    HostCommandIdentifier: requiredString(hc, 'HostCommandIdentifier', p),
    HostIdentifier: requiredString(hc, 'HostIdentifier', p),
    DeploymentExecutionId: checkDeploymentExecutionId(requiredString(hc, 'DeploymentExecutionId', p), `${p}DeploymentExecutionId`),
    CommandName: requiredString(hc, 'CommandName', p),
  };
  const nonce = hc.Nonce;
  if (nonce !== undefined && nonce !== null) {
    if (typeof nonce !== 'number' || !Number.isInteger(nonce)) {
      throw new MalformedResponse(`${p}Nonce`, `must be an integer, got ${describe(nonce)}`);
    }
    command.Nonce = nonce;
  }
  return command;
}

function parseEnvelope(value: unknown, field: string): Envelope | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isObject(value)) throw new MalformedResponse(field, `must be an object, got ${describe(value)}`);
  const envelope: Envelope = {};
  const format = optionalString(value, 'Format', `${field}.`);
  const payload = optionalString(value, 'Payload', `${field}.`);
  if (format !== undefined) envelope.Format = format;
  if (payload !== undefined) envelope.Payload = payload;
  return envelope;
}

/** GetDeploymentSpecification output: DeploymentSystem, DeploymentSpecification.GenericEnvelope. */
export function parseSpecOutput(body: unknown): DeploymentSpecificationOutput {
  const out = asObject(body);
  const result: DeploymentSpecificationOutput = {};
  const system = optionalString(out, 'DeploymentSystem', '');
  if (system !== undefined) result.deploymentSystem = system;
  const spec = out.DeploymentSpecification;
  if (spec !== undefined && spec !== null) {
    if (!isObject(spec)) throw new MalformedResponse('DeploymentSpecification', `must be an object, got ${describe(spec)}`);
    const envelope = parseEnvelope(spec.GenericEnvelope, 'DeploymentSpecification.GenericEnvelope');
    // VariantId / VariantEnvelope are in the model but unused by the agent; still type-checked.
    optionalString(spec, 'VariantId', 'DeploymentSpecification.');
    parseEnvelope(spec.VariantEnvelope, 'DeploymentSpecification.VariantEnvelope');
    if (envelope !== undefined) result.envelope = envelope;
  }
  return result;
}

/** PutHostCommandAcknowledgement and PostHostCommandUpdate output: { CommandStatus? }. */
export function parseStatusOutput(body: unknown): DeploymentCommandStatus | undefined {
  return optionalStatus(asObject(body), 'CommandStatus');
}

/** PutHostCommandComplete output: an empty structure (anything else in the object is ignored). */
export function parseEmptyOutput(body: unknown): void {
  asObject(body);
}
