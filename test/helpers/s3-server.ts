import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import S3rver from 's3rver';
import { createS3Client } from '../../src/platform/s3.js';

export const S3_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

/**
 * A real S3-compatible server (s3rver) on a free loopback port with `bucket`, its data in a
 * folder of its own; `client` reads the bucket behind Rampart's back, as the tests' witness.
 */
export async function startS3Server(bucket: string): Promise<{ endpoint: string; client: S3Client; close(): Promise<void> }> {
  const directory = await mkdtemp(join(tmpdir(), 'rampart-s3rver-'));
  const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory, configureBuckets: [{ name: bucket }] });
  const { port } = await server.run();
  const endpoint = `http://127.0.0.1:${port}`;
  const client = createS3Client({ bucket, region: 'eu-central-1', endpoint, prefix: '', credentials: S3_CREDENTIALS });
  return {
    endpoint,
    client,
    async close() {
      client.destroy();
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
