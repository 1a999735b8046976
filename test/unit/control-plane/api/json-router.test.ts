/**
 * The JSON 1.1 front door: routing by X-Amz-Target, the AWS error shape (status, __type,
 * x-amzn-ErrorType), body limits, and that unexpected failures do not leak details.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiError } from '../../../../control-plane/api/api-error.js';
import { accessKeyIdOf, createJsonRouter } from '../../../../control-plane/api/json-router.js';
import { captureLogger } from '../../../helpers/temp.js';

describe('JSON 1.1 router', () => {
  let server: http.Server;
  let url: string;
  const { logger, lines } = captureLogger();
  const seen: { input: unknown; key?: string; version?: string }[] = [];

  beforeAll(async () => {
    const router = createJsonRouter({
      logger,
      shutdown: new AbortController().signal,
      maxBodyBytes: 200,
      apis: [
        {
          name: 'Demo',
          targetPrefixes: ['Demo_20200101'],
          internalErrorCode: 'InternalFailure',
          operations: {
            Echo: (input, ctx) => {
              seen.push({ input, key: ctx.accessKeyId, version: ctx.packageVersion });
              return { got: input };
            },
            Refuse: () => {
              throw new ApiError('ThingDoesNotExistException', 'No thing named x.');
            },
            Crash: () => {
              throw new Error('secret internal detail /var/lib/x');
            },
          },
        },
      ],
    });
    server = http.createServer((req, res) => {
      void router(req, res).then((handled) => {
        if (!handled) res.writeHead(404).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const post = async (target: string | undefined, body: string, headers: Record<string, string> = {}) => {
    const res = await fetch(url, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/x-amz-json-1.1', ...(target ? { 'x-amz-target': target } : {}), ...headers },
    });
    return {
      status: res.status,
      type: res.headers.get('x-amzn-errortype'),
      requestId: res.headers.get('x-amzn-requestid'),
      json: (await res.json().catch(() => undefined)) as Record<string, unknown> | undefined,
    };
  };

  it('dispatches by target and answers 200 JSON with a request id', async () => {
    const r = await post('Demo_20200101.Echo', '{"a":1}', {
      authorization:
        'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261128/us-east-1/codedeploy/aws4_request, SignedHeaders=host, Signature=abc',
      'x-amz-codedeploy-agent-version': 'v1',
    });
    expect(r).toMatchObject({ status: 200, type: null, json: { got: { a: 1 } } });
    expect(r.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(seen.at(-1)).toEqual({ input: { a: 1 }, key: 'AKIDEXAMPLE', version: 'v1' });
    expect((await post('Demo_20200101.Echo', '')).json).toEqual({ got: {} });
  });

  it('answers ApiErrors in the AWS shape and hides unexpected failures', async () => {
    expect(await post('Demo_20200101.Refuse', '{}')).toMatchObject({
      status: 400,
      type: 'ThingDoesNotExistException',
      json: { __type: 'ThingDoesNotExistException', message: 'No thing named x.' },
    });
    const crash = await post('Demo_20200101.Crash', '{}');
    expect(crash).toMatchObject({ status: 500, type: 'InternalFailure' });
    expect(String(crash.json?.message)).not.toContain('secret internal detail');
    expect(lines().some((l) => l.msg === 'Crash failed unexpectedly')).toBe(true);
  });

  it('names unknown targets and operations, and refuses bad bodies', async () => {
    const op = await post('Demo_20200101.Nope', '{}');
    expect(op).toMatchObject({ status: 400, type: 'UnknownOperationException' });
    expect(op.json?.message).toBe(
      'The local control plane does not implement Demo operation Nope. Supported operations: Crash, Echo, Refuse.',
    );
    expect((await post('Other_1.Echo', '{}')).json?.message).toContain('answers Demo_20200101.*');
    expect(await post('Demo_20200101.Echo', '{not json')).toMatchObject({ status: 400, type: 'SerializationException' });
    expect(await post('Demo_20200101.Echo', '[1,2]')).toMatchObject({ status: 400, type: 'SerializationException' });
    expect(await post('Demo_20200101.Echo', JSON.stringify({ big: 'x'.repeat(500) }))).toMatchObject({
      status: 413,
      type: 'SerializationException',
    });
    expect((await fetch(url, { method: 'POST', body: '{}' })).status).toBe(404);
  });

  it('reads the access key id from a SigV4 Authorization header', () => {
    expect(accessKeyIdOf('AWS4-HMAC-SHA256 Credential=AKID123/20260101/us-east-1/s3/aws4_request, X')).toBe('AKID123');
    expect(accessKeyIdOf(undefined)).toBeUndefined();
    expect(accessKeyIdOf('Bearer token')).toBeUndefined();
  });
});
