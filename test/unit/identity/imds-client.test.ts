import { afterEach, describe, expect, it } from 'vitest';
import { AgentError } from '../../../agent/errors.js';
import {
  createImdsClient,
  imdsStatus,
  V2_FALLBACK_WARNING,
  V2_TOKEN_ERROR,
  type ImdsClientOptions,
} from '../../../agent/identity/imds-client.js';
import { closedEndpoint, startFakeImds, type FakeImds, type FakeImdsOptions } from '../../helpers/fake-imds.js';
import { captureLogger } from '../../helpers/temp.js';

const TOKEN = '/latest/api/token';
const INSTANCE_ID = '/latest/meta-data/instance-id';

let fake: FakeImds | undefined;
afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

async function setup(fakeOptions: FakeImdsOptions = {}, clientOptions: Partial<ImdsClientOptions> = {}) {
  fake = await startFakeImds(fakeOptions);
  const log = captureLogger();
  const delays: number[] = [];
  const client = createImdsClient({
    endpoint: fake.url,
    disableV1: false,
    logger: log.logger,
    sleep: (ms) => {
      delays.push(ms);
      return Promise.resolve();
    },
    ...clientOptions,
  });
  const warnings = () =>
    log
      .lines()
      .filter((l) => l.level === 40)
      .map((l) => l.msg);
  return { fake, client, delays, warnings };
}

