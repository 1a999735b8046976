/**
 * Who this host is, in which region, and with which credentials (docs/reference.md sections 1.2, 2.6-2.9).
 *
 * Order:
 * 1. The on-premises file (:on_premises_config_file:) when it exists and names an ARN:
 *    - iam_user_arn: static keys from the file;
 *    - iam_session_arn: a refreshing provider over aws_credentials_file, loaded once here so a
 *      missing or empty file fails at start-up (as the official FileCredentials does).
 *    The file's region and ARN win over AWS_REGION / AWS_HOST_IDENTIFIER in the environment
 *    (the official writes the file's values into ENV, overwriting them); a differing value is
 *    warned about. IMDS is not consulted at all: the official takes the endpoint's region and
 *    domain from IMDS when it answers, even on a host registered as on-premises with another
 *    region (11.2 #21); we use the file's region and derive the domain from it.
 * 2. Otherwise EC2: host identifier and region from IMDS, each overridden by AWS_HOST_IDENTIFIER
 *    / AWS_REGION in `env`. With both overrides set, a missing IMDS is not an error.
 *
 * Credentials, decided:
 * - never written to process.env (the official exports the on-prem keys, leaking them into every
 *   hook, 11.2 #7); they live only in the returned provider;
 * - on EC2 they are the instance profile, read through the same ImdsClient (imds-credentials.ts
 *   says why not fromInstanceMetadata). The default node chain is not used: it would prefer
 *   AWS_ACCESS_KEY_ID in the agent's environment and root's ~/.aws/credentials over the
 *   instance profile (2.8), which the official avoids by clearing those variables in prod;
 * - the one explicit way to run with keys from the environment is the official one:
 *   :codedeploy_test_profile: beta or gamma (the profiles in which the official keeps them),
 *   with AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN) in `env`.
 */
import { basename, dirname } from 'node:path';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import type { Logger } from 'pino';
import type { AgentConfig } from '../config/agent-config.js';
import { AgentError, ErrorCodes } from '../errors.js';
import { toError } from '../../common/errors.js';
import { fileCredentialsProvider } from './file-credentials.js';
import { createImdsClient, type ImdsClient } from './imds-client.js';
import { imdsCredentialsProvider } from './imds-credentials.js';
import { domainForRegion, ec2HostIdentity, type Ec2HostIdentity } from './instance-metadata.js';
import { loadOnPremisesConfig, type OnPremisesConfig } from './on-premises-config.js';

export type CredentialSource = 'instance-profile' | 'on-premises-iam-user' | 'credentials-file' | 'environment';

export interface HostIdentity {
  kind: 'ec2' | 'on-premises';
  hostIdentifier: string;
  region: string;
  /** The endpoint domain (amazonaws.com, amazonaws.com.cn, amazonaws.eu); always set. */
  domain: string;
  credentials: AwsCredentialIdentityProvider;
  credentialSource: CredentialSource;
  /** One operator-readable line; never a secret. */
  summary: string;
}

export interface ResolveIdentityOptions {
  config: Pick<AgentConfig, 'onPremisesConfigFile' | 'imdsEndpoint' | 'disableImdsV1' | 'codedeployTestProfile'>;
  /** The environment to read AWS_REGION, AWS_HOST_IDENTIFIER (and test-profile keys) from. Never mutated. */
  env: NodeJS.ProcessEnv;
  logger: Logger;
  /** Defaults to a client over config.imdsEndpoint / config.disableImdsV1. */
  imds?: ImdsClient;
  now?: () => number;
}

export async function resolveIdentity(opts: ResolveIdentityOptions): Promise<HostIdentity> {
  const onPremises = await loadOnPremisesConfig(opts.config.onPremisesConfigFile, { logger: opts.logger });
  if (onPremises) return onPremisesIdentity(onPremises, opts);
  return ec2Identity(opts);
}

function staticProvider(identity: AwsCredentialIdentity): AwsCredentialIdentityProvider {
  const frozen = Object.freeze({ ...identity });
  return () => Promise.resolve(frozen);
}

function envValue(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const value = env[name]?.trim();
  return value ? value : undefined;
}

