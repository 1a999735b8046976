/**
 * The identifiers the engine mints: deployment ids (`d-` + 9 of [A-Z0-9], like the service),
 * DeploymentExecutionIds (the service's `CodeDeploy/<region>/<stage>/<deployment arn>` shape, which
 * the API model constrains to ^[^/]+/[^/]+/[^/]+/.+$ and 129 characters) and HostCommandIdentifiers
 * (opaque to agents: base64 of a small JSON naming the command row, so a forged or stale identifier
 * is recognised by comparing every field with the row).
 */
import { randomInt } from 'node:crypto';
import { ApiError } from '../api/api-error.js';
import { quoted } from '../log/clip.js';
import type { ControlPlaneIdentity } from '../model.js';

const ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
export const DEPLOYMENT_ID_PATTERN = /^d-[A-Z0-9]{9}$/;

export function newDeploymentId(): string {
  let id = 'd-';
  for (let i = 0; i < 9; i++) id += ID_ALPHABET[randomInt(ID_ALPHABET.length)];
  return id;
}

export function deploymentArn(identity: ControlPlaneIdentity, deploymentId: string): string {
  return `arn:aws:codedeploy:${identity.region}:${identity.accountId}:deployment/${deploymentId}`;
}

export const EXECUTION_ID_PATTERN = /^[^/]+\/[^/]+\/[^/]+\/.+$/;
export const EXECUTION_ID_MAX = 129;
/** Ours are about 150 characters; the service's are base64 JSON of a few hundred. */
export const HOST_COMMAND_IDENTIFIER_MAX = 2048;

export function executionId(identity: ControlPlaneIdentity, deploymentId: string): string {
  const id = `CodeDeploy/${identity.region}/local/${deploymentArn(identity, deploymentId)}`;
  if (id.length > EXECUTION_ID_MAX || !EXECUTION_ID_PATTERN.test(id)) {
    throw new Error(
      `DeploymentExecutionId ${id} breaks the API model's constraint (pattern ^[^/]+/[^/]+/[^/]+/.+$, at most 129 characters); use a shorter region name`,
    );
  }
  return id;
}

/** The deployment id inside one of our execution ids, or undefined when it is not one. */
export function deploymentIdOfExecution(identity: ControlPlaneIdentity, value: string): string | undefined {
  const prefix = `CodeDeploy/${identity.region}/local/${deploymentArn(identity, '')}`;
  if (!value.startsWith(prefix)) return undefined;
  const id = value.slice(prefix.length);
  return DEPLOYMENT_ID_PATTERN.test(id) ? id : undefined;
}

export interface HostCommandRef {
  /** Deployment id. */
  d: string;
  /** Instance name. */
  i: string;
  /** Command name. */
  c: string;
  /** Command row id (also the Nonce). */
  n: number;
}

export function encodeHostCommandId(ref: HostCommandRef): string {
  return Buffer.from(JSON.stringify({ d: ref.d, i: ref.i, c: ref.c, n: ref.n }), 'utf8').toString('base64');
}

export function decodeHostCommandId(value: unknown): HostCommandRef {
  const invalid = () =>
    new ApiError(
      'ClientException',
      `HostCommandIdentifier ${quoted(value)} is not valid: use the HostCommandIdentifier exactly as PollHostCommand returned it.`,
    );
  if (typeof value !== 'string' || value === '') {
    throw new ApiError(
      'ClientException',
      'HostCommandIdentifier is required: pass the HostCommandIdentifier that PollHostCommand returned.',
    );
  }
  if (value.length > HOST_COMMAND_IDENTIFIER_MAX || !/^[A-Za-z0-9+/]+={0,2}$/.test(value)) throw invalid();
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(value, 'base64').toString('utf8'));
  } catch {
    throw invalid();
  }
  if (typeof parsed !== 'object' || parsed === null) throw invalid();
  const r = parsed as Record<string, unknown>;
  if (
    typeof r.d !== 'string' ||
    typeof r.i !== 'string' ||
    typeof r.c !== 'string' ||
    typeof r.n !== 'number' ||
    !Number.isSafeInteger(r.n)
  )
    throw invalid();
  return { d: r.d, i: r.i, c: r.c, n: r.n };
}
