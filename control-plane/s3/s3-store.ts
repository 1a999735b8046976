/**
 * The local S3's metadata in the control plane's SQLite file: buckets, object versions (including
 * delete markers) and in-progress multipart uploads with their parts. Bytes live in the BlobStore;
 * rows name blobs by id. Every change that touches several rows runs in one transaction, and
 * returns the blob ids it orphaned so the caller unlinks them after the commit.
 *
 * Versions: rows of one (bucket, key) are ordered by `id` (newest highest) and exactly one has
 * is_latest = 1. With versioning Enabled each write gets a fresh version id; with Suspended it
 * replaces the "null" version. Keys sort by SQLite's BINARY collation, i.e. UTF-8 byte order,
 * which is S3's listing order.
 */
import { randomBytes } from 'node:crypto';
import { fromJson, migrate, toJson, type Db } from '../store/database.js';
import { S3Error } from './s3-error.js';

export type Versioning = 'Enabled' | 'Suspended';

export interface BucketRow {
  name: string;
  createdAt: number;
  /** LocationConstraint given at creation; null means us-east-1. */
  location: string | null;
  versioning: Versioning;
}

export interface ObjectRow {
  id: number;
  bucket: string;
  key: string;
  versionId: string;
  isLatest: boolean;
  deleteMarker: boolean;
  blob: string | null;
  size: number;
  /** Without quotes. */
  etag: string;
  lastModified: number;
  /** Content-Type, Content-Encoding, ..., x-amz-meta-* as given at upload. */
  headers: Record<string, string>;
  checksumAlgorithm: string | null;
  checksumValue: string | null;
  partsCount: number | null;
}

export type NewObject = Omit<ObjectRow, 'id' | 'versionId' | 'isLatest' | 'deleteMarker'>;

export interface UploadRow {
  uploadId: string;
  bucket: string;
  key: string;
  createdAt: number;
  headers: Record<string, string>;
  checksumAlgorithm: string | null;
}

export interface PartRow {
  uploadId: string;
  partNumber: number;
  blob: string;
  size: number;
  etag: string;
  lastModified: number;
  checksumAlgorithm: string | null;
  checksumValue: string | null;
}

const MIGRATIONS = [
  `CREATE TABLE s3_buckets (
     name TEXT PRIMARY KEY,
     created_at INTEGER NOT NULL,
     location TEXT,
     versioning TEXT NOT NULL
   );
   CREATE TABLE s3_objects (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     bucket TEXT NOT NULL REFERENCES s3_buckets(name),
     key TEXT NOT NULL,
     version_id TEXT NOT NULL,
     is_latest INTEGER NOT NULL,
     delete_marker INTEGER NOT NULL,
     blob TEXT,
     size INTEGER NOT NULL,
     etag TEXT NOT NULL,
     last_modified INTEGER NOT NULL,
     headers TEXT NOT NULL,
     checksum_algorithm TEXT,
     checksum_value TEXT,
     parts_count INTEGER,
     UNIQUE (bucket, key, version_id)
   );
   CREATE INDEX s3_objects_by_key ON s3_objects (bucket, key, id);
   CREATE INDEX s3_objects_latest ON s3_objects (bucket, key) WHERE is_latest = 1;
   CREATE TABLE s3_uploads (
     upload_id TEXT PRIMARY KEY,
     bucket TEXT NOT NULL REFERENCES s3_buckets(name),
     key TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     headers TEXT NOT NULL,
     checksum_algorithm TEXT
   );
   CREATE INDEX s3_uploads_by_key ON s3_uploads (bucket, key, created_at);
   CREATE TABLE s3_parts (
     upload_id TEXT NOT NULL REFERENCES s3_uploads(upload_id) ON DELETE CASCADE,
     part_number INTEGER NOT NULL,
     blob TEXT NOT NULL,
     size INTEGER NOT NULL,
     etag TEXT NOT NULL,
     last_modified INTEGER NOT NULL,
     checksum_algorithm TEXT,
     checksum_value TEXT,
     PRIMARY KEY (upload_id, part_number)
   );`,
];

