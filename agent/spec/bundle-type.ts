/**
 * A revision's BundleType, as the deployment spec names it (docs/reference.md section 6): an archive
 * (tar, tgz, zip) or, for local revisions only, a directory. bundle/ unpacks what these name.
 */
export type ArchiveType = 'tar' | 'tgz' | 'zip';
export type BundleType = ArchiveType | 'directory';
export const BUNDLE_TYPES: readonly BundleType[] = ['tar', 'tgz', 'zip', 'directory'];
