/**
 * The RemoteBundleFetcher the command executor calls for S3 and GitHub revisions: it dispatches on
 * the revision type to the S3 or GitHub fetcher (each built once, so clients and connection pools
 * are shared across deployments) and passes the deployment's logger, abort signal, GitHub token and
 * a progress listener for the deployment.
 */
import type { Logger } from 'pino';
import type { RemoteBundleFetcher } from './types.js';
import type { DeploymentSpec } from '../spec/deployment-spec.js';
import type { DownloadProgress } from './download-progress.js';
import { AgentError, ErrorCodes } from '../errors.js';
import type { GitHubFetcher, GitHubFetcherOptions } from './github-fetcher.js';
import type { S3Fetcher, S3FetcherOptions } from './s3-fetcher.js';

export interface RemoteBundleFetcherOptions {
  /** S3 settings (the logger defaults to the one below); absent: S3 revisions fail clearly. */
  s3?: Omit<S3FetcherOptions, 'logger'> & { logger?: Logger };
  /** GitHub settings; absent: GitHub revisions fail clearly. */
  github?: Omit<GitHubFetcherOptions, 'logger'> & { logger?: Logger };
  logger: Logger;
  /**
   * Told how each download goes (at most once a second, and at every logged progress line): the
   * daemon's status file, codedeploy-local's output.
   */
  onProgress?: (spec: DeploymentSpec, progress: DownloadProgress) => void;
}

export function createRemoteBundleFetcher(opts: RemoteBundleFetcherOptions): RemoteBundleFetcher {
  // Built (and their modules loaded) on first use: a host that only deploys from GitHub never
  // needs an S3 region, and an idle daemon does not carry the AWS SDK's S3 client in memory.
  let s3: S3Fetcher | undefined;
  let github: GitHubFetcher | undefined;

  return async (revision, { bundleFile, logger, signal, spec }) => {
    const onProgress = opts.onProgress;
    const call = {
      logger,
      ...(signal ? { signal } : {}),
      ...(onProgress ? { onProgress: (p: DownloadProgress) => onProgress(spec, p) } : {}),
    };
    switch (revision.type) {
      case 'S3': {
        if (!opts.s3) {
          throw new AgentError(
            ErrorCodes.NOT_SUPPORTED,
            `Cannot download s3://${revision.bucket}/${revision.key}: S3 downloads are not configured (no region or credentials for S3)`,
          );
        }
        s3 ??= (await import('./s3-fetcher.js')).createS3Fetcher({ ...opts.s3, logger: opts.s3.logger ?? opts.logger });
        await s3(revision, bundleFile, call);
        return;
      }
      case 'GitHub': {
        if (!opts.github) {
          throw new AgentError(
            ErrorCodes.NOT_SUPPORTED,
            `Cannot download GitHub revision ${revision.account}/${revision.repository}@${revision.commitId}: GitHub downloads are not configured`,
          );
        }
        github ??= (await import('./github-fetcher.js')).createGitHubFetcher({ ...opts.github, logger: opts.github.logger ?? opts.logger });
        await github(revision, bundleFile, { ...call, ...(spec.gitHubAccessToken ? { token: spec.gitHubAccessToken } : {}) });
        return;
      }
      default:
        throw new AgentError(ErrorCodes.NOT_SUPPORTED, `${revision.type} revisions are not fetched remotely`);
    }
  };
}
