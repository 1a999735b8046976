/**
 * What a SigV4 Authorization header says about the request without verifying it (the local control
 * plane accepts any credentials): the service name of its credential scope, which tells apart the
 * Query APIs sharing `POST /` (ELBv2, SNS, STS) before their bodies are read, and the access key
 * id, for answers and logs that name the caller.
 */
import type { IncomingMessage } from 'node:http';

/** The service of `Credential=<key>/<date>/<region>/<service>/aws4_request`, if the request is signed. */
export function credentialService(req: IncomingMessage): string | undefined {
  const auth = req.headers.authorization;
  if (typeof auth !== 'string') return undefined;
  const m = /Credential=[^/,\s]+\/\d{8}\/[^/,\s]+\/([^/,\s]+)\/aws4_request/.exec(auth);
  return m?.[1];
}

/** The access key id of a signed request, when it is a plausible one (letters and digits, at most 128). */
export function credentialAccessKeyId(req: IncomingMessage): string | undefined {
  const auth = req.headers.authorization;
  if (typeof auth !== 'string') return undefined;
  const m = /Credential=([A-Za-z0-9]{1,128})\//.exec(auth);
  return m?.[1];
}
