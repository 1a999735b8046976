/**
 * doctor: who this host is (on-premises file or EC2 metadata), which endpoint that gives, and
 * whether the credentials the agent would use are there and not expired. It reuses the agent's
 * own pieces (the on-premises parser and its official messages, the IMDS client, the endpoint
 * rules) so doctor judges exactly what `start` would do, in the same order as resolve-identity.ts.
 * Secrets are read only to check that they exist; nothing here prints or returns one.
 */
import { stat, readFile } from 'node:fs/promises';
import { pino } from 'pino';
import type { AgentConfig } from '../../config/agent-config.js';
import { AgentError } from '../../errors.js';
import { errnoCode, toError } from '../../../common/errors.js';
import { loadOnPremisesConfig, type OnPremisesConfig } from '../../identity/on-premises-config.js';
import { createImdsClient, imdsStatus, type ImdsClient } from '../../identity/imds-client.js';
import { domainForRegion, ec2HostIdentity } from '../../identity/instance-metadata.js';
import { SECURITY_CREDENTIALS_PATH } from '../../identity/imds-credentials.js';
import { parseIni } from '../../identity/file-credentials.js';
import { fipsAllowed, FIPS_NOT_ALLOWED_MESSAGE, resolveCommandsEndpoint, validateRegionForDomain } from '../../commands-client/endpoint.js';
import { expiryCheck, fail, ok, parseExpiry, S3_PERMISSION_HINT, warn, type CheckResult } from './doctor-rules.js';

export type DoctorConfig = Pick<
  AgentConfig,
  | 'onPremisesConfigFile'
  | 'imdsEndpoint'
  | 'disableImdsV1'
  | 'codedeployTestProfile'
  | 'useFipsMode'
  | 'enableAuthPolicy'
  | 'deployControlEndpoint'
>;

export interface IdentityFacts {
  kind: 'on-premises' | 'ec2' | 'environment' | 'none';
  region?: string;
  domain?: string;
  hostIdentifier?: string;
  onPremises?: OnPremisesConfig;
  /** The metadata client, when IMDS answered. */
  imds?: ImdsClient;
}

const REGISTER_HINT =
  'On EC2: make sure the instance metadata service is enabled and reachable (from a container, raise the hop limit: ' +
  'aws ec2 modify-instance-metadata-options --instance-id <id> --http-put-response-hop-limit 2).\n' +
  'Elsewhere, register the host as on-premises: "aws deploy register --instance-name <name> --region <region>" creates an IAM user ' +
  'and the file for you; or create an IAM user or role, run "aws deploy register-on-premises-instance" and write codedeploy.onpremises.yml ' +
  '(region plus iam_user_arn, aws_access_key_id, aws_secret_access_key, or iam_session_arn, aws_credentials_file).';

const ON_PREM_FORMAT_HINT =
  'codedeploy.onpremises.yml holds "region:" plus either "iam_user_arn:", "aws_access_key_id:" and "aws_secret_access_key:", ' +
  'or "iam_session_arn:" and "aws_credentials_file:". Compare it with the file "aws deploy register" writes.';

const envValue = (env: NodeJS.ProcessEnv, name: string): string | undefined => env[name]?.trim() || undefined;

