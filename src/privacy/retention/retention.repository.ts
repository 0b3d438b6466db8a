import { sql } from 'kysely';
import type { TenantTransaction } from '../../platform/db/index.js';
import type { RetentionOverrides } from '../settings/settings.schemas.js';

/** Where a held file is listed: legal holds name files under this collection. */
export const FILES_COLLECTION = '@files';

export interface RunRow {
  started_at: Date;
  records_deleted: number;
  files_deleted: number;
  finished_at: Date | null;
}

/** The day's run of the org, made (with its start time, which fixes every cutoff of the run) if new. */
export async function startRun(trx: TenantTransaction, tenantId: string, runOn: string, at: Date): Promise<RunRow> {
  await trx.insertInto('retention_runs').values({ tenant_id: tenantId, run_on: runOn, started_at: at }).onConflict((conflict) => conflict.columns(['tenant_id', 'run_on']).doNothing()).execute();
  const row = await trx.selectFrom('retention_runs').select(['started_at', 'records_deleted', 'files_deleted', 'finished_at']).where('tenant_id', '=', tenantId).where('run_on', '=', runOn).forUpdate().executeTakeFirstOrThrow();
  return { ...row, records_deleted: Number(row.records_deleted), files_deleted: Number(row.files_deleted) };
}

export async function addToRun(trx: TenantTransaction, tenantId: string, runOn: string, counts: { records: number; files: number }): Promise<void> {
  await trx
    .updateTable('retention_runs')
    .set({ records_deleted: sql<number>`records_deleted + ${counts.records}`, files_deleted: sql<number>`files_deleted + ${counts.files}` })
    .where('tenant_id', '=', tenantId)
    .where('run_on', '=', runOn)
    .execute();
}

/** Marks the run finished; returns its counts, or null if another worker finished it first. */
export async function finishRun(trx: TenantTransaction, tenantId: string, runOn: string, at: Date): Promise<RunRow | null> {
  const row = await trx
    .updateTable('retention_runs')
    .set({ finished_at: at })
    .where('tenant_id', '=', tenantId)
    .where('run_on', '=', runOn)
    .where('finished_at', 'is', null)
    .returning(['started_at', 'records_deleted', 'files_deleted', 'finished_at'])
    .executeTakeFirst();
  return row ? { ...row, records_deleted: Number(row.records_deleted), files_deleted: Number(row.files_deleted) } : null;
}

/** Days a record (of `vault_records v`) is kept: its collection's override, else its category's, else the org's. */
function daysKept(overrides: RetentionOverrides, orgDays: number) {
  const cases = [
    ...Object.entries(overrides.collections ?? {}).map(([collection, days]) => sql`when v.collection = ${collection} then ${days}::int`),
    ...Object.entries(overrides.categories ?? {}).map(([category, days]) => sql`when v.category = ${category} then ${days}::int`),
  ];
  return cases.length === 0 ? sql`${orgDays}::int` : sql`(case ${sql.join(cases, sql` `)} else ${orgDays}::int end)`;
}

const notHeld = (collection: ReturnType<typeof sql>, key: ReturnType<typeof sql>) =>
  sql`not exists (select 1 from legal_holds h where h.tenant_id = ${sql.ref('v.tenant_id')} and h.collection = ${collection} and h.record_key = ${key})`;

/** Deletes up to `limit` expired records not under legal hold; returns how many. */
export async function deleteExpiredRecords(trx: TenantTransaction, tenantId: string, runStart: Date, overrides: RetentionOverrides, orgDays: number, limit: number): Promise<number> {
  const { rows } = await sql<{ n: string }>`
    with expired as (
      select v.collection, v.record_key from vault_records v
      where v.tenant_id = ${tenantId}
        and v.updated_at < ${runStart}::timestamptz - make_interval(days => ${daysKept(overrides, orgDays)})
        and ${notHeld(sql.ref('v.collection'), sql.ref('v.record_key'))}
      limit ${limit}
    ), deleted as (
      delete from vault_records r using expired e
      where r.tenant_id = ${tenantId} and r.collection = e.collection and r.record_key = e.record_key
      returning 1
    )
    select count(*) as n from deleted`.execute(trx);
  return Number(rows[0]?.n ?? 0);
}

/** Deletes up to `limit` expired file rows not under legal hold; returns their blobs, to remove after commit. */
export async function deleteExpiredFiles(trx: TenantTransaction, tenantId: string, runStart: Date, days: number, limit: number): Promise<string[]> {
  const { rows } = await sql<{ blob_id: string }>`
    with expired as (
      select v.file_key from vault_files v
      where v.tenant_id = ${tenantId}
        and v.updated_at < ${runStart}::timestamptz - make_interval(days => ${days}::int)
        and ${notHeld(sql`${FILES_COLLECTION}`, sql.ref('v.file_key'))}
      limit ${limit}
    )
    delete from vault_files f using expired e
    where f.tenant_id = ${tenantId} and f.file_key = e.file_key
    returning f.blob_id`.execute(trx);
  return rows.map((row) => row.blob_id);
}

/** Records past their time that a legal hold keeps (reported with the run's counts). */
export async function countHeldExpired(trx: TenantTransaction, tenantId: string, runStart: Date, overrides: RetentionOverrides, orgDays: number): Promise<number> {
  const { rows } = await sql<{ n: string }>`
    select count(*) as n from vault_records v join legal_holds h on h.tenant_id = v.tenant_id and h.collection = v.collection and h.record_key = v.record_key
    where v.tenant_id = ${tenantId} and v.updated_at < ${runStart}::timestamptz - make_interval(days => ${daysKept(overrides, orgDays)})`.execute(trx);
  return Number(rows[0]?.n ?? 0);
}

export interface HoldRow {
  collection: string;
  record_key: string;
  held_by: string;
  held_at: Date;
}

export async function insertHold(trx: TenantTransaction, hold: { tenantId: string; collection: string; key: string; reason: string; heldBy: string; at: Date }): Promise<boolean> {
  const result = await trx
    .insertInto('legal_holds')
    .values({ tenant_id: hold.tenantId, collection: hold.collection, record_key: hold.key, reason: hold.reason, held_by: hold.heldBy, held_at: hold.at })
    .onConflict((conflict) => conflict.columns(['tenant_id', 'collection', 'record_key']).doNothing())
    .executeTakeFirst();
  return Number(result.numInsertedOrUpdatedRows ?? 0) > 0;
}

export async function deleteHold(trx: TenantTransaction, tenantId: string, collection: string, key: string): Promise<boolean> {
  const result = await trx.deleteFrom('legal_holds').where('tenant_id', '=', tenantId).where('collection', '=', collection).where('record_key', '=', key).executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}

export function listHolds(trx: TenantTransaction, tenantId: string): Promise<HoldRow[]> {
  return trx.selectFrom('legal_holds').select(['collection', 'record_key', 'held_by', 'held_at']).where('tenant_id', '=', tenantId).orderBy('collection').orderBy('record_key').limit(1000).execute();
}
