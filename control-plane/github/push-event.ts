/**
 * A GitHub webhook delivery, already signature-checked, decoded into what deploy-on-push acts on.
 * Pure: header values and the raw body in, a classification out.
 *
 * GitHub sends the event name in `X-GitHub-Event` and the payload either as the JSON body
 * (`application/json`) or as the `payload` field of a form (`application/x-www-form-urlencoded`),
 * depending on the webhook's content type setting. Of the payload, a push uses:
 *   ref ("refs/heads/main"), after (the new head commit), deleted, repository.full_name,
 *   head_commit.{id,message} and pusher.name.
 * Classification:
 *   - `ping` (sent when a webhook is created): answered, nothing else;
 *   - any other event but `push`: ignored;
 *   - a push of a tag or of anything that is not a branch, or a branch deletion (`after` all
 *     zeros, or `deleted: true`): ignored, with the reason;
 *   - a push of a branch: the fields above, checked (a commit id is 40 or 64 hex digits).
 * Payloads that are not JSON, or miss a field a push needs, are invalid (a 400 for the sender).
 */
import { isObjectId, isRefName, isValidName } from './local-git.js';
import { clip } from '../log/clip.js';

export const EVENT_HEADER = 'x-github-event';
export const DELIVERY_HEADER = 'x-github-delivery';

/** Longest head commit message kept from a payload (it ends up in a deployment's description). */
const MESSAGE_MAX = 1000;
const BRANCH_PREFIX = 'refs/heads/';

export interface PushEvent {
  /** "owner/repo", as the payload's repository.full_name. */
  repository: string;
  /** The full ref, "refs/heads/main". */
  ref: string;
  /** The branch name, "main". */
  branch: string;
  /** The pushed head commit (the `after` sha). */
  commitId: string;
  /** The head commit's message (bounded); absent when the payload has no head_commit. */
  headCommitMessage?: string;
  /** pusher.name; absent when not given. */
  pusher?: string;
}

export type Delivery =
  | { kind: 'ping'; hookId?: number }
  | { kind: 'ignored'; reason: string }
  | { kind: 'push'; push: PushEvent }
  | { kind: 'invalid'; status: 400 | 415; message: string };

export interface DeliveryInput {
  /** The X-GitHub-Event header. */
  event: string | string[] | undefined;
  /** The Content-Type header. */
  contentType: string | undefined;
  body: Buffer;
}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function invalid(message: string, status: 400 | 415 = 400): Delivery {
  return { kind: 'invalid', status, message };
}

/** The payload text from the body, by content type; a string is an error message. */
function payloadText(contentType: string | undefined, body: Buffer): { text: string } | { error: Delivery } {
  const mediaType = (contentType ?? '').split(';', 1)[0]?.trim().toLowerCase() ?? '';
  if (mediaType === 'application/json') return { text: body.toString('utf8') };
  if (mediaType === 'application/x-www-form-urlencoded') {
    const payload = new URLSearchParams(body.toString('utf8')).get('payload');
    if (payload === null) return { error: invalid('the form body has no payload field (GitHub sends the JSON payload as payload=...)') };
    return { text: payload };
  }
  return {
    error: invalid(
      `the Content-Type must be application/json or application/x-www-form-urlencoded, got ${JSON.stringify(clip(mediaType))}`,
      415,
    ),
  };
}

function stringField(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** Decodes a verified delivery. */
export function parseDelivery(input: DeliveryInput): Delivery {
  const { event } = input;
  if (event === undefined || event === '') return invalid('the X-GitHub-Event header is missing');
  if (Array.isArray(event)) return invalid('the X-GitHub-Event header is given more than once');
  if (event !== 'push' && event !== 'ping') return { kind: 'ignored', reason: `event ${JSON.stringify(clip(event))} is not a push` };

  const decoded = payloadText(input.contentType, input.body);
  if ('error' in decoded) return decoded.error;
  let payload: unknown;
  try {
    payload = JSON.parse(decoded.text);
  } catch (err) {
    return invalid(`the payload is not JSON: ${(err as Error).message}`);
  }
  if (!isObject(payload)) return invalid('the payload must be a JSON object');

  if (event === 'ping') return typeof payload.hook_id === 'number' ? { kind: 'ping', hookId: payload.hook_id } : { kind: 'ping' };
  return parsePush(payload);
}

function parsePush(payload: Json): Delivery {
  const ref = stringField(payload.ref);
  if (ref === undefined) return invalid('the push payload has no ref (such as "refs/heads/main")');
  if (!ref.startsWith(BRANCH_PREFIX)) return { kind: 'ignored', reason: `${clip(ref)} is not a branch` };
  const branch = ref.slice(BRANCH_PREFIX.length);
  if (!isRefName(branch)) return invalid(`the push payload's ref ${JSON.stringify(clip(ref))} is not a valid branch name`);

  const after = stringField(payload.after);
  if (after === undefined) return invalid('the push payload has no after (the pushed commit id)');
  if (payload.deleted === true || /^0+$/.test(after)) return { kind: 'ignored', reason: `branch ${clip(branch)} was deleted` };
  const commitId = after.toLowerCase();
  if (!isObjectId(commitId))
    return invalid(`the push payload's after ${JSON.stringify(clip(after))} is not a commit id (40 or 64 hex digits)`);

  const repository = isObject(payload.repository) ? stringField(payload.repository.full_name) : undefined;
  if (repository === undefined) return invalid('the push payload has no repository.full_name (such as "owner/repo")');
  const [owner = '', name = '', ...more] = repository.split('/');
  if (more.length > 0 || !isValidName(owner) || !isValidName(name)) {
    return invalid(`the push payload's repository.full_name ${JSON.stringify(clip(repository))} is not "owner/repo"`);
  }

  const push: PushEvent = { repository, ref, branch, commitId };
  const headMessage = isObject(payload.head_commit) ? payload.head_commit.message : undefined;
  if (typeof headMessage === 'string') push.headCommitMessage = headMessage.slice(0, MESSAGE_MAX);
  const pusher = isObject(payload.pusher) ? stringField(payload.pusher.name) : undefined;
  if (pusher !== undefined) push.pusher = clip(pusher, 100);
  return { kind: 'push', push };
}
