/**
 * The EC2 host identity from IMDS (docs/reference.md section 2.7): the host identifier is
 * arn:<partition>:ec2:<region>:<accountId>:instance/<instanceId>, the partition from
 * /latest/meta-data/services/partition and the rest from the instance identity document.
 * The domain (for the commands endpoint, docs/reference.md section 2.6) comes from /latest/meta-data/services/domain.
 */
import { AgentError, ErrorCodes } from '../errors.js';
import { imdsStatus, type ImdsClient } from './imds-client.js';

export const PARTITION_PATH = '/latest/meta-data/services/partition';
export const DOMAIN_PATH = '/latest/meta-data/services/domain';
export const IDENTITY_DOCUMENT_PATH = '/latest/dynamic/instance-identity/document';
export const DEFAULT_DOMAIN = 'amazonaws.com';

export interface Ec2HostIdentity {
  hostIdentifier: string;
  region: string;
  domain: string;
  partition: string;
  accountId: string;
  instanceId: string;
}

/** The domain of a region when IMDS cannot say (official endpoint rule 4, docs/reference.md section 2.6). */
export function domainForRegion(region: string): string {
  if (region === 'eusc-de-east-1') return 'amazonaws.eu';
  if (region.startsWith('cn-')) return 'amazonaws.com.cn';
  return DEFAULT_DOMAIN;
}

export async function ec2HostIdentity(imds: ImdsClient): Promise<Ec2HostIdentity> {
  const partition = await imds.get(PARTITION_PATH);
  const document = parseIdentityDocument(await imds.get(IDENTITY_DOCUMENT_PATH));
  let domain: string;
  try {
    domain = (await imds.get(DOMAIN_PATH)) || DEFAULT_DOMAIN;
  } catch (err) {
    // Older metadata versions have no services/domain: that is the commercial domain.
    if (imdsStatus(err) !== 404) throw err;
    domain = DEFAULT_DOMAIN;
  }
  return {
    hostIdentifier: `arn:${partition}:ec2:${document.region}:${document.accountId}:instance/${document.instanceId}`,
    region: document.region,
    domain,
    partition,
    accountId: document.accountId,
    instanceId: document.instanceId,
  };
}

function parseIdentityDocument(text: string): { region: string; accountId: string; instanceId: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new AgentError(ErrorCodes.IDENTITY, `The instance identity document from the metadata service is not valid JSON`, { cause: err });
  }
  const record = typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : {};
  const field = (name: string): string => {
    const value = record[name];
    if (typeof value !== 'string' || value.trim() === '') {
      throw new AgentError(ErrorCodes.IDENTITY, `The instance identity document from the metadata service has no '${name}'`);
    }
    return value.trim();
  };
  return { region: field('region'), accountId: field('accountId'), instanceId: field('instanceId') };
}