interface ObjectDbRow {
  id: number;
  bucket: string;
  key: string;
  version_id: string;
  is_latest: number;
  delete_marker: number;
  blob: string | null;
  size: number;
  etag: string;
  last_modified: number;
  headers: string;
  checksum_algorithm: string | null;
  checksum_value: string | null;
  parts_count: number | null;
}

function toObject(r: ObjectDbRow): ObjectRow {
  return {
    id: r.id,
    bucket: r.bucket,
    key: r.key,
    versionId: r.version_id,
    isLatest: r.is_latest === 1,
    deleteMarker: r.delete_marker === 1,
    blob: r.blob,
    size: r.size,
    etag: r.etag,
    lastModified: r.last_modified,
    headers: fromJson<Record<string, string>>(r.headers),
    checksumAlgorithm: r.checksum_algorithm,
    checksumValue: r.checksum_value,
    partsCount: r.parts_count,
  };
}

/** S3-like opaque version ids (32 URL-safe characters). */
export function newVersionId(): string {
  return randomBytes(24).toString('base64url');
}

export type S3Store = ReturnType<typeof createS3Store>;

export function createS3Store(db: Db) {
  migrate(db, 's3', MIGRATIONS);
  const q = {
    bucket: db.prepare('SELECT name, created_at AS createdAt, location, versioning FROM s3_buckets WHERE name = ?'),
    buckets: db.prepare('SELECT name, created_at AS createdAt, location, versioning FROM s3_buckets ORDER BY name'),
    insertBucket: db.prepare('INSERT INTO s3_buckets (name, created_at, location, versioning) VALUES (?, ?, ?, ?)'),
    deleteBucket: db.prepare('DELETE FROM s3_buckets WHERE name = ?'),
    bucketHasRows: db.prepare(
      'SELECT EXISTS (SELECT 1 FROM s3_objects WHERE bucket = ?) OR EXISTS (SELECT 1 FROM s3_uploads WHERE bucket = ?) AS busy',
    ),
    setVersioning: db.prepare('UPDATE s3_buckets SET versioning = ? WHERE name = ?'),
    latest: db.prepare('SELECT * FROM s3_objects WHERE bucket = ? AND key = ? AND is_latest = 1'),
    version: db.prepare('SELECT * FROM s3_objects WHERE bucket = ? AND key = ? AND version_id = ?'),
    clearLatest: db.prepare('UPDATE s3_objects SET is_latest = 0 WHERE bucket = ? AND key = ? AND is_latest = 1'),
    deleteRow: db.prepare('DELETE FROM s3_objects WHERE id = ?'),
    promoteNewest: db.prepare(
      'UPDATE s3_objects SET is_latest = 1 WHERE id = (SELECT max(id) FROM s3_objects WHERE bucket = ? AND key = ?)',
    ),
    insertObject: db.prepare(
      `INSERT INTO s3_objects (bucket, key, version_id, is_latest, delete_marker, blob, size, etag, last_modified, headers, checksum_algorithm, checksum_value, parts_count)
       VALUES (@bucket, @key, @versionId, 1, @deleteMarker, @blob, @size, @etag, @lastModified, @headers, @checksumAlgorithm, @checksumValue, @partsCount)`,
    ),
    byId: db.prepare('SELECT * FROM s3_objects WHERE id = ?'),
    latestPage: db.prepare(
      'SELECT * FROM s3_objects WHERE bucket = ? AND is_latest = 1 AND delete_marker = 0 AND key > ? AND key >= ? ORDER BY key LIMIT ?',
    ),
    versionsPage: db.prepare(
      'SELECT * FROM s3_objects WHERE bucket = @bucket AND key >= @prefix AND (key > @afterKey OR (key = @afterKey AND id < @beforeId)) ORDER BY key, id DESC LIMIT @limit',
    ),
    insertUpload: db.prepare(
      'INSERT INTO s3_uploads (upload_id, bucket, key, created_at, headers, checksum_algorithm) VALUES (?, ?, ?, ?, ?, ?)',
    ),
    upload: db.prepare(
      'SELECT upload_id AS uploadId, bucket, key, created_at AS createdAt, headers, checksum_algorithm AS checksumAlgorithm FROM s3_uploads WHERE upload_id = ?',
    ),
    uploads: db.prepare(
      'SELECT upload_id AS uploadId, bucket, key, created_at AS createdAt, headers, checksum_algorithm AS checksumAlgorithm FROM s3_uploads WHERE bucket = ? ORDER BY key, created_at',
    ),
    deleteUpload: db.prepare('DELETE FROM s3_uploads WHERE upload_id = ?'),
    part: db.prepare('SELECT blob FROM s3_parts WHERE upload_id = ? AND part_number = ?'),
    upsertPart: db.prepare(
      `INSERT INTO s3_parts (upload_id, part_number, blob, size, etag, last_modified, checksum_algorithm, checksum_value)
       VALUES (@uploadId, @partNumber, @blob, @size, @etag, @lastModified, @checksumAlgorithm, @checksumValue)
       ON CONFLICT (upload_id, part_number) DO UPDATE SET blob = excluded.blob, size = excluded.size, etag = excluded.etag,
         last_modified = excluded.last_modified, checksum_algorithm = excluded.checksum_algorithm, checksum_value = excluded.checksum_value`,
    ),
    parts: db.prepare(
      `SELECT upload_id AS uploadId, part_number AS partNumber, blob, size, etag, last_modified AS lastModified,
         checksum_algorithm AS checksumAlgorithm, checksum_value AS checksumValue
       FROM s3_parts WHERE upload_id = ? ORDER BY part_number`,
    ),
    objectBlobs: db.prepare('SELECT blob FROM s3_objects WHERE blob IS NOT NULL'),
    partBlobs: db.prepare('SELECT blob FROM s3_parts'),
  };

  const one = (stmt: { get(...args: unknown[]): unknown }, ...args: unknown[]): ObjectRow | undefined => {
    const r = stmt.get(...args) as ObjectDbRow | undefined;
    return r ? toObject(r) : undefined;
  };
  const toUpload = (r: (Omit<UploadRow, 'headers'> & { headers: string }) | undefined): UploadRow | undefined =>
    r ? { ...r, headers: fromJson<Record<string, string>>(r.headers) } : undefined;

  /** Inserts a new latest version per the bucket's versioning; returns it and any blob it replaced. */
  const insertVersion = db.transaction(
    (bucket: BucketRow, obj: NewObject & { deleteMarker: boolean }): { row: ObjectRow; orphans: string[] } => {
      const orphans: string[] = [];
      let versionId = newVersionId();
      if (bucket.versioning === 'Suspended') {
        versionId = 'null';
        const existing = one(q.version, bucket.name, obj.key, 'null');
        if (existing) {
          q.deleteRow.run(existing.id);
          if (existing.blob) orphans.push(existing.blob);
        }
      }
      q.clearLatest.run(bucket.name, obj.key);
      const info = q.insertObject.run({
        ...obj,
        bucket: bucket.name,
        versionId,
        deleteMarker: obj.deleteMarker ? 1 : 0,
        headers: toJson(obj.headers),
      });
      return { row: one(q.byId, info.lastInsertRowid)!, orphans };
    },
  );

  const deleteVersion = db.transaction((row: ObjectRow): void => {
    q.deleteRow.run(row.id);
    if (row.isLatest) q.promoteNewest.run(row.bucket, row.key);
  });

  return {
    bucket(name: string): BucketRow | undefined {
      return q.bucket.get(name) as BucketRow | undefined;
    },
    buckets(): BucketRow[] {
      return q.buckets.all() as BucketRow[];
    },
    createBucket(name: string, location: string | null, now: number): void {
      if (q.bucket.get(name))
        throw new S3Error(
          'BucketAlreadyOwnedByYou',
          `Your previous request to create the named bucket succeeded and you already own it: ${name}`,
          409,
        );
      q.insertBucket.run(name, now, location, 'Enabled');
    },
    deleteBucket(name: string): void {
      const { busy } = q.bucketHasRows.get(name, name) as { busy: number };
      if (busy)
        throw new S3Error(
          'BucketNotEmpty',
          `The bucket you tried to delete is not empty (every object version, delete marker and multipart upload must be removed first): ${name}`,
          409,
        );
      q.deleteBucket.run(name);
    },
    setVersioning(name: string, versioning: Versioning): void {
      q.setVersioning.run(versioning, name);
    },
    putObject(bucket: BucketRow, obj: NewObject): { row: ObjectRow; orphans: string[] } {
      return insertVersion(bucket, { ...obj, deleteMarker: false });
    },
    /** A delete marker as the new latest version (in a suspended bucket it replaces the "null" version, whose blob is returned). */
    putDeleteMarker(bucket: BucketRow, key: string, now: number): { row: ObjectRow; orphans: string[] } {
      return insertVersion(bucket, {
        bucket: bucket.name,
        key,
        deleteMarker: true,
        blob: null,
        size: 0,
        etag: '',
        lastModified: now,
        headers: {},
        checksumAlgorithm: null,
        checksumValue: null,
        partsCount: null,
      });
    },
    /** The latest version (which may be a delete marker), or the given version. */
    object(bucket: string, key: string, versionId?: string): ObjectRow | undefined {
      return versionId === undefined ? one(q.latest, bucket, key) : one(q.version, bucket, key, versionId);
    },
    deleteVersion(row: ObjectRow): void {
      deleteVersion(row);
    },
    /** Latest non-deleted objects with key > after and key >= from, in key order. */
    latestPage(bucket: string, after: string, from: string, limit: number): ObjectRow[] {
      return (q.latestPage.all(bucket, after, from, limit) as ObjectDbRow[]).map(toObject);
    },
    /**
     * Versions with key >= prefix in (key asc, newest first) order, after the position
     * (afterKey, beforeId): later keys, or older versions of afterKey (beforeId 0 skips that key).
     */
    versionsPage(bucket: string, prefix: string, afterKey: string, beforeId: number, limit: number): ObjectRow[] {
      return (q.versionsPage.all({ bucket, prefix, afterKey, beforeId, limit }) as ObjectDbRow[]).map(toObject);
    },
    createUpload(upload: UploadRow): void {
      q.insertUpload.run(upload.uploadId, upload.bucket, upload.key, upload.createdAt, toJson(upload.headers), upload.checksumAlgorithm);
    },
    upload(uploadId: string): UploadRow | undefined {
      return toUpload(q.upload.get(uploadId) as Parameters<typeof toUpload>[0]);
    },
    uploads(bucket: string): UploadRow[] {
      return (q.uploads.all(bucket) as NonNullable<Parameters<typeof toUpload>[0]>[]).map((r) => toUpload(r)!);
    },
    /** Records a part, returning the blob of the part it replaced. */
    putPart: db.transaction((part: PartRow): string | undefined => {
      const old = q.part.get(part.uploadId, part.partNumber) as { blob: string } | undefined;
      q.upsertPart.run(part);
      return old?.blob;
    }),
    parts(uploadId: string): PartRow[] {
      return q.parts.all(uploadId) as PartRow[];
    },
    /** Deletes an upload and its parts, returning the part blobs. */
    deleteUpload: db.transaction((uploadId: string): string[] => {
      const blobs = (q.parts.all(uploadId) as PartRow[]).map((p) => p.blob);
      q.deleteUpload.run(uploadId);
      return blobs;
    }),
    /** Completes an upload: the object version and the upload's removal in one transaction. */
    completeUpload: db.transaction((bucket: BucketRow, uploadId: string, obj: NewObject): { row: ObjectRow; orphans: string[] } => {
      const partBlobs = (q.parts.all(uploadId) as PartRow[]).map((p) => p.blob);
      q.deleteUpload.run(uploadId);
      const { row, orphans } = insertVersion(bucket, { ...obj, deleteMarker: false });
      return { row, orphans: [...orphans, ...partBlobs] };
    }),
    referencedBlobs(): Set<string> {
      const set = new Set<string>();
      for (const r of q.objectBlobs.all() as { blob: string }[]) set.add(r.blob);
      for (const r of q.partBlobs.all() as { blob: string }[]) set.add(r.blob);
      return set;
    },
  };
}