async function onPremisesIdentity(file: OnPremisesConfig, opts: ResolveIdentityOptions): Promise<HostIdentity> {
  const hostIdentifier = file.mode === 'iam-user' ? file.iamUserArn : file.iamSessionArn;
  const envRegion = envValue(opts.env, 'AWS_REGION');
  const envHost = envValue(opts.env, 'AWS_HOST_IDENTIFIER');
  if (envRegion !== undefined && envRegion !== file.region) {
    opts.logger.warn(
      { file: file.path },
      `AWS_REGION=${envRegion} in the environment is ignored: the on-premises file sets region ${file.region}`,
    );
  }
  if (envHost !== undefined && envHost !== hostIdentifier) {
    opts.logger.warn({ file: file.path }, `AWS_HOST_IDENTIFIER in the environment is ignored: the on-premises file sets ${hostIdentifier}`);
  }
  const where = `${basename(file.path)} at ${dirname(file.path)}`;
  const domain = domainForRegion(file.region);
  if (file.mode === 'iam-user') {
    return {
      kind: 'on-premises',
      hostIdentifier,
      region: file.region,
      domain,
      credentials: staticProvider({ accessKeyId: file.accessKeyId, secretAccessKey: file.secretAccessKey }),
      credentialSource: 'on-premises-iam-user',
      summary: `identity: on-premises (${where}, IAM user ${hostIdentifier}, keys from the file), region ${file.region}, domain ${domain}`,
    };
  }
  const credentials = fileCredentialsProvider(file.credentialsFile, opts.now ? { now: opts.now } : {});
  await credentials();
  return {
    kind: 'on-premises',
    hostIdentifier,
    region: file.region,
    domain,
    credentials,
    credentialSource: 'credentials-file',
    summary: `identity: on-premises (${where}, IAM session ${hostIdentifier}, credentials file ${file.credentialsFile}), region ${file.region}, domain ${domain}`,
  };
}

async function ec2Identity(opts: ResolveIdentityOptions): Promise<HostIdentity> {
  const { config, env, logger } = opts;
  const imds = opts.imds ?? createImdsClient({ endpoint: config.imdsEndpoint, disableV1: config.disableImdsV1, logger });
  const envRegion = envValue(env, 'AWS_REGION');
  const envHost = envValue(env, 'AWS_HOST_IDENTIFIER');
  const overridden = envRegion !== undefined && envHost !== undefined;

  let ec2: Ec2HostIdentity | undefined;
  if (await imds.available()) {
    try {
      ec2 = await ec2HostIdentity(imds);
    } catch (err) {
      if (!overridden) throw err;
      logger.debug({ err: toError(err).message }, 'instance metadata incomplete; using AWS_HOST_IDENTIFIER and AWS_REGION');
    }
  } else if (!overridden) {
    throw new AgentError(
      ErrorCodes.IDENTITY,
      `Cannot determine the host identity: there is no on-premises configuration file at ${config.onPremisesConfigFile} ` +
        `and the instance metadata service at ${imds.endpoint} does not answer` +
        (config.disableImdsV1 ? ' (to IMDSv2: :disable_imds_v1: is true)' : '') +
        '. Register the host as on-premises, ' +
        'or set both AWS_HOST_IDENTIFIER and AWS_REGION.',
      { details: { onPremisesConfigFile: config.onPremisesConfigFile, imdsEndpoint: imds.endpoint } },
    );
  }

  const region = envRegion ?? ec2?.region ?? '';
  const hostIdentifier = envHost ?? ec2?.hostIdentifier ?? '';
  // The IMDS domain belongs to the IMDS region; an overriding region brings its own domain.
  const domain = ec2 && region === ec2.region ? ec2.domain : domainForRegion(region);

  const testProfile = config.codedeployTestProfile === 'beta' || config.codedeployTestProfile === 'gamma';
  const envKeyId = envValue(env, 'AWS_ACCESS_KEY_ID');
  const envSecret = envValue(env, 'AWS_SECRET_ACCESS_KEY');
  let credentials: AwsCredentialIdentityProvider;
  let credentialSource: CredentialSource;
  if (testProfile && envKeyId !== undefined && envSecret !== undefined) {
    const sessionToken = envValue(env, 'AWS_SESSION_TOKEN');
    credentials = staticProvider({ accessKeyId: envKeyId, secretAccessKey: envSecret, ...(sessionToken ? { sessionToken } : {}) });
    credentialSource = 'environment';
  } else {
    if (envKeyId !== undefined) {
      logger.warn(
        `AWS_ACCESS_KEY_ID in the agent's environment is ignored (codedeploy_test_profile ${config.codedeployTestProfile}); the instance profile is used`,
      );
    }
    credentials = imdsCredentialsProvider(imds, opts.now ? { now: opts.now } : {});
    credentialSource = 'instance-profile';
  }

  const protocol = imds.mode() === 'v1' ? 'IMDSv1' : imds.mode() === 'v2' ? 'IMDSv2' : 'IMDS';
  const who = ec2
    ? `EC2 instance ${ec2.instanceId} (${protocol})${envHost !== undefined && envHost !== ec2.hostIdentifier ? `, host identifier ${envHost} (from AWS_HOST_IDENTIFIER)` : ''}`
    : `host ${hostIdentifier} (from AWS_HOST_IDENTIFIER; no instance metadata)`;
  const regionNote = envRegion !== undefined && envRegion !== ec2?.region ? ' (from AWS_REGION)' : '';
  const credentialNote =
    credentialSource === 'environment' ? `, credentials from the environment (test profile ${config.codedeployTestProfile})` : '';
  return {
    kind: 'ec2',
    hostIdentifier,
    region,
    domain,
    credentials,
    credentialSource,
    summary: `identity: ${who}, region ${region}${regionNote}, domain ${domain}${credentialNote}`,
  };
}
