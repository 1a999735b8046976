/**
 * Endpoint rules for the commands API (docs/reference.md section 2.6), and the two service models
 * (docs/reference.md section 2.1). Pure: strings in, strings out.
 *
 * 1. `deploy_control_endpoint`, when set, is used verbatim.
 * 2. Service name: codedeploy-commands, plus "-secure" with enable_auth_policy, then "-fips" with
 *    use_fips_mode.
 * 3. Domain: the one given (IMDS `services/domain`), else amazonaws.eu for eusc-de-east-1,
 *    amazonaws.com.cn for cn-* regions, else amazonaws.com.
 * 4. URL: https://<service>.<region>.<domain>
 */
import { AgentError, ErrorCodes } from '../errors.js';

export interface ServiceModel {
  /** The X-Amz-Target prefix: "<targetPrefix>.<Operation>". */
  targetPrefix: string;
  /** The SigV4 signing name, which is also the endpoint prefix (the model sets no signingName). */
  signingName: string;
}

/** The standard model (apiVersion 2014-10-06) or the secure one (enable_auth_policy, 2019-11-11). */
export function serviceModel(enableAuthPolicy: boolean): ServiceModel {
  return enableAuthPolicy
    ? { targetPrefix: 'CodeDeployCommandService', signingName: 'codedeploy-commands-secure' }
    : { targetPrefix: 'CodeDeployCommandService_v20141006', signingName: 'codedeploy-commands' };
}

/** Regions where use_fips_mode is allowed (docs/reference.md section 2.6, `lib/instance_agent/config.rb`). */
export const FIPS_REGIONS: readonly string[] = ['us-east-1', 'us-east-2', 'us-west-1', 'us-west-2', 'us-gov-west-1', 'us-gov-east-1'];

export const FIPS_NOT_ALLOWED_MESSAGE = 'use_fips_mode can be set to true only in regions located in the USA';

export function fipsAllowed(region: string): boolean {
  return FIPS_REGIONS.includes(region);
}

/** The official `partition-region-pattern.json`: domain -> region pattern. */
const PARTITION_REGION_PATTERNS: ReadonlyMap<string, RegExp> = new Map([
  ['amazonaws.com', /^[0-9a-z-]{1,20}$/],
  ['amazonaws.eu', /^[0-9a-z-]{1,20}$/],
  ['amazonaws.com.cn', /^cn-\w+-\d+$/],
]);

/**
 * The on-premises check (docs/reference.md section 2.6 step 3): the domain must be a known partition and
 * the region must match that partition's pattern. Throws `Unknown domain: <d>` or
 * `Invalid region: <r>` (the official messages).
 */
export function validateRegionForDomain(region: string, domain: string): void {
  const pattern = PARTITION_REGION_PATTERNS.get(domain);
  if (!pattern) throw new AgentError(ErrorCodes.IDENTITY, `Unknown domain: ${domain}`, { details: { domain } });
  if (!pattern.test(region)) throw new AgentError(ErrorCodes.IDENTITY, `Invalid region: ${region}`, { details: { region, domain } });
}

/** The default domain for a region when IMDS gives none (docs/reference.md section 2.6 step 4). */
export function defaultDomain(region: string): string {
  if (region === 'eusc-de-east-1') return 'amazonaws.eu';
  if (region.startsWith('cn-')) return 'amazonaws.com.cn';
  return 'amazonaws.com';
}

export interface EndpointOptions {
  region: string;
  /** The domain from IMDS (`/latest/meta-data/services/domain`), when IMDS answered. */
  domain?: string;
  useFipsMode: boolean;
  enableAuthPolicy: boolean;
  /** `deploy_control_endpoint`: returned verbatim when set. */
  deployControlEndpoint?: string;
}

// Region and domain end up in a host name: refuse anything that is not a plain DNS label sequence,
// so a bad value fails here with its name rather than as a confusing DNS or TLS error later.
const REGION_SYNTAX = /^[0-9a-z-]{1,20}$/;
const DOMAIN_SYNTAX = /^[a-z0-9](?:[a-z0-9-]{0,62})(?:\.[a-z0-9](?:[a-z0-9-]{0,62}))+$/;

export function resolveCommandsEndpoint(opts: EndpointOptions): string {
  const override = opts.deployControlEndpoint?.trim();
  if (override) return override;
  if (!REGION_SYNTAX.test(opts.region)) {
    throw new AgentError(ErrorCodes.IDENTITY, `Invalid region: ${opts.region}`, { details: { region: opts.region } });
  }
  const domain = opts.domain?.trim() || defaultDomain(opts.region);
  if (!DOMAIN_SYNTAX.test(domain)) throw new AgentError(ErrorCodes.IDENTITY, `Unknown domain: ${domain}`, { details: { domain } });
  let service = 'codedeploy-commands';
  if (opts.enableAuthPolicy) service += '-secure';
  if (opts.useFipsMode) service += '-fips';
  return `https://${service}.${opts.region}.${domain}`;
}
