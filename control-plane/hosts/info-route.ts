/**
 * GET /_control-plane/info: what a host needs to know about this control plane before it can be
 * attached (`codedeploy-control-plane add-host` reads it): the region and account id that go into
 * its identity, the CA certificate that signs deployment specifications, and where agents fetch
 * S3 revisions. Unauthenticated like /_health: all of it is public (the CA certificate is what
 * every agent is given anyway). Bucket names cannot start with "_", so S3 never owns this path.
 */
import type { HttpHandler } from '../http/route.js';

export const CONTROL_PLANE_INFO_PATH = '/_control-plane/info';

/** The JSON body; `service` tells a control plane from some other server on the port. */
export interface ControlPlaneInfo {
  service: 'codedeploy-control-plane';
  version: string;
  region: string;
  accountId: string;
  /** PEM of the CA certificate agents trust for deployment specifications. */
  caCertificate: string;
  /** Where agents download S3 revisions (:s3_endpoint_override:) when it is not this control plane. */
  s3Endpoint?: string;
}

export function createInfoHandler(info: () => ControlPlaneInfo): HttpHandler {
  return async (req, res) => {
    if (req.method !== 'GET' || (req.url ?? '') !== CONTROL_PLANE_INFO_PATH) return false;
    const body = JSON.stringify(info());
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
    res.end(body);
    return true;
  };
}
