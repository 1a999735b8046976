/**
 * The commands API client (docs/design.md section 3, docs/reference.md section 2): AWS JSON 1.1 over POST /,
 * SigV4-signed, with the agent version header, per-call retries (platform/retry-policy.ts, run by
 * platform/retry.ts) and a check of every answer's shape (wire-types.ts).
 *
 * Read timeouts: PollHostCommand uses `pollReadTimeoutMs` (default 80 s, the official
 * `http_read_timeout`), because the service holds a long poll open; every other operation uses
 * `readTimeoutMs` (default 30 s).
 */
import { Hash } from '@smithy/core/serde';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider, ChecksumConstructor } from '@smithy/types';
import { AgentError, ErrorCodes } from '../errors.js';
import { toError } from '../../common/errors.js';
import { retry } from '../platform/retry.js';
import {
  classifyFailure,
  DEFAULT_RETRY_POLICY,
  parseRetryAfter,
  retryDelay,
  type Classification,
  type RetryPolicy,
} from '../platform/retry-policy.js';
import { sleep as defaultSleep, type Sleep } from '../platform/sleep.js';
import type { Envelope } from '../spec/deployment-spec.js';
import { CommandsApiError, isCommandsApiError, type CommandsApiErrorFields } from './commands-api-error.js';
import { diagnosticsPayload, type Diagnostics } from './diagnostics-payload.js';
import { serviceModel } from './endpoint.js';
import { createHttpTransport, TransportError, type HttpTransport, type TransportResponse } from './http-transport.js';
import { header, parseAnswer, parseServiceError } from './json-protocol.js';
import {
  parseEmptyOutput,
  parsePollOutput,
  parseSpecOutput,
  parseStatusOutput,
  type CommandStatus,
  type HostCommand,
  type Operation,
} from './wire-types.js';
import { readCaBundle } from '../platform/ca-bundle.js';

export type { CommandStatus, HostCommand } from './wire-types.js';

/**
 * SigV4's SHA-256 and HMAC-SHA-256 through node:crypto (OpenSSL): the AWS SDK's own Node.js hash.
 * @aws-crypto/sha256-js computes the same digests in JavaScript at several times the CPU, and the
 * daemon signs four requests per lifecycle command (poll, specification, acknowledgement, completion).
 */
export const SigV4Sha256: ChecksumConstructor = Hash.bind(null, 'sha256');
export { parseServiceError } from './json-protocol.js';

export interface CommandsClient {
  /** One long poll. Undefined when the service has no command for this host. */
  pollHostCommand(hostIdentifier: string, signal?: AbortSignal): Promise<HostCommand | undefined>;
  getDeploymentSpecification(
    deploymentExecutionId: string,
    hostIdentifier: string,
  ): Promise<{ deploymentSystem?: string; envelope?: Envelope }>;
  /** Sends Diagnostics {Format:"JSON", Payload:'{"IsCommandNoop":<bool>}'}. */
  putHostCommandAcknowledgement(hostCommandIdentifier: string, isNoop: boolean): Promise<CommandStatus | undefined>;
  /** Diagnostics go as {Format:"JSON", Payload: diagnosticsPayload(d)} (at most 8192 characters). */
  putHostCommandComplete(hostCommandIdentifier: string, status: 'Succeeded' | 'Failed', diagnostics: Diagnostics): Promise<void>;
  postHostCommandUpdate(
    hostCommandIdentifier: string,
    opts: { estimatedCompletionTime?: Date; diagnostics?: Diagnostics },
  ): Promise<CommandStatus | undefined>;
  /** Close kept-alive connections (shutdown, tests). */
  close(): void;
}

/** The structural subset of a pino logger the client uses: debug lines only (library code). */
export interface ClientLogger {
  debug(obj: object, msg?: string): void;
}

