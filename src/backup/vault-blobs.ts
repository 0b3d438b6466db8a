import { PassThrough } from 'node:stream';
import { once } from 'node:events';
import type { Transaction } from 'kysely';
import type { DB } from '../platform/db/index.js';
import type { FileStore } from '../vault/file-store.js';
import type { PartBinding } from './chunked-cipher.js';
import { PartIntegrityError } from './chunked-cipher.js';
import { readPart } from './parts.js';
import { streamRows } from './snapshot.repository.js';

/**
 * The vault's file blobs in a backup: one part whose rows are `[tenant_id, blob_id, offset,
 * base64 bytes]`, each blob's bytes in order, exactly as stored (already encrypted by the vault:
 * the part's own encryption is a second layer, and nothing here can read them). Which blobs is
 * decided by the snapshot's `vault_files` rows, so the blobs match the rows the backup holds.
 */

export const VAULT_BLOBS_PART = 'vault-blobs.ndjson.gz.enc';

/** Raw bytes per row: with base64 and JSON, a row stays well under a part chunk. */
const BLOB_ROW_BYTES = 48 * 1024;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export type BlobRow = [tenantId: string, blobId: string, offset: number, base64: string];

export interface BlobTotals {
  blobs: number;
  blob_bytes: number;
}

/** Streams every blob the snapshot's `vault_files` rows name, as part rows; `totals` is final once consumed. */
export function snapshotBlobs(trx: Transaction<DB>, store: FileStore): { rows: AsyncGenerator<BlobRow[]>; totals: BlobTotals } {
  const totals: BlobTotals = { blobs: 0, blob_bytes: 0 };
  const files = { name: 'vault_files', columns: [{ name: 'tenant_id', type: 'uuid' }, { name: 'blob_id', type: 'uuid' }] };
  async function* rows(): AsyncGenerator<BlobRow[]> {
    for await (const batch of streamRows(trx, files, 1000)) {
      for (const [tenantId, blobId] of batch) {
        let offset = 0;
        let pending: Buffer[] = [];
        let pendingBytes = 0;
        for await (const chunk of store.read(tenantId!, blobId!)) {
          pending.push(chunk as Buffer);
          pendingBytes += (chunk as Buffer).length;
          while (pendingBytes >= BLOB_ROW_BYTES) {
            const all = Buffer.concat(pending);
            yield [[tenantId!, blobId!, offset, all.subarray(0, BLOB_ROW_BYTES).toString('base64')]];
            offset += BLOB_ROW_BYTES;
            pending = [all.subarray(BLOB_ROW_BYTES)];
            pendingBytes = all.length - BLOB_ROW_BYTES;
          }
        }
        // Always one row at least, so an empty blob is restored too.
        if (pendingBytes > 0 || offset === 0) yield [[tenantId!, blobId!, offset, Buffer.concat(pending).toString('base64')]];
        totals.blobs++;
        totals.blob_bytes += offset + pendingBytes;
      }
    }
  }
  return { rows: rows(), totals };
}

/**
 * Writes the blobs of a backup's part into `store`, each whole and new (the store makes a blob
 * visible only once complete). Rows are authenticated before use; an id that is not a UUID or a
 * gap in a blob's bytes fails the restore.
 */
export async function restoreBlobs(path: string, key: Buffer, binding: PartBinding, store: FileStore): Promise<BlobTotals> {
  const totals: BlobTotals = { blobs: 0, blob_bytes: 0 };
  const bad = (problem: string) => new PartIntegrityError(binding.part, null, problem);
  let current: { id: string; offset: number; body: PassThrough; written: Promise<void> } | null = null;
  const finish = async () => {
    if (!current) return;
    current.body.end();
    await current.written;
    totals.blobs++;
    current = null;
  };
  try {
    for await (const batch of readPart<BlobRow>(path, key, binding, 100).items) {
      for (const [tenantId, blobId, offset, base64] of batch) {
        if (!UUID.test(tenantId) || !UUID.test(blobId)) throw bad('a blob row names an id that is not a UUID');
        if (current?.id !== `${tenantId}/${blobId}`) {
          await finish();
          if (offset !== 0) throw bad('a blob does not start at offset 0');
          const body = new PassThrough();
          current = { id: `${tenantId}/${blobId}`, offset: 0, body, written: store.write(tenantId, blobId, body, []) };
        }
        if (offset !== current.offset) throw bad('a blob has a gap or an overlap');
        const bytes = Buffer.from(base64, 'base64');
        current.offset += bytes.length;
        totals.blob_bytes += bytes.length;
        // Waits for the store to take the bytes, or for it to fail (which rejects `written`).
        if (!current.body.write(bytes)) await Promise.race([once(current.body, 'drain'), current.written]);
      }
    }
    await finish();
  } catch (error) {
    const open = current as { body: PassThrough; written: Promise<void> } | null;
    if (open) {
      open.body.destroy(error instanceof Error ? error : new Error('restore failed'));
      await open.written.catch(() => undefined);
    }
    throw error;
  }
  return totals;
}
