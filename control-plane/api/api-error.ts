/**
 * An error answered on the AWS JSON 1.1 wire: HTTP status, the error code the SDKs branch on
 * (`__type` in the body and the `x-amzn-ErrorType` header) and a message that says what was wrong
 * and how to fix it. Handlers throw these; anything else becomes a 500 `ServerException` (commands
 * API) or `InternalFailure` (public API) whose details go to the log, not the caller. The readers
 * that check request members and raise these are in input-readers.ts.
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
