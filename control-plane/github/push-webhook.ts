/**
 * `POST /github/webhook`: a GitHub-compatible push webhook, so that a push (to GitHub, or to a
 * local bare repository with scripts/git/post-receive) deploys the groups that follow the branch.
 *
 * The steps of a delivery and their answers (JSON bodies with a `message`):
 *   - not POST: 405;
 *   - no configuration file (push-config.ts): 404, deploy-on-push is off on this control plane;
 *   - a body over 1 MiB: 413, and the connection is closed;
 *   - an invalid configuration file: 503 (the issues go to the log, not to the caller);
 *   - X-Hub-Signature-256 missing or wrong (push-signature.ts): 401; nothing else is looked at;
 *   - `ping`: 200; other events, tag pushes and branch deletions: 202 with why it was ignored;
 *   - a payload that is not a push GitHub would send: 400 (415 for an unknown content type);
 *   - a push: a deployment per following group (push-deployer.ts), then 201 when at least one was
 *     created, 200 when no group follows the branch, 422 when every following group refused;
 *     the body lists the created deployment ids and each group's refusal.
 * One INFO line per verified delivery (delivery id, event, repository, ref, commit, deployments);
 * a refused signature is a WARN line. Neither the secret nor the signature is ever logged.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { DeploymentEngine } from '../engine/engine.js';
import { readBoundedBody } from '../http/bounded-body.js';
import type { HttpHandler } from '../http/route.js';
import { clip } from '../log/clip.js';
import type { PushConfigReader } from './push-config-reader.js';
import { deployPush } from './push-deployer.js';
import { DELIVERY_HEADER, EVENT_HEADER, parseDelivery } from './push-event.js';
import { SIGNATURE_HEADER, verifySignature } from './push-signature.js';

export const WEBHOOK_MAX_BODY_BYTES = 1024 * 1024;

export interface PushWebhookOptions {
  /** The route, e.g. '/github/webhook'. */
  path: string;
  config: PushConfigReader;
  engine: Pick<DeploymentEngine, 'createDeployment'>;
  logger: Logger;
  /** Body limit; default WEBHOOK_MAX_BODY_BYTES. */
  maxBodyBytes?: number;
}

function send(res: ServerResponse, status: number, body: Record<string, unknown>, headers: Record<string, string> = {}): void {
  if (res.headersSent) return void res.destroy();
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return typeof value === 'string' ? value : undefined;
}

export function createPushWebhookHandler(o: PushWebhookOptions): HttpHandler {
  const maxBody = o.maxBodyBytes ?? WEBHOOK_MAX_BODY_BYTES;
  const { logger } = o;

  return async (req, res) => {
    const path = (req.url ?? '').split(/[?#]/, 1)[0];
    if (path !== o.path) return false;
    if (req.method !== 'POST') {
      send(res, 405, { message: `${o.path} takes POST (GitHub push webhook deliveries)` }, { allow: 'POST' });
      return true;
    }
    const current = await o.config.read();
    if (current.state === 'absent') {
      send(res, 404, {
        message:
          'deploy-on-push is not configured on this control plane: create push-deployments.yml in its data dir (or start it with --push-config FILE)',
      });
      return true;
    }
    const body = await readBoundedBody(req, res, maxBody);
    if (!body) {
      send(res, 413, { message: `the delivery is larger than ${maxBody} bytes` });
      return true;
    }
    if (current.state === 'invalid') {
      send(res, 503, { message: 'the deploy-on-push configuration of this control plane is invalid; its log says why' });
      return true;
    }

    const delivery = clip(header(req, DELIVERY_HEADER) ?? '', 100);
    const event = req.headers[EVENT_HEADER];
    const check = verifySignature(current.config.secret, body, req.headers[SIGNATURE_HEADER]);
    if (!check.ok) {
      logger.warn({ delivery, remote: req.socket.remoteAddress }, `Webhook delivery refused: ${check.reason}`);
      send(res, 401, { message: `signature refused: ${check.reason}` });
      return true;
    }

    const parsed = parseDelivery({ event, contentType: header(req, 'content-type'), body });
    const shownEvent = typeof event === 'string' ? clip(event, 100) : undefined;
    switch (parsed.kind) {
      case 'ping':
        logger.info({ delivery, event: shownEvent, hookId: parsed.hookId }, 'Webhook ping');
        send(res, 200, { message: 'pong: deploy-on-push is configured and the signature verified' });
        return true;
      case 'ignored':
        logger.info({ delivery, event: shownEvent }, `Webhook delivery ignored: ${parsed.reason}`);
        send(res, 202, { message: `ignored: ${parsed.reason}` });
        return true;
      case 'invalid':
        logger.warn({ delivery, event: shownEvent }, `Webhook delivery refused: ${parsed.message}`);
        send(res, parsed.status, { message: parsed.message });
        return true;
      case 'push':
        break;
    }

    const { push } = parsed;
    const outcome = deployPush({ engine: o.engine, rules: current.config.follow, push, logger });
    const ids = outcome.deployments.map((d) => d.deploymentId);
    logger.info(
      {
        delivery,
        repository: push.repository,
        ref: push.ref,
        commitId: push.commitId,
        deployments: ids,
        ...(outcome.errors.length > 0 ? { refused: outcome.errors.map((e) => `${e.deploymentGroupName}: ${e.error.code}`) } : {}),
      },
      `Push to ${push.repository} ${push.branch} at ${push.commitId.slice(0, 7)}: ${ids.length} deployment(s) created`,
    );
    const status = outcome.deployments.length > 0 ? 201 : outcome.matched === 0 ? 200 : 422;
    const message =
      outcome.matched === 0
        ? `no deployment group follows ${push.repository} branch ${push.branch}`
        : `${outcome.deployments.length} of ${outcome.matched} following deployment group(s) deploy ${push.commitId}`;
    send(res, status, {
      message,
      repository: push.repository,
      ref: push.ref,
      commitId: push.commitId,
      deployments: outcome.deployments,
      errors: outcome.errors,
    });
    return true;
  };
}
