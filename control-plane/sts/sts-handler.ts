/**
 * The one STS call clients make before they talk to a service: GetCallerIdentity (the Query API,
 * version 2011-06-15, signed for `sts`). Terraform's AWS provider asks it for the account id it
 * builds ARNs with (unless `skip_requesting_account_id`), and scripts use
 * `aws sts get-caller-identity` to check their setup. The answer names this control plane's
 * account and the caller's access key id (any credentials are accepted, so nothing is verified);
 * every other STS action is InvalidAction, saying that only this one is served.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { credentialAccessKeyId, credentialService } from '../http/credential-scope.js';
import { readBoundedBody } from '../http/bounded-body.js';
import type { HttpHandler } from '../http/route.js';
import type { ControlPlaneIdentity } from '../model.js';
import { escapeXml } from '../traffic/elbv2-wire.js';

const STS_NAMESPACE = 'https://sts.amazonaws.com/doc/2011-06-15/';
/** A GetCallerIdentity body is a few dozen bytes. */
const MAX_BODY_BYTES = 16 * 1024;

/** Whether a request is for STS: `POST /` signed for the `sts` service. */
export function isStsRequest(req: IncomingMessage): boolean {
  return credentialService(req) === 'sts';
}

function sendXml(res: ServerResponse, status: number, xml: string, requestId: string): void {
  const body = `<?xml version="1.0" encoding="UTF-8"?>\n${xml}`;
  res.writeHead(status, { 'content-type': 'text/xml', 'content-length': Buffer.byteLength(body), 'x-amzn-requestid': requestId });
  res.end(body);
}

function errorXml(code: string, message: string, requestId: string): string {
  return `<ErrorResponse xmlns="${STS_NAMESPACE}"><Error><Type>Sender</Type><Code>${code}</Code><Message>${escapeXml(message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`;
}

export function createStsHandler(o: { identity: ControlPlaneIdentity }): HttpHandler {
  return async (req, res) => {
    if (req.method !== 'POST' || (req.url ?? '').split('?', 1)[0] !== '/' || !isStsRequest(req)) return false;
    const requestId = randomUUID();
    const body = await readBoundedBody(req, res, MAX_BODY_BYTES);
    if (!body) {
      sendXml(res, 413, errorXml('ValidationError', `The request body is larger than ${MAX_BODY_BYTES} bytes.`, requestId), requestId);
      return true;
    }
    const action = new URLSearchParams(body.toString('utf8')).get('Action') ?? '';
    if (action !== 'GetCallerIdentity') {
      const shown = action === '' ? 'no Action' : `Action ${JSON.stringify(action.slice(0, 100))}`;
      sendXml(
        res,
        400,
        errorXml('InvalidAction', `${shown}: the local control plane's STS answers GetCallerIdentity only.`, requestId),
        requestId,
      );
      return true;
    }
    const keyId = credentialAccessKeyId(req) ?? 'anonymous';
    const account = o.identity.accountId;
    sendXml(
      res,
      200,
      `<GetCallerIdentityResponse xmlns="${STS_NAMESPACE}"><GetCallerIdentityResult>` +
        `<Arn>arn:aws:iam::${account}:user/${escapeXml(keyId)}</Arn><UserId>${escapeXml(keyId)}</UserId><Account>${account}</Account>` +
        `</GetCallerIdentityResult><ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></GetCallerIdentityResponse>`,
      requestId,
    );
    return true;
  };
}
