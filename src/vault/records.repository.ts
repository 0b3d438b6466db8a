import { sql } from 'kysely';
import type { Selectable } from 'kysely';
import type { TenantTransaction } from '../platform/db/index.js';
import type { VaultFilesTable, VaultRecordsTable } from '../platform/db/schema.js';
import { unflagged } from './subject-flags.js';

export type RecordRow = Selectable<VaultRecordsTable>;
export type FileRow = Selectable<VaultFilesTable>;

export function findRecord(trx: TenantTransaction, tenantId: string, collection: string, key: string): Promise<RecordRow | undefined> {
  return trx.selectFrom('vault_records').selectAll().where('tenant_id', '=', tenantId).where('collection', '=', collection).where('record_key', '=', key).executeTakeFirst();
}

/** Inserts or replaces a record; returns whether it was new. */
export async function upsertRecord(trx: TenantTransaction, row: Omit<RecordRow, 'created_at' | 'updated_at'> & { at: Date }): Promise<boolean> {
  const { at, ...values } = row;
  const result = await trx
    .insertInto('vault_records')
    .values({ ...values, created_at: at, updated_at: at })
    .onConflict((conflict) =>
      conflict.columns(['tenant_id', 'collection', 'record_key']).doUpdateSet((eb) => ({
        data_key_id: eb.ref('excluded.data_key_id'),
        data_sealed: eb.ref('excluded.data_sealed'),
        subject_index: eb.ref('excluded.subject_index'),
        subject_sealed: eb.ref('excluded.subject_sealed'),
        category: eb.ref('excluded.category'),
        updated_at: eb.ref('excluded.updated_at'),
      })),
    )
    // xmax is 0 on a row this statement inserted, and set on one it updated.
    .returning(sql<boolean>`xmax = 0`.as('inserted'))
    .executeTakeFirstOrThrow();
  return result.inserted;
}

export async function deleteRecord(trx: TenantTransaction, tenantId: string, collection: string, key: string): Promise<RecordRow | undefined> {
  return trx.deleteFrom('vault_records').where('tenant_id', '=', tenantId).where('collection', '=', collection).where('record_key', '=', key).returningAll().executeTakeFirst();
}

/**
 * A page of a collection in key order, after `afterKey`, optionally of one subject (by blind
 * index); records of flagged subjects only with `includeFlagged` (a checked read of that subject).
 */
export function listRecords(trx: TenantTransaction, tenantId: string, collection: string, options: { subjectIndex: Buffer | null; afterKey: string | null; limit: number; includeFlagged?: boolean }): Promise<RecordRow[]> {
  let query = trx.selectFrom('vault_records').selectAll().where('tenant_id', '=', tenantId).where('collection', '=', collection);
  if (!options.includeFlagged) query = query.where(unflagged('vault_records'));
  if (options.subjectIndex) query = query.where('subject_index', '=', options.subjectIndex);
  if (options.afterKey !== null) query = query.where('record_key', '>', options.afterKey);
  return query.orderBy('record_key').limit(options.limit).execute();
}

export function findFile(trx: TenantTransaction, tenantId: string, key: string): Promise<FileRow | undefined> {
  return trx.selectFrom('vault_files').selectAll().where('tenant_id', '=', tenantId).where('file_key', '=', key).executeTakeFirst();
}

/** Inserts or replaces a file's metadata; returns the blob it replaced, if any, for removal after commit. */
export async function upsertFile(trx: TenantTransaction, row: Omit<FileRow, 'created_at' | 'updated_at'> & { at: Date }): Promise<{ created: boolean; replacedBlob: string | null }> {
  const previous = await trx.selectFrom('vault_files').select('blob_id').where('tenant_id', '=', row.tenant_id).where('file_key', '=', row.file_key).forUpdate().executeTakeFirst();
  const { at, ...values } = row;
  if (previous) {
    await trx
      .updateTable('vault_files')
      .set({ blob_id: values.blob_id, data_key_id: values.data_key_id, size_bytes: values.size_bytes, content_type: values.content_type, subject_index: values.subject_index, updated_at: at })
      .where('tenant_id', '=', row.tenant_id)
      .where('file_key', '=', row.file_key)
      .execute();
    return { created: false, replacedBlob: previous.blob_id };
  }
  await trx.insertInto('vault_files').values({ ...values, created_at: at, updated_at: at }).execute();
  return { created: true, replacedBlob: null };
}

export function deleteFile(trx: TenantTransaction, tenantId: string, key: string): Promise<FileRow | undefined> {
  return trx.deleteFrom('vault_files').where('tenant_id', '=', tenantId).where('file_key', '=', key).returningAll().executeTakeFirst();
}
