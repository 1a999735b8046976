/**
 * AWS JSON 1.1 answers: a 2xx body checked against the operation's shape, or an error's code and
 * message (docs/reference.md section 2.2).
 */
import { CommandsApiError } from './commands-api-error.js';
import type { TransportResponse } from './http-transport.js';
import { MalformedResponse, type Operation } from './wire-types.js';

export function header(res: TransportResponse, name: string): string | undefined {
  const v = res.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

export function parseAnswer<T>(
  operation: Operation,
  res: TransportResponse,
  requestId: string | undefined,
  attempts: number,
  parse: (body: unknown) => T,
): T {
  const malformed = (description: string, field: string | undefined, cause: unknown): CommandsApiError =>
    new CommandsApiError(
      { operation, kind: 'malformed-response', statusCode: res.statusCode, requestId, retriable: false, attempts, field, cause },
      `malformed response: ${description}`,
    );
  let json: unknown = {};
  if (res.body.trim() !== '') {
    try {
      json = JSON.parse(res.body);
    } catch (err) {
      throw malformed('the body is not JSON', undefined, err);
    }
  }
  try {
    return parse(json);
  } catch (err) {
    if (err instanceof MalformedResponse) throw malformed(err.message, err.field, err);
    throw err;
  }
}

/**
 * AWS JSON 1.1 errors: the code is x-amzn-ErrorType or the body's `__type` (or `code`), without a
 * "namespace#" prefix or a ":http://..." suffix; the message is `message` or `Message`.
 */
export function parseServiceError(res: TransportResponse): { code?: string; message?: string } {
  let body: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(res.body);
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) body = parsed as Record<string, unknown>;
  } catch {
    // a non-JSON error body (a proxy's HTML page): status only
  }
  const raw = header(res, 'x-amzn-errortype') ?? str(body.__type) ?? str(body.code) ?? str(body.Code);
  const code = raw?.split(':')[0]?.split('#').pop()?.trim() || undefined;
  const message = str(body.message) ?? str(body.Message) ?? str(body.errorMessage);
  return { code: code?.slice(0, 200), message: message?.slice(0, 1000) };
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}
