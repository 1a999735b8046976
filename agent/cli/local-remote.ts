/**
 * codedeploy-local's S3 and GitHub locations (docs/reference.md section 9.1): the same fetchers as the
 * daemon. Credentials for S3 come from the on-premises config when it exists (as the official
 * tool does), else from the standard AWS chain of a developer machine (environment, shared
 * files, SSO, instance profile). Loaded only when a remote location is used: the AWS SDK is big.
 */
import type { Logger } from 'pino';
import type { AgentConfig } from '../config/agent-config.js';
import type { RemoteBundleFetcher } from '../bundle/types.js';
import { describeProgress, type DownloadProgress } from '../bundle/download-progress.js';

export async function localRemoteFetcher(
  config: Readonly<AgentConfig>,
  env: NodeJS.ProcessEnv,
  logger: Logger,
  /**
   * Prints a progress line ("  DownloadBundle       12.0 MiB of 96.0 MiB (12 %), 4.1 MiB/s") each
   * time one goes to the log: every 10 s or 10 %, so a run without a terminal gets a line now and then.
   */
  print?: (line: string) => void,
): Promise<RemoteBundleFetcher> {
  const [{ createRemoteBundleFetcher }, { loadOnPremisesConfig }, { fileCredentialsProvider }, { fromNodeProviderChain }] =
    await Promise.all([
      import('../bundle/remote-fetcher.js'),
      import('../identity/on-premises-config.js'),
      import('../identity/file-credentials.js'),
      import('@aws-sdk/credential-providers'),
    ]);
  const onPrem = await loadOnPremisesConfig(config.onPremisesConfigFile, { logger });
  let credentials;
  let identityDescription: string;
  if (onPrem?.mode === 'iam-user') {
    const keys = { accessKeyId: onPrem.accessKeyId, secretAccessKey: onPrem.secretAccessKey };
    credentials = () => Promise.resolve(keys);
    identityDescription = `the on-premises IAM user in ${onPrem.path}`;
  } else if (onPrem?.mode === 'iam-session') {
    credentials = fileCredentialsProvider(onPrem.credentialsFile);
    identityDescription = `the on-premises IAM session credentials file ${onPrem.credentialsFile}`;
  } else {
    credentials = fromNodeProviderChain();
    identityDescription = 'the standard AWS credential chain (environment, ~/.aws, instance profile)';
  }
  const region = onPrem?.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1';
  const caBundlePath = config.caBundle ?? env.AWS_CA_BUNDLE;
  return createRemoteBundleFetcher({
    logger,
    ...(print
      ? {
          onProgress: (_spec: unknown, p: DownloadProgress) => {
            if (p.milestone && !p.done) print(`  ${'DownloadBundle'.padEnd(20)} ${describeProgress(p)}\n`);
          },
        }
      : {}),
    s3: {
      region,
      credentials,
      identityDescription,
      useFipsMode: config.useFipsMode,
      ...(config.s3EndpointOverride ? { endpointOverride: config.s3EndpointOverride } : {}),
      ...(config.proxyUri ? { proxyUri: config.proxyUri } : {}),
      ...(caBundlePath ? { caBundlePath } : {}),
    },
    github: {
      apiUrl: config.githubApiUrl,
      ...(config.proxyUri ? { proxyUri: config.proxyUri } : {}),
      ...(caBundlePath ? { caBundlePath } : {}),
    },
  });
}
