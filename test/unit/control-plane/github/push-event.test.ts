import { describe, expect, it } from 'vitest';
import { parseDelivery, type Delivery } from '../../../../control-plane/github/push-event.js';

const SHA = '0123456789abcdef0123456789abcdef01234567';
const ZERO = '0'.repeat(40);

/** A push payload as GitHub sends it (the fields deploy-on-push reads, plus some it does not). */
function push(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    ref: 'refs/heads/main',
    before: ZERO,
    after: SHA,
    created: true,
    deleted: false,
    forced: false,
    repository: { id: 1, name: 'hello-app', full_name: 'demo/hello-app', owner: { login: 'demo' } },
    pusher: { name: 'octocat', email: 'octocat@example.com' },
    head_commit: { id: SHA, message: 'Ship it\n\nLonger body', timestamp: '2024-01-01T00:00:00Z' },
    commits: [],
    ...overrides,
  };
}

function json(event: string | string[] | undefined, payload: unknown, contentType = 'application/json'): Delivery {
  return parseDelivery({ event, contentType, body: Buffer.from(JSON.stringify(payload)) });
}

describe('parseDelivery', () => {
  it('reads a branch push', () => {
    expect(json('push', push())).toEqual({
      kind: 'push',
      push: {
        repository: 'demo/hello-app',
        ref: 'refs/heads/main',
        branch: 'main',
        commitId: SHA,
        headCommitMessage: 'Ship it\n\nLonger body',
        pusher: 'octocat',
      },
    });
  });

  it('reads a branch with slashes, a 64-digit commit id and a push without head_commit or pusher', () => {
    const sha256 = 'ab'.repeat(32);
    const d = json('push', push({ ref: 'refs/heads/release/v2', after: sha256, head_commit: null, pusher: undefined }));
    expect(d).toEqual({
      kind: 'push',
      push: { repository: 'demo/hello-app', ref: 'refs/heads/release/v2', branch: 'release/v2', commitId: sha256 },
    });
  });

  it('takes the payload field of a form-encoded delivery', () => {
    const body = Buffer.from(new URLSearchParams({ payload: JSON.stringify(push()) }).toString());
    const d = parseDelivery({ event: 'push', contentType: 'application/x-www-form-urlencoded', body });
    expect(d.kind === 'push' && d.push.commitId).toBe(SHA);
  });

  it('accepts a charset parameter on the content type', () => {
    expect(json('push', push(), 'application/json; charset=utf-8').kind).toBe('push');
  });

  it.each([
    ['a branch deletion (after all zeros)', push({ after: ZERO, deleted: true, head_commit: null }), /branch main was deleted/],
    ['a deletion flagged only by deleted', push({ deleted: true }), /was deleted/],
    ['a tag push', push({ ref: 'refs/tags/v1.0.0' }), /refs\/tags\/v1.0.0 is not a branch/],
    ['a note ref', push({ ref: 'refs/notes/commits' }), /is not a branch/],
  ])('ignores %s', (_name, payload, reason) => {
    const d = json('push', payload);
    expect(d.kind).toBe('ignored');
    expect(d.kind === 'ignored' && d.reason).toMatch(reason);
  });

  it('ignores events other than push and ping, without reading the body', () => {
    const d = parseDelivery({ event: 'pull_request', contentType: 'text/plain', body: Buffer.from('not json') });
    expect(d).toEqual({ kind: 'ignored', reason: 'event "pull_request" is not a push' });
  });

  it('answers a ping', () => {
    expect(json('ping', { zen: 'Keep it logically awesome.', hook_id: 42 })).toEqual({ kind: 'ping', hookId: 42 });
  });

  it.each([
    ['no event header', undefined, push(), 400, /X-GitHub-Event header is missing/],
    ['two event headers', ['push', 'push'], push(), 400, /more than once/],
    ['no ref', 'push', push({ ref: undefined }), 400, /no ref/],
    ['no after', 'push', push({ after: undefined }), 400, /no after/],
    ['a short after', 'push', push({ after: 'abc123' }), 400, /not a commit id/],
    ['no repository', 'push', push({ repository: undefined }), 400, /repository.full_name/],
    ['a bad full_name', 'push', push({ repository: { full_name: 'a/b/c' } }), 400, /is not "owner\/repo"/],
    ['a dot-dot full_name', 'push', push({ repository: { full_name: '../etc' } }), 400, /is not "owner\/repo"/],
    ['a bad branch name', 'push', push({ ref: 'refs/heads/a..b' }), 400, /not a valid branch name/],
    ['an array payload', 'push', [push()], 400, /must be a JSON object/],
  ])('refuses %s', (_name, event, payload, status, message) => {
    const d = json(event, payload);
    expect(d.kind).toBe('invalid');
    if (d.kind === 'invalid') {
      expect(d.status).toBe(status);
      expect(d.message).toMatch(message);
    }
  });

  it('refuses a body that is not JSON, a form without payload and an unknown content type', () => {
    expect(parseDelivery({ event: 'push', contentType: 'application/json', body: Buffer.from('{"ref":') })).toMatchObject({
      kind: 'invalid',
      status: 400,
      message: expect.stringMatching(/not JSON/),
    });
    expect(parseDelivery({ event: 'push', contentType: 'application/x-www-form-urlencoded', body: Buffer.from('a=1') })).toMatchObject({
      kind: 'invalid',
      message: expect.stringMatching(/no payload field/),
    });
    expect(parseDelivery({ event: 'push', contentType: 'text/plain', body: Buffer.from('{}') })).toMatchObject({
      kind: 'invalid',
      status: 415,
    });
    expect(parseDelivery({ event: 'push', contentType: undefined, body: Buffer.from('{}') })).toMatchObject({
      kind: 'invalid',
      status: 415,
    });
  });

  it('bounds the head commit message', () => {
    const d = json('push', push({ head_commit: { id: SHA, message: 'x'.repeat(100_000) } }));
    expect(d.kind === 'push' && d.push.headCommitMessage?.length).toBe(1000);
  });
});
