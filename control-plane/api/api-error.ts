/**
 * An error answered on the AWS JSON 1.1 wire: HTTP status, the error code the SDKs branch on
 * (`__type` in the body and the `x-amzn-ErrorType` header) and a message that says what was wrong
 * and how to fix it. Handlers throw these; anything else becomes a 500 `ServerException` (commands
 * API) or `InternalFailure` (public API) whose details go to the log, not the caller.
 */
export class ApiError extends Error {
  constructor(
    /** e.g. ApplicationDoesNotExistException */
    readonly code: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** A required member is missing or empty: the real service's `<Member>RequiredException` family. */
export function required(code: string, member: string): ApiError {
  return new ApiError(code, `${member} is required.`);
}

/** Reads a string member; a wrong type is a ValidationException naming the member. */
export function stringMember(input: Record<string, unknown>, member: string): string | undefined {
  const v = input[member];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new ApiError('ValidationException', `1 validation error detected: Value at '${member}' failed to satisfy constraint: Member must be a string`);
  return v;
}

export function booleanMember(input: Record<string, unknown>, member: string): boolean | undefined {
  const v = input[member];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw new ApiError('ValidationException', `1 validation error detected: Value at '${member}' failed to satisfy constraint: Member must be a boolean`);
  return v;
}

export function arrayMember(input: Record<string, unknown>, member: string): unknown[] | undefined {
  const v = input[member];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) throw new ApiError('ValidationException', `1 validation error detected: Value at '${member}' failed to satisfy constraint: Member must be a list`);
  return v;
}

export function objectMember(input: Record<string, unknown>, member: string): Record<string, unknown> | undefined {
  const v = input[member];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) throw new ApiError('ValidationException', `1 validation error detected: Value at '${member}' failed to satisfy constraint: Member must be a structure`);
  return v as Record<string, unknown>;
}