export interface CommandsClientOptions {
  /** Full URL, e.g. https://codedeploy-commands.us-east-1.amazonaws.com (see resolveCommandsEndpoint). */
  endpoint: string;
  /** The SigV4 signing region (AWS_REGION or the IMDS region, also for FIPS and overridden endpoints). */
  region: string;
  /** Called before every attempt; it caches by itself. */
  credentials: AwsCredentialIdentityProvider;
  enableAuthPolicy: boolean;
  /** Value of x-amz-codedeploy-agent-version. */
  packageVersion: string;
  proxyUri?: string;
  /** PEM CA bundle file for TLS to the endpoint; read once, here. Default: Node's trust store. */
  caBundlePath?: string;
  /** Read (socket idle) timeout of PollHostCommand. Default 80 000 ms. */
  pollReadTimeoutMs?: number;
  /** Read (socket idle) timeout of the other operations. Default 30 000 ms. */
  readTimeoutMs?: number;
  logger: ClientLogger;
  retryPolicy?: Partial<RetryPolicy>;
  /** Waits between retries; injected so tests record the delays. */
  sleep?: Sleep;
  /** Clock in epoch ms (signing date, Retry-After dates, durations). */
  now?: () => number;
  /** Jitter source in [0, 1). */
  random?: () => number;
  /** Internal seam for tests of the transport itself; production leaves it unset. */
  transport?: HttpTransport;
}

export const DEFAULT_POLL_READ_TIMEOUT_MS = 80_000;
export const DEFAULT_READ_TIMEOUT_MS = 30_000;
export const MISSING_CREDENTIALS_MESSAGE = 'Missing credentials - please check if this instance was started with an IAM instance profile';

interface Failure {
  fields: Omit<CommandsApiErrorFields, 'attempts' | 'retriable' | 'kind'>;
  cls: Classification;
  description: string;
  retryAfterMs?: number;
}

function cancelled(operation: Operation, attempts: number, cause: unknown): CommandsApiError {
  return new CommandsApiError({ operation, kind: 'aborted', retriable: false, attempts, cause }, 'the call was cancelled');
}

/** A failed exchange inside the retry loop; it becomes a CommandsApiError when the loop ends. */
class FailedAttempt extends Error {
  constructor(
    readonly failure: Failure,
    readonly attempt: number,
  ) {
    super(failure.description);
  }

  toApiError(): CommandsApiError {
    const { fields, cls, description } = this.failure;
    return new CommandsApiError({ ...fields, kind: cls.kind, retriable: cls.retriable, attempts: this.attempt }, description);
  }
}

interface CallSpec<T> {
  operation: Operation;
  input: Record<string, unknown>;
  readTimeoutMs: number;
  parse: (body: unknown) => T;
  signal?: AbortSignal;
}

