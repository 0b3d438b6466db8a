import { createReadStream, createWriteStream } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DeleteObjectsCommand, GetObjectCommand, paginateListObjectsV2, PutObjectCommand } from '@aws-sdk/client-s3';
import { createS3Client } from '../platform/s3.js';
import type { S3Location } from '../platform/s3.js';
import { isBackupId } from './backup-store.js';
import type { BackupTarget, FolderTarget } from './backup-store.js';
import { assertRegionAllowed } from './residency.js';

/**
 * The object written last, after every file of the backup was uploaded and read back verified:
 * a backup without it is partial, and is never listed, verified from or restored.
 */
export const COMPLETE_MARKER = 'COMPLETE';

interface StoredObject {
  key: string;
  lastModified: Date | null;
}

/**
 * An S3-compatible bucket as an off-site target, through the official SDK. Objects live under
 * `<prefix><id>/<file>`. Reading (verification, restore) downloads the backup into a partial
 * folder of the local target first, so every check runs on exactly the bytes the bucket returns.
 */
export function createS3Target(config: S3Location, residency: readonly string[], local: FolderTarget): BackupTarget {
  const name = `s3:${config.bucket}`;
  const client = createS3Client(config);
  const backupPrefix = (id: string) => `${config.prefix}${id}/`;

  async function objects(prefix: string): Promise<StoredObject[]> {
    const found: StoredObject[] = [];
    for await (const page of paginateListObjectsV2({ client }, { Bucket: config.bucket, Prefix: prefix })) {
      for (const object of page.Contents ?? []) if (object.Key) found.push({ key: object.Key, lastModified: object.LastModified ?? null });
    }
    return found;
  }

  /** Every backup id under the prefix, with its objects. */
  async function backups(): Promise<Map<string, StoredObject[]>> {
    const byId = new Map<string, StoredObject[]>();
    for (const object of await objects(config.prefix)) {
      const [id, file] = object.key.slice(config.prefix.length).split('/');
      if (!id || !file || !isBackupId(id)) continue;
      byId.set(id, [...(byId.get(id) ?? []), object]);
    }
    return byId;
  }

  const isMarker = (key: string) => key.endsWith(`/${COMPLETE_MARKER}`);

  async function deleteKeys(keys: string[]): Promise<void> {
    for (let start = 0; start < keys.length; start += 1000) {
      const batch = keys.slice(start, start + 1000);
      const result = await client.send(new DeleteObjectsCommand({ Bucket: config.bucket, Delete: { Objects: batch.map((key) => ({ Key: key })), Quiet: true } }));
      if (result.Errors && result.Errors.length > 0) throw new Error(`${name}: could not delete ${result.Errors.length} object(s) (${result.Errors[0]?.Code ?? 'error'})`);
    }
  }

  async function remove(id: string): Promise<void> {
    const keys = (await objects(backupPrefix(id))).map((object) => object.key);
    // The marker first: from then on the backup is partial, never half-deleted yet listed.
    const marker = keys.filter(isMarker);
    if (marker.length > 0) await deleteKeys(marker);
    await deleteKeys(keys.filter((key) => !isMarker(key)));
  }

  async function holds(id: string): Promise<boolean> {
    return (await objects(`${backupPrefix(id)}${COMPLETE_MARKER}`)).length > 0;
  }

  return {
    name,
    async checkWritable() {
      assertRegionAllowed(name, config.region, residency);
    },
    async stage(fromDir, files, id) {
      for (const file of files) {
        const path = join(fromDir, file);
        const { size } = await stat(path);
        await client.send(new PutObjectCommand({ Bucket: config.bucket, Key: `${backupPrefix(id)}${file}`, Body: createReadStream(path), ContentLength: size }));
      }
    },
    async read(id, state, use) {
      if (state === 'complete' && !(await holds(id))) throw new Error(`${name} holds no complete backup ${id}`);
      const dir = await local.scratchFolder(`download-${id}`);
      try {
        for (const object of await objects(backupPrefix(id))) {
          if (isMarker(object.key)) continue;
          const file = object.key.slice(backupPrefix(id).length);
          // Keys are ours, but a bucket is not: only plain file names, never `..` or a subfolder.
          if (!/^\w[\w.-]*$/.test(file)) continue;
          const response = await client.send(new GetObjectCommand({ Bucket: config.bucket, Key: object.key }));
          await pipeline(response.Body as Readable, createWriteStream(join(dir, file), { mode: 0o600, flags: 'wx' }));
        }
        return await use(dir);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
    async commit(id) {
      await client.send(new PutObjectCommand({ Bucket: config.bucket, Key: `${backupPrefix(id)}${COMPLETE_MARKER}`, Body: `${JSON.stringify({ id })}\n`, ContentType: 'application/json' }));
    },
    async list() {
      return [...(await backups()).entries()].filter(([, stored]) => stored.some((object) => isMarker(object.key))).map(([id]) => id).sort();
    },
    holds,
    remove,
    async removeStalePartials(olderThan) {
      let removed = 0;
      for (const [id, stored] of await backups()) {
        if (stored.some((object) => isMarker(object.key))) continue;
        if (stored.every((object) => object.lastModified !== null && object.lastModified < olderThan)) {
          await remove(id);
          removed++;
        }
      }
      return removed;
    },
  };
}
