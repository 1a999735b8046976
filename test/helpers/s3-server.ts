/**
 * A real S3-compatible server for tests: s3rver on 127.0.0.1, port 0, one bucket, path-style,
 * with s3rver's fixed credentials (S3RVER / S3RVER).
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { tempDir } from './temp.js';

export const S3RVER_CREDENTIALS = Object.freeze({ accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' });

interface S3rverInstance {
  run(): Promise<{ port: number }>;
  close(): Promise<void>;
}

export interface S3Server {
  endpoint: string;
  dir: string;
  /** Uploads a file; resolves with the object's ETag as S3 returns it (quoted). */
  putFile(key: string, path: string): Promise<string>;
  close(): Promise<void>;
}

export async function startS3Server(bucket: string): Promise<S3Server> {
  const S3rver = createRequire(import.meta.url)('s3rver') as new (o: object) => S3rverInstance;
  const dir = await tempDir('cda-s3rver-');
  const server = new S3rver({
    port: 0,
    address: '127.0.0.1',
    directory: dir,
    silent: true,
    configureBuckets: [{ name: bucket, configs: [] }],
  });
  const { port } = await server.run();
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new S3Client({ region: 'us-east-1', endpoint, forcePathStyle: true, credentials: { ...S3RVER_CREDENTIALS } });
  return {
    endpoint,
    dir,
    async putFile(key, path) {
      const out = await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: await readFile(path) }));
      return out.ETag ?? '';
    },
    close: async () => {
      client.destroy();
      await server.close();
    },
  };
}
