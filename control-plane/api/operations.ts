/**
 * An operation table: what the JSON 1.1 router dispatches to. A handler gets the parsed request
 * body (always an object) and returns the response body (an object, {} for none), or throws an
 * ApiError. Handlers are synchronous where they only touch SQLite (better-sqlite3 is synchronous,
 * which makes every handler one consistent transaction) and async where they must wait (long poll,
 * signing).
 */
import type { Logger } from 'pino';

export interface RequestContext {
  /** Aborted when the client goes away or the server stops (long polls end early). */
  signal: AbortSignal;
  /** The access key id from the SigV4 Authorization header, when there is one. */
  accessKeyId?: string;
  /** x-amz-codedeploy-agent-version, for the commands API. */
  packageVersion?: string;
  log: Logger;
}

export type OperationHandler = (input: Record<string, unknown>, ctx: RequestContext) => unknown;

export type OperationTable = Readonly<Record<string, OperationHandler>>;
