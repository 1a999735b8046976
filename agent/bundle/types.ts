import type { Logger } from 'pino';

export type ArchiveType = 'tar' | 'tgz' | 'zip';
export type BundleType = ArchiveType | 'directory';
export const BUNDLE_TYPES: readonly BundleType[] = ['tar', 'tgz', 'zip', 'directory'];

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
