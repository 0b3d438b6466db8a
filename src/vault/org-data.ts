import { pipeline as pipe } from 'node:stream';
import type { Readable } from 'node:stream';
import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import { withTenant } from '../platform/db/index.js';
import type { DB, TenantTransaction } from '../platform/db/index.js';
import type { EnvelopeContext } from './envelope.js';
import { createFileDecryptor, createFileEncryptor, FILE_HEADER_BYTES, readFileHeader } from './file-cipher.js';
import type { FileStore } from './file-store.js';
import { placeOf } from './files.service.js';
import type { FileView } from './files.service.js';
import { ErasedError } from './keyring.js';
import type { Keyring, Placement } from './keyring.js';
import { openRecord } from './records.service.js';
import type { VaultRecord } from './records.service.js';

/** Where a page of an org's records ends. */
export interface OrgRecordPosition {
  collection: string;
  key: string;
}

/** A vault file of the org, with the blob that holds it (to stream it). */
export interface OrgFile extends FileView {
  blobId: string;
}

// Rows of subjects an erasure has flagged are gone for every reader, exports included, before the
// erasure job deletes them (migrations/0007 `subject_flags`).
const notErased = sql<boolean>`not exists (select 1 from subject_flags f where f.tenant_id = t.tenant_id and f.subject_index = t.subject_index and f.erased_at is not null)`;

/**
 * The whole org's vault data, for the whole-org export and retention: pages of records (decrypted)
 * and files, a file's plaintext as a stream, and blobs of other modules (the export ZIP) sealed
 * with the vault's file cipher under the tenant's data key, in the vault's file store.
 */
export function createOrgData(deps: { db: Kysely<DB>; keyring: Keyring; store: FileStore }) {
  const { db, keyring, store } = deps;

  async function decrypting(tenantId: string, blobId: string, context: EnvelopeContext): Promise<Readable> {
    const header = readFileHeader(await store.head(tenantId, blobId, FILE_HEADER_BYTES));
    const key = await withTenant(db, tenantId, (trx) => keyring.readingKey(trx, tenantId, header.keyId));
    return pipe(store.read(tenantId, blobId, FILE_HEADER_BYTES), createFileDecryptor(key, header, context), () => {});
  }

  return {
    /** Up to `limit` records after `after`, decrypted, in (collection, key) order; a shredded subject's are left out. */
    async recordsPage(trx: TenantTransaction, tenantId: string, after: OrgRecordPosition | null, limit: number): Promise<{ records: VaultRecord[]; last: OrgRecordPosition | null }> {
      let query = trx.selectFrom('vault_records as t').selectAll().where('t.tenant_id', '=', tenantId).where(notErased);
      if (after) query = query.where((eb) => eb.or([eb('t.collection', '>', after.collection), eb.and([eb('t.collection', '=', after.collection), eb('t.record_key', '>', after.key)])]));
      const rows = await query.orderBy('t.collection').orderBy('t.record_key').limit(limit).execute();
      const records: VaultRecord[] = [];
      for (const row of rows) {
        const record = await openRecord(trx, keyring, tenantId, row).catch((error: unknown) => {
          if (error instanceof ErasedError) return null;
          throw error;
        });
        if (record) records.push(record);
      }
      const lastRow = rows.at(-1);
      return { records, last: lastRow ? { collection: lastRow.collection, key: lastRow.record_key } : null };
    },

    /** Up to `limit` files after `afterKey`, in key order; an erased subject's are left out. */
    async filesPage(trx: TenantTransaction, tenantId: string, afterKey: string | null, limit: number): Promise<OrgFile[]> {
      let query = trx.selectFrom('vault_files as t').selectAll().where('t.tenant_id', '=', tenantId).where(notErased);
      if (afterKey !== null) query = query.where('t.file_key', '>', afterKey);
      const rows = await query.orderBy('t.file_key').limit(limit).execute();
      return rows.map((row) => ({ key: row.file_key, blobId: row.blob_id, size: Number(row.size_bytes), content_type: row.content_type, created_at: row.created_at.toISOString(), updated_at: row.updated_at.toISOString() }));
    },

    /** How many records and files the org holds (an export's progress total). */
    async counts(trx: TenantTransaction, tenantId: string): Promise<{ records: number; files: number }> {
      const records = await trx.selectFrom('vault_records').select(sql<string>`count(*)`.as('n')).where('tenant_id', '=', tenantId).executeTakeFirstOrThrow();
      const files = await trx.selectFrom('vault_files').select(sql<string>`count(*)`.as('n')).where('tenant_id', '=', tenantId).executeTakeFirstOrThrow();
      return { records: Number(records.n), files: Number(files.n) };
    },

    /** A file's plaintext; fails (UndecryptableError) mid-stream if the blob was altered. */
    readFile: (tenantId: string, file: OrgFile): Promise<Readable> => decrypting(tenantId, file.blobId, placeOf(tenantId, file.key, file.blobId)),

    /** Streams `source` into a new blob sealed under the tenant's data key and bound to `placement`. */
    async writeSealedBlob(tenantId: string, blobId: string, placement: Placement, source: Readable): Promise<void> {
      const writing = await withTenant(db, tenantId, (trx) => keyring.writingKey(trx, tenantId, null));
      await store.write(tenantId, blobId, source, [createFileEncryptor(writing.key, writing.header, { tenantId, ...placement })]);
    },

    /** The plaintext of a blob written by writeSealedBlob for the same placement. */
    readSealedBlob: (tenantId: string, blobId: string, placement: Placement): Promise<Readable> => decrypting(tenantId, blobId, { tenantId, ...placement }),

    /** Deletes a blob (a vault file's, after its row is gone, or a sealed blob); absent is fine. */
    removeBlob: (tenantId: string, blobId: string): Promise<void> => store.remove(tenantId, blobId),
  };
}

export type OrgData = ReturnType<typeof createOrgData>;
