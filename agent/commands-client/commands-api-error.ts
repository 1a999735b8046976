/**
 * The one error type the commands client raises. Its message never contains credentials,
 * signatures, Authorization headers or request bodies: only the operation, the service's error
 * code and message, the HTTP status and the request id.
 */
import { AgentError, ErrorCodes, type ErrorCode } from '../errors.js';
import type { FailureKind } from '../platform/retry-policy.js';
import type { Operation } from './wire-types.js';

export interface CommandsApiErrorFields {
  operation: Operation;
  statusCode?: number;
  serviceCode?: string;
  /** The service's message (from the error body); shown after the code. */
  serviceMessage?: string;
  requestId?: string;
  /** A network errno code, or READ_TIMEOUT. */
  networkCode?: string;
  kind: FailureKind | 'malformed-response' | 'aborted' | 'credentials';
  retriable: boolean;
  /** Attempts made, the first one included. */
  attempts: number;
  /** For a malformed answer: the offending field, e.g. "HostCommand.CommandName". */
  field?: string;
  cause?: unknown;
  code?: ErrorCode;
}

export class CommandsApiError extends AgentError {
  readonly operation: Operation;
  readonly statusCode?: number;
  readonly serviceCode?: string;
  readonly requestId?: string;
  readonly networkCode?: string;
  readonly kind: CommandsApiErrorFields['kind'];
  readonly retriable: boolean;
  readonly attempts: number;
  readonly field?: string;

  constructor(fields: CommandsApiErrorFields, description: string) {
    super(fields.code ?? ErrorCodes.CONTROL_PLANE, CommandsApiError.format(fields, description), {
      cause: fields.cause,
      details: {
        operation: fields.operation,
        statusCode: fields.statusCode,
        serviceCode: fields.serviceCode,
        requestId: fields.requestId,
        networkCode: fields.networkCode,
        kind: fields.kind,
        retriable: fields.retriable,
        attempts: fields.attempts,
        field: fields.field,
      },
    });
    this.name = 'CommandsApiError';
    this.operation = fields.operation;
    this.statusCode = fields.statusCode;
    this.serviceCode = fields.serviceCode;
    this.requestId = fields.requestId;
    this.networkCode = fields.networkCode;
    this.kind = fields.kind;
    this.retriable = fields.retriable;
    this.attempts = fields.attempts;
    this.field = fields.field;
  }

  /** True when the call was cancelled through its AbortSignal (shutdown), not a failure. */
  get aborted(): boolean {
    return this.kind === 'aborted';
  }

  /**
   * "<Operation> failed: <description> (HTTP 400, request id abc, 3 attempts)": the parenthesis
   * lists only what is known; "N attempts" only when there was more than one.
   */
  private static format(f: CommandsApiErrorFields, description: string): string {
    const notes: string[] = [];
    if (f.statusCode !== undefined) notes.push(`HTTP ${f.statusCode}`);
    if (f.requestId) notes.push(`request id ${f.requestId}`);
    if (f.attempts > 1) notes.push(`${f.attempts} attempts`);
    const verb = f.kind === 'aborted' ? 'aborted' : 'failed';
    return `${f.operation} ${verb}: ${description}${notes.length > 0 ? ` (${notes.join(', ')})` : ''}`;
  }
}

export function isCommandsApiError(value: unknown): value is CommandsApiError {
  return value instanceof CommandsApiError;
}
