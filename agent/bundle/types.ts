import type { Logger } from 'pino';
import type { ArchiveType } from '../spec/bundle-type.js';
import type { DeploymentSpec, Revision } from '../spec/deployment-spec.js';

export interface UnpackRequest {
  /** The bundle file (may be a symlink to it). */
  archivePath: string;
  type: ArchiveType;
  /** Must not exist yet; created by the unpacker. Nothing is ever written outside it. */
  destDir: string;
  logger: Logger;
}

export interface UnpackResult {
  /** Number of entries (files, directories, symlinks) written. */
  entries: number;
}

/** Downloads an S3 or GitHub revision to bundleFile (remote-fetcher.ts; the command executor calls it). */
export type RemoteBundleFetcher = (
  revision: Revision,
  target: { bundleFile: string; logger: Logger; signal?: AbortSignal; spec: DeploymentSpec },
) => Promise<void>;
