import { PassThrough } from 'node:stream';
import type { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import type { CompletedPart, S3Client } from '@aws-sdk/client-s3';
import type { S3Location } from '../platform/s3.js';
import type { FileStore } from './file-store.js';

/** S3's smallest part but the last; what one upload holds in memory at most. */
const PART_BYTES = 8 * 1024 * 1024;

/**
 * Vault blobs in an S3-compatible bucket, under `<prefix><tenant>/<blob>`. An upload is one
 * multipart upload of 8 MiB parts: memory stays bounded whatever the size, and nothing is visible
 * under the key until the upload completes (a failure aborts it). Blobs arrive encrypted; the
 * bucket never sees plaintext.
 */
export function createS3FileStore(location: S3Location, client: S3Client): FileStore {
  const Bucket = location.bucket;
  const keyOf = (tenantId: string, blobId: string) => `${location.prefix}${tenantId}/${blobId}`;

  async function getObject(tenantId: string, blobId: string, range: string | undefined): Promise<Readable> {
    const object = await client.send(new GetObjectCommand({ Bucket, Key: keyOf(tenantId, blobId), ...(range ? { Range: range } : {}) }));
    return object.Body as Readable;
  }

  return {
    async write(tenantId, blobId, source, transforms: Transform[]) {
      const Key = keyOf(tenantId, blobId);
      const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket, Key }));
      try {
        const parts: CompletedPart[] = [];
        let pending: Buffer[] = [];
        let pendingBytes = 0;
        const upload = async () => {
          const PartNumber = parts.length + 1;
          const { ETag } = await client.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber, Body: Buffer.concat(pending) }));
          parts.push({ ETag, PartNumber });
          pending = [];
          pendingBytes = 0;
        };
        const encrypted = new PassThrough();
        const produced = pipeline([source, ...transforms, encrypted]);
        // When an upload fails first, the loop below throws and `produced` rejects unawaited; the
        // failure is already being handled, and an unhandled rejection would end the process.
        produced.catch(() => undefined);
        for await (const chunk of encrypted as AsyncIterable<Buffer>) {
          pending.push(chunk);
          pendingBytes += chunk.length;
          if (pendingBytes >= PART_BYTES) await upload();
        }
        await produced;
        if (pendingBytes > 0 || parts.length === 0) await upload();
        await client.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts: parts } }));
      } catch (error) {
        await client.send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId })).catch(() => undefined);
        throw error;
      }
    },

    read(tenantId, blobId, start = 0) {
      // The interface hands back a stream at once; the request's failure arrives as its error.
      const out = new PassThrough();
      getObject(tenantId, blobId, start > 0 ? `bytes=${start}-` : undefined).then(
        (body) => pipeline(body, out).catch((error: unknown) => out.destroy(error as Error)),
        (error: unknown) => out.destroy(error as Error),
      );
      return out;
    },

    async head(tenantId, blobId, length) {
      const chunks: Buffer[] = [];
      for await (const chunk of await getObject(tenantId, blobId, `bytes=0-${length - 1}`)) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks).subarray(0, length);
    },

    async remove(tenantId, blobId) {
      await client.send(new DeleteObjectCommand({ Bucket, Key: keyOf(tenantId, blobId) }));
    },
  };
}
