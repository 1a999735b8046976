/**
 * Pins an S3 revision at CreateDeployment: a revision given without `version` or `eTag` gets the
 * object's current version id (when its bucket is versioned) and ETag (without quotes, as CodeDeploy
 * shows it), looked up before the engine records the deployment. So GetDeployment shows what is
 * deployed, every host downloads that exact version even when the key is overwritten meanwhile
 * (the agent GETs with VersionId and checks the ETag), hooks see BUNDLE_VERSION and BUNDLE_ETAG,
 * and the group's targetRevision and any redeploy or rollback carry the pinned values (they copy
 * the deployment's revision).
 *
 * Decisions:
 *   - An object that does not exist is not refused: the service does not check at CreateDeployment
 *     (its hosts fail at DownloadBundle, naming the bucket and key), and scripts that create the
 *     deployment before the upload finishes rely on that. The log says so, with the store it
 *     looked in, and the deployment is created unpinned.
 *   - A lookup that fails for another reason (the external store unreachable, access denied to the
 *     control plane's credentials) does not block the deployment: it goes ahead unpinned, as before,
 *     and the log says why (the hosts may well reach the store with their own credentials).
 *   - An eTag given without a version: the version is added only when the latest object has that
 *     ETag; otherwise the revision is left as given and the hosts report the mismatch at
 *     DownloadBundle, as with the real service.
 *   - Requests the engine will refuse anyway (unknown application or group, malformed revision) are
 *     passed through untouched, so its errors keep the service's order.
 * The engine itself stays synchronous (one SQLite transaction); this runs in the API layer first.
 */
import type { Logger } from 'pino';
import type { NewDeployment } from '../engine/engine.js';
import type { RevisionLocation } from '../model.js';
import type { Registry } from '../registry/registry.js';
import { revisionLocation } from '../registry/revision-fields.js';
import type { S3ObjectLookup } from './s3-object-lookup.js';

export type RevisionPinner = (request: NewDeployment) => Promise<NewDeployment>;

export interface RevisionPinnerOptions {
  lookup: S3ObjectLookup;
  registry: Pick<Registry, 'getApplication' | 'getDeploymentGroup'>;
  logger: Logger;
}

export function createRevisionPinner(o: RevisionPinnerOptions): RevisionPinner {
  return async (request) => {
    const given = request.revision;
    if (given === undefined) return request; // the group's targetRevision, pinned when it was deployed
    if (!o.registry.getApplication(request.applicationName)) return request;
    if (!o.registry.getDeploymentGroup(request.applicationName, request.deploymentGroupName)) return request;
    let revision: RevisionLocation;
    try {
      revision = revisionLocation(given, 'revision', { deployable: true });
    } catch {
      return request;
    }
    const s3 = revision.s3Location;
    if (revision.revisionType !== 'S3' || !s3?.bucket || !s3.key || (s3.version && s3.eTag)) return request;

    let head;
    try {
      head = await o.lookup.head(s3.bucket, s3.key, s3.version);
    } catch (err) {
      o.logger.warn(
        { err, bucket: s3.bucket, key: s3.key, store: o.lookup.where },
        `Could not look up s3://${s3.bucket}/${s3.key} at ${o.lookup.where} to pin its version and ETag; the deployment uses the revision as given`,
      );
      return request;
    }
    if (!head.found) {
      o.logger.warn(
        { bucket: s3.bucket, key: s3.key, store: o.lookup.where },
        `s3://${s3.bucket}/${s3.key} is not in ${o.lookup.where} (${head.why}); the deployment is created as the service does, and its hosts will fail DownloadBundle unless the object is uploaded first`,
      );
      return request;
    }
    const pinned = { ...s3 };
    if (s3.eTag) {
      if (head.eTag !== s3.eTag.replace(/"/g, '')) {
        o.logger.info(
          { bucket: s3.bucket, key: s3.key, eTag: s3.eTag, latestETag: head.eTag },
          `s3://${s3.bucket}/${s3.key} now has ETag ${head.eTag}, not the given ${s3.eTag}; the revision is left as given`,
        );
        return request;
      }
    } else {
      pinned.eTag = head.eTag;
    }
    if (!s3.version && head.versionId) pinned.version = head.versionId;
    o.logger.debug({ bucket: s3.bucket, key: s3.key, version: pinned.version, eTag: pinned.eTag }, 'Pinned the S3 revision');
    return { ...request, revision: { ...revision, s3Location: pinned } };
  };
}
