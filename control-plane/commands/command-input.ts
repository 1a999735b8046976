/**
 * The commands API's input members, checked against the service model (CodeDeployCommand.api.json,
 * reference section 2.3) before anything is looked up, stored or logged. Every failure is the
 * model's only client error, `ClientException`, and no message quotes more than a clipped prefix
 * of what the caller sent.
 *
 * The model leaves HostIdentifier unconstrained, but it is always an ARN (an EC2 instance, an IAM
 * user, an STS assumed-role session: reference section 2.7), and IAM caps ARNs at 2048 characters;
 * DeploymentExecutionId is 1..129 characters of `^[^/]+/[^/]+/[^/]+/.+$`.
 */
import { ApiError, stringMember } from '../api/api-error.js';
import { EXECUTION_ID_MAX, EXECUTION_ID_PATTERN } from '../engine/identifiers.js';

export const HOST_IDENTIFIER_MAX = 2048;

function hasControlCharacter(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
}

function required(input: Record<string, unknown>, member: string): string {
  const value = stringMember(input, member);
  if (value === undefined || value === '') throw new ApiError('ClientException', `${member} is required.`);
  return value;
}

export function hostIdentifierMember(input: Record<string, unknown>): string {
  const value = required(input, 'HostIdentifier');
  if (value.length > HOST_IDENTIFIER_MAX) {
    throw new ApiError('ClientException', `HostIdentifier is ${value.length} characters long; the limit is ${HOST_IDENTIFIER_MAX} (it is the host's ARN).`);
  }
  if (hasControlCharacter(value)) throw new ApiError('ClientException', 'HostIdentifier must not contain control characters (it is the host\'s ARN).');
  return value;
}

export function executionIdMember(input: Record<string, unknown>): string {
  const value = required(input, 'DeploymentExecutionId');
  if (value.length > EXECUTION_ID_MAX) {
    throw new ApiError('ClientException', `DeploymentExecutionId is ${value.length} characters long; the limit is ${EXECUTION_ID_MAX}: pass it exactly as PollHostCommand returned it.`);
  }
  if (!EXECUTION_ID_PATTERN.test(value)) {
    throw new ApiError('ClientException', 'DeploymentExecutionId does not match ^[^/]+/[^/]+/[^/]+/.+$: pass it exactly as PollHostCommand returned it.');
  }
  return value;
}
