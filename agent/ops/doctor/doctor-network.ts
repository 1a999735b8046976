/**
 * doctor: can this host reach the commands endpoint, and is its clock right?
 *
 * One real request through the agent's own transport (same proxy and CA bundle settings as the
 * daemon): an unsigned POST / with an empty JSON body and no X-Amz-Target, so it can never be an
 * operation. Any HTTP answer (CodeDeploy says 400/403 to it) proves DNS, routing, the proxy and
 * TLS with certificate verification. The answer's Date header, compared with the midpoint of the
 * request, gives the clock skew that SigV4 cares about (signed requests fail at 15 minutes).
 */
import { createHttpTransport, TransportError } from '../../commands-client/http-transport.js';
import { readCaBundle } from '../../platform/ca-bundle.js';
import { toError } from '../../../common/errors.js';
import { clockSkewCheck, fail, ok, warn, type CheckResult } from './doctor-rules.js';

export interface ProbeOptions {
  proxyUri?: string;
  caBundlePath?: string;
  timeoutMs: number;
}

export interface ProbeOutcome {
  connectivity: CheckResult;
  clock: CheckResult;
}

const TLS_CODES = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|ERR_TLS|ERR_SSL|EPROTO|HOSTNAME_MISMATCH/i;

export async function probeEndpoint(endpoint: string, o: ProbeOptions): Promise<ProbeOutcome> {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return {
      connectivity: fail('connectivity', `${endpoint} is not a URL`, null),
      clock: warn('clock', 'not measured: no endpoint to ask', null),
    };
  }
  const notMeasured = warn(
    'clock',
    `not measured: ${url.host} did not answer`,
    'Fix connectivity first; or compare "date -u" with a trusted clock',
  );
  let ca: string | undefined;
  try {
    ca = readCaBundle(o.caBundlePath);
  } catch (err) {
    return {
      connectivity: fail('connectivity', toError(err).message, 'Point :ca_bundle: (or AWS_CA_BUNDLE) at a readable PEM file, or remove it'),
      clock: notMeasured,
    };
  }
  const transport = createHttpTransport({ ...(o.proxyUri ? { proxyUri: o.proxyUri } : {}), ...(ca ? { ca } : {}) });
  const started = Date.now();
  try {
    const res = await transport.post({
      url,
      headers: { 'content-type': 'application/x-amz-json-1.1' },
      body: '{}',
      readTimeoutMs: o.timeoutMs,
    });
    const ended = Date.now();
    const how =
      url.protocol === 'https:' ? `over TLS (certificate verified${ca ? ` against ${o.caBundlePath}` : ''})` : 'over plain HTTP (no TLS)';
    const via = o.proxyUri ? ', through the proxy' : '';
    const connectivity = ok('connectivity', `${url.host} answered HTTP ${res.statusCode} in ${ended - started} ms ${how}${via}`);
    const dateHeader = res.headers.date;
    const serverMs = typeof dateHeader === 'string' ? Date.parse(dateHeader) : Number.NaN;
    if (Number.isNaN(serverMs)) return { connectivity, clock: warn('clock', `not measured: ${url.host} sent no Date header`, null) };
    // The Date header has whole seconds: the server's clock was somewhere in [date, date + 1 s).
    const skew = serverMs + 500 - (started + ended) / 2;
    return { connectivity, clock: clockSkewCheck(Math.abs(skew) <= 1500 ? 0 : skew, url.host) };
  } catch (err) {
    return { connectivity: connectivityFailure(url, err, o), clock: notMeasured };
  } finally {
    transport.close();
  }
}

function connectivityFailure(url: URL, err: unknown, o: ProbeOptions): CheckResult {
  const error = toError(err);
  const code = err instanceof TransportError ? err.code : '';
  const host = url.host;
  if (TLS_CODES.test(code) || TLS_CODES.test(error.message)) {
    return fail(
      'connectivity',
      `TLS to ${host} failed: ${error.message}${code && !error.message.includes(code) ? ` (${code})` : ''}`,
      `If a proxy or a private CA signs the endpoint's certificate, point :ca_bundle: (or AWS_CA_BUNDLE) at a PEM bundle that includes that CA${o.caBundlePath ? ` (now ${o.caBundlePath})` : ''}; ` +
        'also check the clock (a wrong date makes a valid certificate look expired or not yet valid).',
    );
  }
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return fail(
      'connectivity',
      `cannot resolve ${url.hostname}: ${error.message}`,
      'Check DNS (/etc/resolv.conf); in a private subnet create a VPC interface endpoint for the commands service, or set :proxy_uri:',
    );
  }
  const proxyNote = o.proxyUri ? ' (through the proxy in :proxy_uri:; check that it allows CONNECT to this host)' : '';
  return fail(
    'connectivity',
    `${host} cannot be reached${proxyNote}: ${error.message}`,
    `Allow outbound HTTPS to ${host} (security group, network ACL, firewall); set :proxy_uri: when the host reaches the internet through a proxy; ` +
      'in a private subnet without NAT, create VPC interface endpoints for codedeploy-commands-secure and S3.',
  );
}
