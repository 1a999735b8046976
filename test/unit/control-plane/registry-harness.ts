/**
 * Test harness for the registry: a fresh in-memory database, the registry and its operation table
 * with a manual clock, and helpers that call an operation or assert the ApiError code it throws.
 */
import { expect } from 'vitest';
import type { Logger } from 'pino';
import { ApiError } from '../../../control-plane/api/api-error.js';
import type { OperationTable } from '../../../control-plane/api/operations.js';
import type { Registry } from '../../../control-plane/registry/registry.js';
import { createRegistryOperations } from '../../../control-plane/api/registry-operations.js';
import { createRegistry } from '../../../control-plane/registry/sqlite-registry.js';
import { openDatabase, type Db } from '../../../control-plane/store/database.js';
import { silentLogger } from '../../helpers/temp.js';

export type Out = Record<string, unknown>;

export interface RegistryHarness {
  db: Db;
  registry: Registry;
  operations: OperationTable;
  clock: { now: number };
  call(op: string, input?: Record<string, unknown>): Out;
  /** Runs the operation, expects an ApiError with `code`, returns its message. */
  fails(op: string, input: Record<string, unknown>, code: string): string;
}

export const USER_ARN = (name: string) => `arn:aws:iam::123456789012:user/${name}`;
export const SESSION_ARN = (name: string) => `arn:aws:sts::123456789012:assumed-role/onprem/${name}`;

export function registryHarness(opts: { logger?: Logger; db?: Db } = {}): RegistryHarness {
  const db = opts.db ?? openDatabase(':memory:');
  const clock = { now: 1_700_000_000_000 };
  const { registry, context } = createRegistry({
    db,
    identity: { region: 'eu-west-1', accountId: '111122223333' },
    logger: opts.logger ?? silentLogger(),
    clock: () => clock.now,
  });
  const operations = createRegistryOperations(context);
  const ctx = { signal: new AbortController().signal, log: silentLogger() };
  const call = (op: string, input: Record<string, unknown> = {}): Out => {
    const handler = operations[op];
    if (!handler) throw new Error(`no operation ${op}`);
    return handler(input, ctx) as Out;
  };
  return {
    db,
    registry,
    operations,
    clock,
    call,
    fails(op, input, code) {
      let caught: unknown;
      try {
        call(op, input);
      } catch (err) {
        caught = err;
      }
      expect(caught, `${op} should fail with ${code}`).toBeInstanceOf(ApiError);
      const e = caught as ApiError;
      expect(e.code).toBe(code);
      expect(e.status).toBe(400);
      return e.message;
    },
  };
}

/** An application `web` with group `prod` selecting env=prod, and registered instances. */
export function seeded(
  h: RegistryHarness,
  instances: Record<string, { Key: string; Value?: string }[]> = {},
): { deploymentGroupId: string } {
  h.call('CreateApplication', { applicationName: 'web' });
  const out = h.call('CreateDeploymentGroup', {
    applicationName: 'web',
    deploymentGroupName: 'prod',
    serviceRoleArn: 'arn:aws:iam::111122223333:role/cd',
    onPremisesInstanceTagFilters: [{ Key: 'env', Value: 'prod', Type: 'KEY_AND_VALUE' }],
  });
  for (const [name, tags] of Object.entries(instances)) {
    h.call('RegisterOnPremisesInstance', { instanceName: name, iamUserArn: USER_ARN(name) });
    if (tags.length > 0) h.call('AddTagsToOnPremisesInstances', { instanceNames: [name], tags });
  }
  return { deploymentGroupId: out.deploymentGroupId as string };
}