export async function checkIdentity(
  config: DoctorConfig,
  env: NodeJS.ProcessEnv,
  opts: { imdsTimeoutMs: number },
): Promise<{ result: CheckResult; facts: IdentityFacts }> {
  let onPremises: OnPremisesConfig | undefined;
  try {
    onPremises = await loadOnPremisesConfig(config.onPremisesConfigFile);
  } catch (err) {
    const errno = err instanceof AgentError ? err.details.errno : errnoCode(err);
    if (errno === 'EACCES' || errno === 'EPERM') {
      return {
        result: warn(
          'identity',
          `permission denied reading ${config.onPremisesConfigFile}; run with sudo`,
          'Run "sudo codedeploy-agent doctor" to check the on-premises identity',
        ),
        facts: { kind: 'none' },
      };
    }
    const cause = err instanceof Error && err.cause instanceof Error ? ` (${err.cause.message.split('\n')[0]})` : '';
    return { result: fail('identity', `${toError(err).message}${cause}`, ON_PREM_FORMAT_HINT), facts: { kind: 'none' } };
  }
  if (onPremises) {
    const arn = onPremises.mode === 'iam-user' ? onPremises.iamUserArn : onPremises.iamSessionArn;
    const how = onPremises.mode === 'iam-user' ? 'IAM user' : 'IAM session';
    return {
      result: ok('identity', `on-premises (${config.onPremisesConfigFile}), ${how} ${arn}, region ${onPremises.region}`),
      facts: {
        kind: 'on-premises',
        region: onPremises.region,
        domain: domainForRegion(onPremises.region),
        hostIdentifier: arn,
        onPremises,
      },
    };
  }

  const imds = createImdsClient({
    endpoint: config.imdsEndpoint,
    disableV1: config.disableImdsV1,
    logger: pino({ level: 'silent' }),
    timeoutMs: opts.imdsTimeoutMs,
    probeTimeoutMs: opts.imdsTimeoutMs,
    attempts: 2,
    retryDelayMs: 100,
  });
  const envRegion = envValue(env, 'AWS_REGION');
  const envHost = envValue(env, 'AWS_HOST_IDENTIFIER');
  if (!(await imds.available())) {
    if (envRegion && envHost) {
      return {
        result: ok(
          'identity',
          `host ${envHost} from AWS_HOST_IDENTIFIER, region ${envRegion} from AWS_REGION (no on-premises file, no instance metadata)`,
        ),
        facts: { kind: 'environment', region: envRegion, domain: domainForRegion(envRegion), hostIdentifier: envHost },
      };
    }
    const detail =
      `no host identity: there is no on-premises configuration file at ${config.onPremisesConfigFile} ` +
      `and the instance metadata service at ${imds.endpoint} does not answer${config.disableImdsV1 ? ' to IMDSv2 (:disable_imds_v1: is true)' : ''}`;
    return { result: fail('identity', detail, REGISTER_HINT), facts: { kind: 'none' } };
  }
  try {
    const ec2 = await ec2HostIdentity(imds);
    const region = envRegion ?? ec2.region;
    const hostIdentifier = envHost ?? ec2.hostIdentifier;
    const domain = region === ec2.region ? ec2.domain : domainForRegion(region);
    const facts: IdentityFacts = { kind: 'ec2', region, domain, hostIdentifier, imds };
    const detail = `EC2 instance ${ec2.instanceId} (${imds.mode() === 'v1' ? 'IMDSv1' : 'IMDSv2'}), host identifier ${hostIdentifier}, region ${region}`;
    if (imds.mode() === 'v1') {
      return {
        result: warn(
          'identity',
          `${detail}: the IMDSv2 token request failed, IMDSv1 was used`,
          'From a container or behind a proxy hop, raise the metadata hop limit (aws ec2 modify-instance-metadata-options --http-put-response-hop-limit 2) so IMDSv2 works, then require it (--http-tokens required)',
        ),
        facts,
      };
    }
    return { result: ok('identity', detail), facts };
  } catch (err) {
    return {
      result: fail('identity', `the instance metadata service at ${imds.endpoint} answered, but: ${toError(err).message}`, REGISTER_HINT),
      facts: { kind: 'none' },
    };
  }
}

export function checkEndpoint(config: DoctorConfig, facts: IdentityFacts): { result: CheckResult; endpoint?: string } {
  const override = config.deployControlEndpoint?.trim();
  if (override) {
    try {
      new URL(override);
    } catch {
      return {
        result: fail('endpoint', `:deploy_control_endpoint: ${override} is not a URL`, 'Set it to https://host[:port] or remove it'),
      };
    }
    return { result: ok('endpoint', `${override} (from :deploy_control_endpoint:)`), endpoint: override };
  }
  // The identity check already failed for this: one failure per cause.
  if (!facts.region) return { result: warn('endpoint', 'not resolved: the region is unknown (see identity)', null) };
  if (config.useFipsMode && !fipsAllowed(facts.region))
    return { result: fail('endpoint', FIPS_NOT_ALLOWED_MESSAGE, 'Set :use_fips_mode: false, or run in a US region') };
  try {
    if (facts.kind === 'on-premises') validateRegionForDomain(facts.region, facts.domain ?? domainForRegion(facts.region));
    const endpoint = resolveCommandsEndpoint({
      region: facts.region,
      useFipsMode: config.useFipsMode,
      enableAuthPolicy: config.enableAuthPolicy,
      ...(facts.domain ? { domain: facts.domain } : {}),
    });
    return { result: ok('endpoint', `region ${facts.region}: ${endpoint}`), endpoint };
  } catch (err) {
    const where =
      facts.kind === 'on-premises'
        ? `the region in ${facts.onPremises?.path ?? 'the on-premises file'}`
        : 'the region (AWS_REGION or the instance metadata)';
    return { result: fail('endpoint', toError(err).message, `Check ${where}`) };
  }
}

const EXPIRY_KEYS = ['expiration', 'aws_expiration', 'aws_session_expiration', 'aws_credential_expiration', 'x_security_token_expires'];
const SESSION_MAX_AGE_MS = 12 * 3600_000;

