/**
 * Where the control plane asks what an S3 revision's object is right now (its latest version id
 * and ETag), so CreateDeployment can pin it (revision-pinning.ts). Two implementations:
 *   - the built-in S3 endpoint: a read of its SQLite metadata (s3/s3-store.ts), no HTTP;
 *   - an external S3-compatible store (`--s3-endpoint`: MinIO, LocalStack, moto, s3rver): a
 *     HeadObject with @aws-sdk/client-s3, path-style, with the given credentials or the standard
 *     AWS chain (environment, shared files, ...).
 * Both answer `missing` for an absent bucket or key (or a latest version that is a delete
 * marker), and throw for anything else (unreachable, access denied), which the caller decides on.
 */
import { HeadObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { fromNodeProviderChain } from '@aws-sdk/credential-providers';
import type { S3Store } from '../s3/s3-store.js';

export type ObjectHead =
  | {
      found: true;
      /** Absent for an unversioned bucket (or S3's "null" version). */ versionId?: string;
      /** Without quotes. */ eTag: string;
    }
  | { found: false; why: string };

export interface S3ObjectLookup {
  /** Human-readable: "the built-in S3 endpoint" or the external URL, for messages. */
  readonly where: string;
  /** The latest version of the object, or the given version. */
  head(bucket: string, key: string, versionId?: string): Promise<ObjectHead>;
  close(): void;
}

/** S3's version id of objects written while versioning was off or suspended: not a pin. */
const NULL_VERSION = 'null';

export function createBuiltInObjectLookup(store: Pick<S3Store, 'bucket' | 'object'>): S3ObjectLookup {
  return {
    where: 'the built-in S3 endpoint',
    async head(bucket, key, versionId) {
      if (!store.bucket(bucket)) return { found: false, why: `the bucket ${bucket} does not exist` };
      const row = store.object(bucket, key, versionId);
      if (!row || row.deleteMarker)
        return {
          found: false,
          why:
            versionId === undefined
              ? `there is no object ${key} in bucket ${bucket}`
              : `there is no version ${versionId} of ${key} in bucket ${bucket}`,
        };
      return { found: true, eTag: row.etag, ...(row.versionId !== NULL_VERSION ? { versionId: row.versionId } : {}) };
    },
    close() {},
  };
}

export interface ExternalLookupOptions {
  /** e.g. http://127.0.0.1:9000 */
  endpoint: string;
  region: string;
  /** Default: the standard AWS credential chain. */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Per-call limit; default 10 s. */
  timeoutMs?: number;
}

export function createExternalObjectLookup(o: ExternalLookupOptions): S3ObjectLookup {
  const client = new S3Client({
    endpoint: o.endpoint,
    region: o.region,
    forcePathStyle: true,
    credentials: o.credentials ?? fromNodeProviderChain(),
    maxAttempts: 2,
  });
  return {
    where: o.endpoint,
    async head(bucket, key, versionId) {
      try {
        const out = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key, ...(versionId ? { VersionId: versionId } : {}) }), {
          abortSignal: AbortSignal.timeout(o.timeoutMs ?? 10_000),
        });
        const eTag = (out.ETag ?? '').replace(/"/g, '');
        const version = out.VersionId && out.VersionId !== NULL_VERSION ? { versionId: out.VersionId } : {};
        return { found: true, eTag, ...version };
      } catch (err) {
        // HEAD has no body, so S3 says 404 for a missing key and a missing bucket alike.
        if (err instanceof S3ServiceException && err.$metadata.httpStatusCode === 404)
          return {
            found: false,
            why: `there is no object ${key}${versionId ? ` (version ${versionId})` : ''} in bucket ${bucket} (or no such bucket)`,
          };
        throw err;
      }
    },
    close: () => client.destroy(),
  };
}