export function createCommandsClient(opts: CommandsClientOptions): CommandsClient {
  let url: URL;
  try {
    url = new URL(opts.endpoint);
  } catch (err) {
    throw new AgentError(ErrorCodes.CONFIG_INVALID, `Invalid commands endpoint: ${JSON.stringify(opts.endpoint)}`, { cause: err });
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new AgentError(ErrorCodes.CONFIG_INVALID, `Invalid commands endpoint: ${url.protocol} is not http: or https:`);
  }
  const ca = readCaBundle(opts.caBundlePath);
  const transport = opts.transport ?? createHttpTransport({ proxyUri: opts.proxyUri, ca });
  const model = serviceModel(opts.enableAuthPolicy);
  const policy: RetryPolicy = { ...DEFAULT_RETRY_POLICY, ...opts.retryPolicy };
  const sleep = opts.sleep ?? defaultSleep;
  const now = opts.now ?? Date.now;
  const random = opts.random ?? Math.random;
  const pollTimeout = opts.pollReadTimeoutMs ?? DEFAULT_POLL_READ_TIMEOUT_MS;
  const otherTimeout = opts.readTimeoutMs ?? DEFAULT_READ_TIMEOUT_MS;
  const log = opts.logger;

  async function credentials(operation: Operation, forceRefresh: boolean, attempts: number): Promise<AwsCredentialIdentity> {
    try {
      const creds = await opts.credentials(forceRefresh ? { forceRefresh: true } : undefined);
      if (!creds || typeof creds.accessKeyId !== 'string' || typeof creds.secretAccessKey !== 'string') {
        throw new Error('the credential provider returned no access key');
      }
      return creds;
    } catch (err) {
      throw new CommandsApiError(
        { operation, kind: 'credentials', retriable: false, attempts, cause: err, code: ErrorCodes.CREDENTIALS },
        `${MISSING_CREDENTIALS_MESSAGE}: ${toError(err).message}`,
      );
    }
  }

  async function signedHeaders(operation: Operation, body: string, creds: AwsCredentialIdentity): Promise<Record<string, string>> {
    const request = new HttpRequest({
      method: 'POST',
      protocol: url.protocol,
      hostname: url.hostname,
      port: url.port ? Number(url.port) : undefined,
      path: url.pathname || '/',
      headers: {
        // node sends Host itself; it is set here too so that it is signed.
        host: url.host,
        'content-type': 'application/x-amz-json-1.1',
        'x-amz-target': `${model.targetPrefix}.${operation}`,
        'x-amz-codedeploy-agent-version': opts.packageVersion,
      },
      body,
    });
    const signer = new SignatureV4({ credentials: creds, region: opts.region, service: model.signingName, sha256: SigV4Sha256 });
    const signed = await signer.sign(request, { signingDate: new Date(now()) });
    return { ...(signed.headers as Record<string, string>), 'user-agent': `codedeploy-agent-ts/${opts.packageVersion}` };
  }

  /**
   * The call with the policy's retries. Expired credentials are refreshed once per call and the
   * attempt repeated at once (inside tryOnce(), so it does not count against maxAttempts).
   */
  async function call<T>(spec: CallSpec<T>): Promise<T> {
    const { operation } = spec;
    const body = JSON.stringify(spec.input);
    const started = now();
    const refresh = { used: false };
    try {
      return await retry((n) => tryOnce(spec, body, n, refresh, started), {
        policy: {
          maxAttempts: policy.maxAttempts,
          classify: (err) =>
            err instanceof FailedAttempt
              ? { retriable: err.failure.cls.retriable, delayMs: err.failure.retryAfterMs }
              : { retriable: false },
          // Only a FailedAttempt is retriable, so `err` is one here.
          backoffMs: (n, err) => retryDelay(n, (err as FailedAttempt).failure.cls.kind, undefined, policy, random),
        },
        sleep,
        signal: spec.signal,
        onRetry: (err, n, delayMs) => {
          const { fields, description } = (err as FailedAttempt).failure;
          const { statusCode, serviceCode, networkCode, requestId } = fields;
          log.debug(
            { operation, attempt: n, delayMs, statusCode, serviceCode, networkCode, requestId },
            `${operation} attempt ${n} failed (${description}); retrying in ${delayMs} ms`,
          );
        },
        onAbort: (reason, err, n) => (isCommandsApiError(err) && err.aborted ? err : cancelled(operation, n, reason)),
      });
    } catch (err) {
      if (!(err instanceof FailedAttempt)) throw err;
      const { fields } = err.failure;
      logCall(operation, fields.statusCode ?? fields.networkCode ?? 'error', started, err.attempt, fields.requestId);
      throw err.toApiError();
    }
  }

  /** Attempt `n` of a call: an answer, or a FailedAttempt for the retry loop to judge. */
  async function tryOnce<T>(spec: CallSpec<T>, body: string, n: number, refresh: { used: boolean }, started: number): Promise<T> {
    const { operation } = spec;
    for (let forceRefresh = false; ;) {
      const creds = await credentials(operation, forceRefresh, n);
      const headers = await signedHeaders(operation, body, creds);
      const outcome = await send(operation, headers, body, spec, n);
      if ('failure' in outcome) throw new FailedAttempt(outcome.failure, n);
      const res = outcome.response;
      const requestId = header(res, 'x-amzn-requestid') ?? header(res, 'x-amz-request-id');
      if (res.statusCode >= 200 && res.statusCode < 300) {
        const result = parseAnswer(operation, res, requestId, n, spec.parse);
        logCall(operation, res.statusCode, started, n, requestId);
        return result;
      }
      const { code, message } = parseServiceError(res);
      const failure: Failure = {
        fields: { operation, statusCode: res.statusCode, serviceCode: code, serviceMessage: message, requestId },
        cls: classifyFailure({ statusCode: res.statusCode, serviceCode: code }),
        description: code ? `${code}: ${message ?? '(no message)'}` : `HTTP ${res.statusCode}${message ? `: ${message}` : ''}`,
        retryAfterMs: parseRetryAfter(header(res, 'retry-after'), now(), policy.maxRetryAfterMs),
      };
      if (failure.cls.kind !== 'expired-credentials' || refresh.used) throw new FailedAttempt(failure, n);
      refresh.used = true;
      forceRefresh = true;
      log.debug(
        { operation, statusCode: res.statusCode, serviceCode: code, requestId },
        `${operation}: credentials expired, refreshing them once`,
      );
    }
  }

  /** One attempt on the wire: the HTTP answer, or a network failure (an abort is thrown). */
  async function send<T>(
    operation: Operation,
    headers: Record<string, string>,
    body: string,
    spec: CallSpec<T>,
    attempt: number,
  ): Promise<{ response: TransportResponse } | { failure: Failure }> {
    try {
      return { response: await transport.post({ url, headers, body, readTimeoutMs: spec.readTimeoutMs, signal: spec.signal }) };
    } catch (err) {
      const e = err instanceof TransportError ? err : new TransportError(toError(err).message, 'ENETWORK', { cause: err });
      if (e.code === 'ABORTED') throw cancelled(operation, attempt, e);
      return {
        failure: {
          fields: { operation, networkCode: e.code, cause: e },
          cls: classifyFailure({ networkCode: e.code, networkMessage: e.message }),
          description: e.code === 'READ_TIMEOUT' ? e.message : `network error ${e.code}: ${e.message}`,
        },
      };
    }
  }

  function logCall(operation: Operation, status: number | string, started: number, attempts: number, requestId?: string): void {
    const seconds = (now() - started) / 1000;
    const retries = attempts - 1;
    log.debug(
      { operation, statusCode: status, durationMs: Math.round(seconds * 1000), retries, requestId },
      `[CodeDeployCommand::Client ${status} ${seconds.toFixed(3)} ${retries} retries] ${operation}`,
    );
  }

  return {
    pollHostCommand: (hostIdentifier, signal) =>
      call({
        operation: 'PollHostCommand',
        input: { HostIdentifier: hostIdentifier },
        readTimeoutMs: pollTimeout,
        parse: parsePollOutput,
        signal,
      }),
    getDeploymentSpecification: (deploymentExecutionId, hostIdentifier) =>
      call({
        operation: 'GetDeploymentSpecification',
        input: { DeploymentExecutionId: deploymentExecutionId, HostIdentifier: hostIdentifier },
        readTimeoutMs: otherTimeout,
        parse: parseSpecOutput,
      }),
    putHostCommandAcknowledgement: (hostCommandIdentifier, isNoop) =>
      call({
        operation: 'PutHostCommandAcknowledgement',
        input: {
          HostCommandIdentifier: hostCommandIdentifier,
          Diagnostics: { Format: 'JSON', Payload: JSON.stringify({ IsCommandNoop: isNoop }) },
        },
        readTimeoutMs: otherTimeout,
        parse: parseStatusOutput,
      }),
    putHostCommandComplete: (hostCommandIdentifier, status, diagnostics) =>
      call({
        operation: 'PutHostCommandComplete',
        input: {
          HostCommandIdentifier: hostCommandIdentifier,
          CommandStatus: status,
          Diagnostics: { Format: 'JSON', Payload: diagnosticsPayload(diagnostics) },
        },
        readTimeoutMs: otherTimeout,
        parse: parseEmptyOutput,
      }),
    postHostCommandUpdate: (hostCommandIdentifier, { estimatedCompletionTime, diagnostics }) => {
      const input: Record<string, unknown> = { HostCommandIdentifier: hostCommandIdentifier };
      // JSON 1.1 timestamps are epoch seconds.
      if (estimatedCompletionTime) input.EstimatedCompletionTime = estimatedCompletionTime.getTime() / 1000;
      if (diagnostics) input.Diagnostics = { Format: 'JSON', Payload: diagnosticsPayload(diagnostics) };
      return call({ operation: 'PostHostCommandUpdate', input, readTimeoutMs: otherTimeout, parse: parseStatusOutput });
    },
    close: () => transport.close(),
  };
}