export async function checkCredentials(
  config: DoctorConfig,
  env: NodeJS.ProcessEnv,
  facts: IdentityFacts,
  now: Date,
): Promise<CheckResult> {
  const testProfile = config.codedeployTestProfile === 'beta' || config.codedeployTestProfile === 'gamma';
  if (testProfile && envValue(env, 'AWS_ACCESS_KEY_ID') && envValue(env, 'AWS_SECRET_ACCESS_KEY')) {
    return ok('credentials', `keys from the environment (codedeploy_test_profile ${config.codedeployTestProfile})`);
  }
  if (facts.kind === 'none') return warn('credentials', 'not checked: no host identity (see identity)', null);
  const onPrem = facts.onPremises;
  if (onPrem?.mode === 'iam-user')
    return ok('credentials', `IAM user access keys from ${onPrem.path} (long-term keys: they do not expire)`);
  if (onPrem?.mode === 'iam-session') return sessionFileCheck(onPrem.credentialsFile, now);
  if (facts.kind === 'environment' || !facts.imds) {
    return fail(
      'credentials',
      'no credentials: without instance metadata there is no instance profile, and the environment keys are used only with :codedeploy_test_profile: beta or gamma',
      `Register the host as on-premises (its file names the credentials). ${S3_PERMISSION_HINT}`,
    );
  }
  return instanceProfileCheck(facts.imds, now);
}

async function sessionFileCheck(file: string, now: Date): Promise<CheckResult> {
  const renew = `Session credentials must be refreshed before they expire (aws-codedeploy-session-helper does it from cron): check the job that writes ${file} and run it. ${S3_PERMISSION_HINT}`;
  let text: string;
  let mtimeMs: number;
  try {
    [text, mtimeMs] = await Promise.all([readFile(file, 'utf8'), stat(file).then((s) => s.mtimeMs)]);
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'EACCES' || code === 'EPERM')
      return warn(
        'credentials',
        `permission denied reading ${file}; run with sudo`,
        'Run "sudo codedeploy-agent doctor" to check the session credentials',
      );
    return fail(
      'credentials',
      `the session credentials file ${file} (aws_credentials_file) cannot be read: ${toError(err).message}`,
      renew,
    );
  }
  const profile = parseIni(text).get('default');
  if (!profile?.get('aws_access_key_id') || !profile.get('aws_secret_access_key')) {
    return fail('credentials', `${file} has no [default] profile with aws_access_key_id and aws_secret_access_key`, renew);
  }
  const expiryText = EXPIRY_KEYS.map((k) => profile.get(k)).find((v) => v !== undefined && v !== '');
  if (expiryText !== undefined) {
    const expiry = parseExpiry(expiryText);
    if (!expiry) return warn('credentials', `${file}: cannot read its expiry "${expiryText.slice(0, 40)}"`, renew);
    return expiryCheck(`session credentials in ${file}`, expiry, now, renew);
  }
  const ageMs = now.getTime() - mtimeMs;
  const age = ageMs < 3600_000 ? `${Math.max(0, Math.round(ageMs / 60_000))} min` : `${Math.round(ageMs / 3600_000)} h`;
  if (ageMs > SESSION_MAX_AGE_MS)
    return warn('credentials', `${file} was last refreshed ${age} ago; session credentials last at most 12 h`, renew);
  if (!profile.get('aws_session_token'))
    return warn('credentials', `${file} has no aws_session_token: these are not session credentials`, renew);
  return ok('credentials', `session credentials in ${file}, refreshed ${age} ago (no expiry recorded in the file)`);
}

async function instanceProfileCheck(imds: ImdsClient, now: Date): Promise<CheckResult> {
  const attach =
    'Attach an IAM instance profile whose role allows the agent to call CodeDeploy (the AWS managed policy AmazonEC2RoleforAWSCodeDeploy, ' +
    'or codedeploy-commands-secure:* with :enable_auth_policy:). ' +
    S3_PERMISSION_HINT;
  let role: string | undefined;
  try {
    role = (await imds.get(SECURITY_CREDENTIALS_PATH))
      .split('\n')
      .map((l) => l.trim())
      .find((l) => l !== '');
  } catch (err) {
    if (imdsStatus(err) === 404) return fail('credentials', 'no IAM instance profile is attached to this instance', attach);
    return fail('credentials', `cannot read the instance profile from the metadata service: ${toError(err).message}`, attach);
  }
  if (!role)
    return fail('credentials', 'no IAM instance profile is attached to this instance (the metadata service lists no role)', attach);
  let record: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(await imds.get(SECURITY_CREDENTIALS_PATH + encodeURIComponent(role)));
    record = typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : {};
  } catch (err) {
    return fail('credentials', `the credentials of role ${role} from the metadata service are unusable: ${toError(err).message}`, attach);
  }
  if (record.Code !== undefined && record.Code !== 'Success') {
    return fail(
      'credentials',
      `the metadata service reports ${String(record.Code)} for the credentials of role ${role}`,
      `Check the role's trust policy (ec2.amazonaws.com must be allowed to assume it). ${attach}`,
    );
  }
  const expiry = typeof record.Expiration === 'string' ? parseExpiry(record.Expiration) : undefined;
  if (!expiry || typeof record.AccessKeyId !== 'string' || record.AccessKeyId === '') {
    return fail('credentials', `the credentials of role ${role} from the metadata service have no AccessKeyId or Expiration`, attach);
  }
  return expiryCheck(
    `instance profile role ${role}`,
    expiry,
    now,
    "The metadata service renews instance profile credentials itself; expired ones mean this host's clock is wrong or the role was detached. Check the clock, then the instance profile.",
  );
}
