/**
 * The flags of `codedeploy-control-plane` that decide how clients reach it and its revisions:
 * `--tls` (HTTPS on the one port), `--tls-name`, `--tls-cert`/`--tls-key`, and `--s3-endpoint` with
 * its credentials; and the start-up banner lines that tell agents and the aws CLI what to set.
 * Kept apart from control-plane-command.ts so the command only wires them in.
 */
import { resolve } from 'node:path';
import type { ControlPlane, ControlPlaneOptions } from '../server.js';
import { tlsNameProblem } from '../signing/tls-certificate.js';

/** parseArgs option specs. */
export const ENDPOINT_FLAG_OPTIONS = {
  tls: { type: 'boolean' },
  'tls-name': { type: 'string', multiple: true },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  's3-endpoint': { type: 'string' },
  's3-access-key-id': { type: 'string' },
  's3-secret-access-key': { type: 'string' },
} as const;

export const ENDPOINT_FLAGS_HELP = `  --tls                   serve every API over HTTPS, with a certificate issued by the CA below and
                          kept in DATA_DIR/tls (agents, SDKs and the aws CLI trust the CA file)
  --tls-name NAME         one more DNS name or IP address for that certificate (repeatable), e.g.
                          the container name other hosts use; localhost, 127.0.0.1, ::1 and a
                          specific --host are always in it
  --tls-cert FILE         serve HTTPS with this certificate (PEM, chain after it) ...
  --tls-key FILE          ... and its private key instead (implies --tls)
  --s3-endpoint URL       an external S3-compatible store (MinIO, LocalStack, ...): agents download
                          revisions from it and CreateDeployment pins revisions by looking them up
                          there (the built-in S3 endpoint stays available)
  --s3-access-key-id ID   credentials for --s3-endpoint ...
  --s3-secret-access-key KEY
                          ... (default: the AWS environment variables and shared files)
`;

export interface EndpointFlagValues {
  tls?: boolean;
  'tls-name'?: string[];
  'tls-cert'?: string;
  'tls-key'?: string;
  's3-endpoint'?: string;
  's3-access-key-id'?: string;
  's3-secret-access-key'?: string;
}

export type EndpointSettings = Pick<
  ControlPlaneOptions,
  'tls' | 'tlsNames' | 'tlsCertFile' | 'tlsKeyFile' | 's3Endpoint' | 's3Credentials'
>;

/** The settings, or a one-line usage error naming the flag. */
export function readEndpointFlags(v: EndpointFlagValues): EndpointSettings | { error: string } {
  if ((v['tls-cert'] === undefined) !== (v['tls-key'] === undefined))
    return { error: '--tls-cert and --tls-key go together: give both or neither' };
  const tls = v.tls === true || v['tls-cert'] !== undefined;
  const names = v['tls-name'] ?? [];
  if (names.length > 0 && !tls) return { error: '--tls-name needs --tls (it names the HTTPS certificate)' };
  if (names.length > 0 && v['tls-cert'] !== undefined)
    return { error: '--tls-name is for the certificate the control plane issues; with --tls-cert, put the names in your certificate' };
  for (const name of names) {
    const problem = tlsNameProblem(name);
    if (problem) return { error: `--tls-name ${problem}` };
  }
  const endpoint = v['s3-endpoint'];
  let s3Endpoint: string | undefined;
  if (endpoint !== undefined) {
    let url: URL;
    try {
      url = new URL(endpoint);
    } catch {
      return { error: `--s3-endpoint must be a URL such as http://127.0.0.1:9000, got "${endpoint}"` };
    }
    if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.search !== '' || url.hash !== '')
      return { error: `--s3-endpoint must be an http:// or https:// URL without a query, got "${endpoint}"` };
    s3Endpoint = endpoint.replace(/\/+$/, '');
  }
  const keyId = v['s3-access-key-id'];
  const secret = v['s3-secret-access-key'];
  if ((keyId === undefined) !== (secret === undefined))
    return { error: '--s3-access-key-id and --s3-secret-access-key go together: give both or neither' };
  if (keyId !== undefined && s3Endpoint === undefined)
    return { error: '--s3-access-key-id is for --s3-endpoint (the built-in S3 endpoint accepts any credentials)' };
  return {
    ...(tls ? { tls: true } : {}),
    ...(names.length > 0 ? { tlsNames: names } : {}),
    ...(v['tls-cert'] !== undefined ? { tlsCertFile: resolve(v['tls-cert']) } : {}),
    ...(v['tls-key'] !== undefined ? { tlsKeyFile: resolve(v['tls-key']) } : {}),
    ...(s3Endpoint !== undefined ? { s3Endpoint } : {}),
    ...(keyId !== undefined && secret !== undefined ? { s3Credentials: { accessKeyId: keyId, secretAccessKey: secret } } : {}),
  };
}

/** The banner's agent and aws CLI lines. */
export function endpointBannerLines(cp: Pick<ControlPlane, 'url' | 's3EndpointForAgents' | 'caCertificatePath' | 'tls'>): string[] {
  const caBundle = cp.tls ? (cp.tls.caBundlePath ?? `<the CA file that issued ${cp.tls.certificatePath}>`) : undefined;
  return [
    `  agents:  :deploy_control_endpoint: ${cp.url}   :s3_endpoint_override: ${cp.s3EndpointForAgents}   :github_api_url: ${cp.url}/github`,
    `           :deployment_spec_ca_file: ${cp.caCertificatePath}`,
    ...(caBundle !== undefined ? [`           :ca_bundle: ${caBundle}`] : []),
    `  aws CLI: aws deploy list-applications --endpoint-url ${cp.url}${caBundle !== undefined ? ` --ca-bundle ${caBundle}` : ''}`,
    ...(caBundle !== undefined ? [`           (or export AWS_CA_BUNDLE=${caBundle})`] : []),
  ];
}
