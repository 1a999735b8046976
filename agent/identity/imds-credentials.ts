/**
 * Instance-profile credentials from IMDS, through our own ImdsClient.
 *
 * Why not fromInstanceMetadata (@aws-sdk/credential-providers): its endpoint can only be set via
 * process.env (AWS_EC2_METADATA_SERVICE_ENDPOINT) or ~/.aws/config, and we neither mutate
 * process.env nor want root's ~/.aws/config to steer the agent. Going through ImdsClient also
 * gives the credentials the same endpoint, v2 token, v1 policy (:disable_imds_v1:) and timeouts
 * as the host identity, and lets the tests point both at one fake IMDS.
 */
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import { AgentError, ErrorCodes } from '../errors.js';
import { imdsStatus, type ImdsClient } from './imds-client.js';

export const SECURITY_CREDENTIALS_PATH = '/latest/meta-data/iam/security-credentials/';

/** Fetch new credentials when the cached ones have less than this left (IMDS rotates >= 5 min early). */
const REFRESH_WINDOW_MS = 6 * 60 * 1000;

export interface ImdsCredentialsOptions {
  now?: () => number;
}

export function imdsCredentialsProvider(imds: ImdsClient, opts: ImdsCredentialsOptions = {}): AwsCredentialIdentityProvider {
  const now = opts.now ?? Date.now;
  let cached: AwsCredentialIdentity | undefined;
  let inFlight: Promise<AwsCredentialIdentity> | undefined;

  async function load(): Promise<AwsCredentialIdentity> {
    let roles: string;
    try {
      roles = await imds.get(SECURITY_CREDENTIALS_PATH);
    } catch (err) {
      if (imdsStatus(err) === 404) {
        throw new AgentError(
          ErrorCodes.CREDENTIALS,
          'No IAM instance profile is attached to this instance: the metadata service has no security credentials',
          {
            cause: err,
          },
        );
      }
      throw err;
    }
    const role = roles
      .split('\n')
      .map((l) => l.trim())
      .find((l) => l !== '');
    if (!role) {
      throw new AgentError(
        ErrorCodes.CREDENTIALS,
        'No IAM instance profile is attached to this instance: the metadata service lists no role',
      );
    }
    const text = await imds.get(SECURITY_CREDENTIALS_PATH + encodeURIComponent(role));
    return parseRoleCredentials(text, role);
  }

  // { forceRefresh: true } (the commands client after an ExpiredToken answer) skips the cache.
  return async (props?: Record<string, unknown>) => {
    if (props?.forceRefresh !== true && cached?.expiration && cached.expiration.getTime() - now() > REFRESH_WINDOW_MS) return cached;
    inFlight ??= load()
      .then((identity) => {
        cached = identity;
        return identity;
      })
      .finally(() => {
        inFlight = undefined;
      });
    return inFlight;
  };
}

function parseRoleCredentials(text: string, role: string): AwsCredentialIdentity {
  const bad = (why: string): AgentError =>
    new AgentError(
      ErrorCodes.CREDENTIALS,
      `The instance profile credentials for role ${role} from the metadata service are unusable: ${why}`,
    );
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw bad('not JSON');
  }
  if (typeof parsed !== 'object' || parsed === null) throw bad('not a JSON object');
  const record = parsed as Record<string, unknown>;
  if (record.Code !== undefined && record.Code !== 'Success') throw bad(`Code is ${String(record.Code)}`);
  const str = (name: string): string => {
    const value = record[name];
    if (typeof value !== 'string' || value === '') throw bad(`no ${name}`);
    return value;
  };
  const expiration = new Date(str('Expiration'));
  if (Number.isNaN(expiration.getTime())) throw bad('Expiration is not a date');
  return { accessKeyId: str('AccessKeyId'), secretAccessKey: str('SecretAccessKey'), sessionToken: str('Token'), expiration };
}
