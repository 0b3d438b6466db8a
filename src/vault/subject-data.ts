import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import type { Clock } from '../platform/clock.js';
import { withTenant } from '../platform/db/index.js';
import type { DB, TenantTransaction } from '../platform/db/index.js';
import { parseHeader } from './envelope.js';
import type { FileStore } from './file-store.js';
import type { Keyring } from './keyring.js';
import * as repo from './records.repository.js';
import { openRecord } from './records.service.js';
import type { VaultRecord } from './records.service.js';
import { readFlags, setFlag } from './subject-flags.js';
import type { SubjectFlag, SubjectFlags } from './subject-flags.js';

export interface SubjectFile {
  key: string;
  size: number;
  content_type: string;
  created_at: string;
  updated_at: string;
}

/** Where a page of a subject's records ends: the next page starts after it. */
export interface RecordPosition {
  collection: string;
  key: string;
}

/**
 * A data subject's data across the vault, for data-subject requests: pages of their records and
 * files (cursor pagination, so an export of any size holds one page in memory), flags, corrections
 * through the vault's own encryption, and deletion in batches for erasure.
 */
export function createSubjectData(deps: { db: Kysely<DB>; keyring: Keyring; store: FileStore; clock: Clock }) {
  const { db, keyring, store, clock } = deps;
  const indexOf = (tenantId: string, subjectId: string) => keyring.subjectIndex(tenantId, subjectId);

  return {
    flags: (trx: TenantTransaction, tenantId: string, subjectId: string): Promise<SubjectFlags> => readFlags(trx, tenantId, indexOf(tenantId, subjectId)),

    setFlag: (trx: TenantTransaction, tenantId: string, subjectId: string, flag: SubjectFlag, on: boolean): Promise<void> => setFlag(trx, tenantId, indexOf(tenantId, subjectId), flag, on, clock.now()),

    /** Up to `limit` of the subject's records after `after`, decrypted, in (collection, key) order. */
    async recordsPage(trx: TenantTransaction, tenantId: string, subjectId: string, after: RecordPosition | null, limit: number): Promise<VaultRecord[]> {
      let query = trx.selectFrom('vault_records').selectAll().where('tenant_id', '=', tenantId).where('subject_index', '=', indexOf(tenantId, subjectId));
      if (after) query = query.where((eb) => eb.or([eb('collection', '>', after.collection), eb.and([eb('collection', '=', after.collection), eb('record_key', '>', after.key)])]));
      const rows = await query.orderBy('collection').orderBy('record_key').limit(limit).execute();
      // One read of each data key row per page (they are a subject's few keys), inside the page's
      // transaction: a shredding committed before it is still seen.
      const keys = new Map<string, Promise<Buffer>>();
      const readKey = (keyId: string) => {
        if (!keys.has(keyId)) keys.set(keyId, keyring.readingKey(trx, tenantId, keyId));
        return keys.get(keyId)!;
      };
      const records: VaultRecord[] = [];
      for (const row of rows) records.push(await openRecord(trx, keyring, tenantId, row, readKey));
      return records;
    },

    /** Up to `limit` of the subject's files after `afterKey`, metadata only (the content through the files route). */
    async filesPage(trx: TenantTransaction, tenantId: string, subjectId: string, afterKey: string | null, limit: number): Promise<SubjectFile[]> {
      let query = trx.selectFrom('vault_files').selectAll().where('tenant_id', '=', tenantId).where('subject_index', '=', indexOf(tenantId, subjectId));
      if (afterKey !== null) query = query.where('file_key', '>', afterKey);
      const rows = await query.orderBy('file_key').limit(limit).execute();
      return rows.map((row) => ({ key: row.file_key, size: Number(row.size_bytes), content_type: row.content_type, created_at: row.created_at.toISOString(), updated_at: row.updated_at.toISOString() }));
    },

    /** Whether the record exists and is the subject's. */
    async ownsRecord(trx: TenantTransaction, tenantId: string, subjectId: string, collection: string, key: string): Promise<boolean> {
      const row = await repo.findRecord(trx, tenantId, collection, key);
      return row?.subject_index ? Buffer.from(row.subject_index).equals(indexOf(tenantId, subjectId)) : false;
    },

    /** How many records of the subject each collection holds, and how many files: what an erasure will delete. */
    async inventory(trx: TenantTransaction, tenantId: string, subjectId: string): Promise<{ records: Record<string, number>; files: number }> {
      const index = indexOf(tenantId, subjectId);
      const collections = await trx
        .selectFrom('vault_records')
        .select(['collection', (eb) => eb.fn.countAll<string>().as('count')])
        .where('tenant_id', '=', tenantId)
        .where('subject_index', '=', index)
        .groupBy('collection')
        .orderBy('collection')
        .execute();
      const files = await trx.selectFrom('vault_files').select((eb) => eb.fn.countAll<string>().as('count')).where('tenant_id', '=', tenantId).where('subject_index', '=', index).executeTakeFirstOrThrow();
      return { records: Object.fromEntries(collections.map((row) => [row.collection, Number(row.count)])), files: Number(files.count) };
    },

    /**
     * Replaces the data of one of the subject's records, re-encrypted by the vault; returns the
     * version it replaced, or null when the record is not the subject's (or does not exist).
     */
    async rectify(trx: TenantTransaction, tenantId: string, subjectId: string, collection: string, key: string, data: Record<string, unknown>): Promise<VaultRecord | null> {
      const row = await repo.findRecord(trx, tenantId, collection, key);
      if (!row?.subject_index || !Buffer.from(row.subject_index).equals(indexOf(tenantId, subjectId))) return null;
      const previous = await openRecord(trx, keyring, tenantId, row);
      const dataSealed = await keyring.encrypt(trx, tenantId, subjectId, { collection, recordKey: key, field: 'data' }, Buffer.from(JSON.stringify(data), 'utf8'));
      await repo.upsertRecord(trx, { ...row, data_key_id: parseHeader(dataSealed).keyId, data_sealed: dataSealed, at: clock.now() });
      return previous;
    },

    /** Deletes up to `limit` of the subject's records; returns how many. */
    async deleteRecords(trx: TenantTransaction, tenantId: string, subjectIndex: Buffer, limit: number): Promise<number> {
      const deleted = await trx
        .deleteFrom('vault_records')
        .where('tenant_id', '=', tenantId)
        .where('subject_index', '=', subjectIndex)
        .where(sql<boolean>`(collection, record_key) in (select b.collection, b.record_key from vault_records b where b.tenant_id = ${tenantId} and b.subject_index = ${subjectIndex} limit ${limit})`)
        .executeTakeFirst();
      return Number(deleted.numDeletedRows);
    },

    /**
     * Deletes up to `limit` of the subject's files: blobs first, then their rows, so a crash in
     * between leaves rows whose blobs are gone (removed again, harmlessly, on the next run) and
     * never a blob nobody points to.
     */
    async deleteFiles(tenantId: string, subjectIndex: Buffer, limit: number): Promise<number> {
      const rows = await withTenant(db, tenantId, (trx) =>
        trx.selectFrom('vault_files').select(['file_key', 'blob_id']).where('tenant_id', '=', tenantId).where('subject_index', '=', subjectIndex).orderBy('file_key').limit(limit).execute(),
      );
      for (const row of rows) await store.remove(tenantId, row.blob_id);
      if (rows.length === 0) return 0;
      await withTenant(db, tenantId, (trx) =>
        trx
          .deleteFrom('vault_files')
          .where('tenant_id', '=', tenantId)
          .where(
            'file_key',
            'in',
            rows.map((row) => row.file_key),
          )
          .where('subject_index', '=', subjectIndex)
          .execute(),
      );
      return rows.length;
    },
  };
}

export type SubjectData = ReturnType<typeof createSubjectData>;