describe('IMDS client', () => {
  it('fetches one v2 token (with the 21600 s TTL header) and reuses it for every GET', async () => {
    const { fake, client, warnings } = await setup();
    expect(await client.get(INSTANCE_ID)).toBe('i-deadbeef');
    expect(await client.get('/latest/meta-data/services/partition')).toBe('aws');
    expect(await client.get('latest/meta-data/placement/region')).toBe('us-east-1');
    const puts = fake.callsTo(TOKEN, 'PUT');
    expect(puts).toHaveLength(1);
    expect(puts[0]?.ttlHeader).toBe('21600');
    const gets = fake.calls.filter((c) => c.method === 'GET');
    expect(gets).toHaveLength(3);
    expect(gets.every((c) => c.token === fake.tokens[0] && c.status === 200)).toBe(true);
    expect(client.mode()).toBe('v2');
    expect(warnings()).toEqual([]);
  });

  it('trims whitespace around values', async () => {
    const { client } = await setup({ padValues: true });
    expect(await client.get(INSTANCE_ID)).toBe('i-deadbeef');
    expect(await client.get('/latest/meta-data/services/partition')).toBe('aws');
  });

  it('refreshes the token at 80% of its TTL', async () => {
    let clock = 1_000_000;
    const { fake, client } = await setup({}, { now: () => clock, tokenTtlSeconds: 100 });
    await client.get(INSTANCE_ID);
    clock += 79_000;
    await client.get(INSTANCE_ID);
    expect(fake.callsTo(TOKEN, 'PUT')).toHaveLength(1);
    clock += 2_000;
    await client.get(INSTANCE_ID);
    expect(fake.callsTo(TOKEN, 'PUT')).toHaveLength(2);
    const gets = fake.callsTo(INSTANCE_ID);
    expect(gets.map((c) => c.token)).toEqual([fake.tokens[0], fake.tokens[0], fake.tokens[1]]);
  });

  it('on a 401 drops the token, fetches a new one and retries once', async () => {
    const { fake, client, delays } = await setup();
    await client.get(INSTANCE_ID);
    fake.expireTokens();
    expect(await client.get(INSTANCE_ID)).toBe('i-deadbeef');
    expect(fake.callsTo(INSTANCE_ID).map((c) => c.status)).toEqual([200, 401, 200]);
    expect(fake.callsTo(TOKEN, 'PUT')).toHaveLength(2);
    expect(fake.callsTo(INSTANCE_ID)[2]?.token).toBe(fake.tokens[1]);
    expect(delays).toEqual([]);
  });

  it('falls back to IMDSv1 with the official warning when the token PUT is refused', async () => {
    const { fake, client, warnings } = await setup({ mode: 'v1-only' });
    expect(await client.get(INSTANCE_ID)).toBe('i-deadbeef');
    expect(await client.get('/latest/meta-data/services/partition')).toBe('aws');
    expect(warnings()).toEqual([V2_FALLBACK_WARNING]);
    // A refusal (403) is final at once and remembered: one PUT, then plain GETs without a token.
    expect(fake.callsTo(TOKEN, 'PUT')).toHaveLength(1);
    expect(fake.calls.filter((c) => c.method === 'GET').every((c) => c.token === undefined && c.status === 200)).toBe(true);
    expect(client.mode()).toBe('v1');
  });

  it('retries a failing token PUT with backoff before falling back', async () => {
    const { fake, client, delays, warnings } = await setup({ mode: 'both' });
    fake.failNext(3, { method: 'PUT', status: 503 });
    expect(await client.get(INSTANCE_ID)).toBe('i-deadbeef');
    expect(fake.callsTo(TOKEN, 'PUT').map((c) => c.status)).toEqual([503, 503, 503]);
    expect(delays).toEqual([250, 500]);
    expect(warnings()).toEqual([V2_FALLBACK_WARNING]);
    expect(fake.callsTo(INSTANCE_ID)[0]?.token).toBeUndefined();
  });

  it('with disableV1 raises the official error after the attempts, and never sends a v1 GET', async () => {
    const { fake, client, delays } = await setup({ mode: 'both' }, { disableV1: true });
    fake.failNext(3, { method: 'PUT', status: 500 });
    const err = await client.get(INSTANCE_ID).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AgentError);
    expect((err as AgentError).message).toBe(V2_TOKEN_ERROR);
    expect((err as AgentError).code).toBe('CDA_ERR_IDENTITY');
    expect(fake.callsTo(TOKEN, 'PUT')).toHaveLength(3);
    expect(delays).toEqual([250, 500]);
    expect(fake.calls.filter((c) => c.method === 'GET')).toEqual([]);
  });

  it('with disableV1 against a v1-only IMDS raises the official error', async () => {
    const { fake, client, warnings } = await setup({ mode: 'v1-only', tokenRefusalStatus: 404 }, { disableV1: true });
    await expect(client.get(INSTANCE_ID)).rejects.toThrow(V2_TOKEN_ERROR);
    expect(fake.callsTo(TOKEN, 'PUT').map((c) => c.status)).toEqual([404]);
    expect(warnings()).toEqual([]);
  });

  it('retries 5xx GETs, counting the attempts, then succeeds', async () => {
    const { fake, client, delays } = await setup();
    fake.failNext(2, { method: 'GET', status: 500 });
    expect(await client.get(INSTANCE_ID)).toBe('i-deadbeef');
    expect(fake.callsTo(INSTANCE_ID).map((c) => c.status)).toEqual([500, 500, 200]);
    expect(delays).toEqual([250, 500]);
  });

  it('gives up after the attempts with the last HTTP status', async () => {
    const { fake, client } = await setup();
    fake.failNext(5, { method: 'GET', status: 502 });
    const err = await client.get(INSTANCE_ID).catch((e: unknown) => e);
    expect(imdsStatus(err)).toBe(502);
    expect((err as Error).message).toBe('HTTP error from metadata service: 502 for /latest/meta-data/instance-id');
    expect(fake.callsTo(INSTANCE_ID)).toHaveLength(3);
  });

  it('does not retry a 404', async () => {
    const { fake, client, delays } = await setup();
    const err = await client.get('/latest/meta-data/nothing-here').catch((e: unknown) => e);
    expect(imdsStatus(err)).toBe(404);
    expect(fake.callsTo('/latest/meta-data/nothing-here')).toHaveLength(1);
    expect(delays).toEqual([]);
  });

  it('available() is true for a v2 IMDS and primes the token', async () => {
    const { fake, client } = await setup();
    expect(await client.available()).toBe(true);
    expect(await client.available()).toBe(true);
    await client.get(INSTANCE_ID);
    expect(fake.callsTo(TOKEN, 'PUT')).toHaveLength(1);
  });

  it('available() is true for a v1-only IMDS unless v1 is disabled', async () => {
    const { client } = await setup({ mode: 'v1-only' });
    expect(await client.available()).toBe(true);
    const strict = createImdsClient({ endpoint: fake!.url, disableV1: true, logger: captureLogger().logger });
    expect(await strict.available()).toBe(false);
  });

  it('available() is false at once when nothing listens, and the answer is cached', async () => {
    const endpoint = await closedEndpoint();
    const client = createImdsClient({ endpoint, disableV1: false, logger: captureLogger().logger });
    const started = Date.now();
    expect(await client.available()).toBe(false);
    expect(await client.available()).toBe(false);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('available() is false within the probe timeout when IMDS black-holes requests, and probes once', async () => {
    const { fake, client } = await setup({}, { probeTimeoutMs: 300 });
    fake.hang(true);
    const started = Date.now();
    expect(await client.available()).toBe(false);
    expect(await client.available()).toBe(false);
    const elapsed = Date.now() - started;
    expect(elapsed).toBeLessThan(3000);
    expect(elapsed).toBeGreaterThanOrEqual(250);
    expect(fake.calls).toHaveLength(1);
    expect(fake.calls[0]).toMatchObject({ method: 'PUT', path: TOKEN, status: 0 });
  });

  it('an unreachable IMDS gives the official token error with disableV1, else a message naming the endpoint', async () => {
    const endpoint = await closedEndpoint();
    const client = createImdsClient({ endpoint, disableV1: true, logger: captureLogger().logger, sleep: () => Promise.resolve() });
    await expect(client.get(INSTANCE_ID)).rejects.toThrow(V2_TOKEN_ERROR);
    const lenient = createImdsClient({ endpoint, disableV1: false, logger: captureLogger().logger, sleep: () => Promise.resolve() });
    await expect(lenient.get(INSTANCE_ID)).rejects.toThrow(`Could not reach the instance metadata service at ${endpoint}`);
  });

  it('a network failure of the token PUT is not remembered as a v1 host', async () => {
    const { fake, client } = await setup({ mode: 'both' }, { timeoutMs: 200, attempts: 1 });
    fake.hang(true);
    await expect(client.get(INSTANCE_ID)).rejects.toThrow(/timed out after 200 ms/);
    fake.hang(false);
    expect(await client.get(INSTANCE_ID)).toBe('i-deadbeef');
    expect(fake.callsTo(INSTANCE_ID).at(-1)?.token).toBe(fake.tokens[0]);
    expect(client.mode()).toBe('v2');
  });

  it('shares one token fetch between concurrent GETs', async () => {
    const { fake, client } = await setup();
    const values = await Promise.all([client.get(INSTANCE_ID), client.get(INSTANCE_ID), client.get(INSTANCE_ID)]);
    expect(values).toEqual(['i-deadbeef', 'i-deadbeef', 'i-deadbeef']);
    expect(fake.callsTo(TOKEN, 'PUT')).toHaveLength(1);
  });
});
