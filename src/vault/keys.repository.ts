import { sql } from 'kysely';
import type { Kysely, Selectable } from 'kysely';
import type { DataKeysTable, DB, TenantKeysTable } from '../platform/db/schema.js';
import type { TenantTransaction } from '../platform/db/index.js';

export type TenantKeyRow = Selectable<TenantKeysTable>;
export type DataKeyRow = Selectable<DataKeysTable>;

/** The tenant's newest key that is not retired. */
export function findCurrentTenantKey(trx: TenantTransaction, tenantId: string): Promise<TenantKeyRow | undefined> {
  return trx.selectFrom('tenant_keys').selectAll().where('tenant_id', '=', tenantId).where('retired_at', 'is', null).orderBy('version', 'desc').limit(1).executeTakeFirst();
}

export function findTenantKey(trx: TenantTransaction, tenantId: string, version: number): Promise<TenantKeyRow | undefined> {
  return trx.selectFrom('tenant_keys').selectAll().where('tenant_id', '=', tenantId).where('version', '=', version).executeTakeFirst();
}

/** Serializes key creation and rotation per tenant (two nodes creating version 1 at once). */
export async function lockTenantKeys(trx: TenantTransaction, tenantId: string): Promise<void> {
  await sql`select pg_advisory_xact_lock(hashtextextended(${`rampart:tenant-keys:${tenantId}`}, 0))`.execute(trx);
}

export async function latestTenantKeyVersion(trx: TenantTransaction, tenantId: string): Promise<number> {
  const row = await trx.selectFrom('tenant_keys').select((eb) => eb.fn.max('version').as('version')).where('tenant_id', '=', tenantId).executeTakeFirst();
  return row?.version ?? 0;
}

export async function insertTenantKey(trx: TenantTransaction, row: { tenantId: string; version: number; provider: string; wrapped: Buffer; at: Date }): Promise<void> {
  await trx.insertInto('tenant_keys').values({ tenant_id: row.tenantId, version: row.version, provider: row.provider, wrapped_key: row.wrapped, created_at: row.at }).execute();
}

/** Retires every older version: they still unwrap data keys until a rewrap moves them on. */
export async function retireTenantKeysBefore(trx: TenantTransaction, tenantId: string, version: number, at: Date): Promise<void> {
  await trx.updateTable('tenant_keys').set({ retired_at: at }).where('tenant_id', '=', tenantId).where('version', '<', version).where('retired_at', 'is', null).execute();
}

/** The live data key of a subject (a blind index), or the tenant's own when `subjectIndex` is null. */
export function findLiveDataKey(trx: TenantTransaction, tenantId: string, subjectIndex: Buffer | null): Promise<DataKeyRow | undefined> {
  let query = trx.selectFrom('data_keys').selectAll().where('tenant_id', '=', tenantId).where('destroyed_at', 'is', null);
  query = subjectIndex === null ? query.where('subject_index', 'is', null) : query.where('subject_index', '=', subjectIndex);
  return query.executeTakeFirst();
}

export function findDataKey(trx: TenantTransaction, tenantId: string, keyId: string): Promise<DataKeyRow | undefined> {
  return trx.selectFrom('data_keys').selectAll().where('tenant_id', '=', tenantId).where('key_id', '=', keyId).executeTakeFirst();
}

/** Inserts a data key unless a live one for the same subject appeared first (another request won). */
export async function insertDataKey(trx: TenantTransaction, row: { tenantId: string; keyId: string; subjectIndex: Buffer | null; kekVersion: number; wrapped: Buffer; at: Date }): Promise<boolean> {
  const result = await trx
    .insertInto('data_keys')
    .values({ tenant_id: row.tenantId, key_id: row.keyId, subject_index: row.subjectIndex, kek_version: row.kekVersion, wrapped_key: row.wrapped, created_at: row.at })
    .onConflict((conflict) => conflict.doNothing())
    .executeTakeFirst();
  return Number(result.numInsertedOrUpdatedRows ?? 0) > 0;
}

/** Live data keys wrapped by an older KEK version, for the rewrap job; locked so two workers never rewrap one key twice. */
export function lockStaleDataKeys(trx: TenantTransaction, tenantId: string, currentVersion: number, limit: number): Promise<DataKeyRow[]> {
  return trx
    .selectFrom('data_keys')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .where('destroyed_at', 'is', null)
    .where('kek_version', '<', currentVersion)
    .orderBy('key_id')
    .limit(limit)
    .forUpdate()
    .skipLocked()
    .execute();
}

export async function countStaleDataKeys(trx: TenantTransaction, tenantId: string, currentVersion: number): Promise<number> {
  const row = await trx
    .selectFrom('data_keys')
    .select((eb) => eb.fn.countAll<number>().as('count'))
    .where('tenant_id', '=', tenantId)
    .where('destroyed_at', 'is', null)
    .where('kek_version', '<', currentVersion)
    .executeTakeFirstOrThrow();
  return Number(row.count);
}

export async function updateDataKeyWrapping(trx: TenantTransaction, tenantId: string, keyId: string, kekVersion: number, wrapped: Buffer): Promise<void> {
  await trx.updateTable('data_keys').set({ kek_version: kekVersion, wrapped_key: wrapped }).where('tenant_id', '=', tenantId).where('key_id', '=', keyId).execute();
}

/**
 * Destroys the live data keys of a subject: the wrapped key is overwritten with zeros of the same
 * length (nothing left to unwrap, even for someone holding the KEK) and marked destroyed.
 * Returns the ids destroyed. `createdBefore` limits it to keys older than an erasure: a restore
 * re-applying the ledger must not destroy a key made after the erasure it replays. A live erasure
 * passes none and destroys every live key of the subject, whatever the clocks of the nodes that
 * made them say.
 */
export async function destroyDataKeys(trx: TenantTransaction, tenantId: string, subjectIndex: Buffer, at: Date, createdBefore: Date | null = null): Promise<string[]> {
  let query = trx
    .updateTable('data_keys')
    .set({ wrapped_key: sql<Buffer>`decode(repeat('00', length(wrapped_key)), 'hex')`, destroyed_at: at })
    .where('tenant_id', '=', tenantId)
    .where('subject_index', '=', subjectIndex)
    .where('destroyed_at', 'is', null);
  if (createdBefore !== null) query = query.where('created_at', '<=', createdBefore);
  const rows = await query.returning('key_id').execute();
  return rows.map((row) => row.key_id);
}

export async function insertErasure(trx: TenantTransaction, row: { tenantId: string; entryId: string; subjectIndex: Buffer; requestId: string | null; at: Date }): Promise<void> {
  await trx.insertInto('erasure_ledger').values({ tenant_id: row.tenantId, entry_id: row.entryId, subject_index: row.subjectIndex, request_id: row.requestId, at: row.at }).execute();
}

export function listErasures(trx: TenantTransaction, tenantId: string) {
  return trx.selectFrom('erasure_ledger').selectAll().where('tenant_id', '=', tenantId).orderBy('at').execute();
}

/**
 * Every tenant that has keys, read as the role that may see only tenant_keys' (tenant, version)
 * pairs across tenants (migration 0005), for `keys rotate --all` and the rewrap job.
 */
export async function listTenantsWithKeys(db: Kysely<DB>): Promise<string[]> {
  return db.transaction().execute(async (trx) => {
    await sql`set local role rampart_key_maintenance`.execute(trx);
    const rows = await trx.selectFrom('tenant_keys').select('tenant_id').distinct().orderBy('tenant_id').execute();
    return rows.map((row) => row.tenant_id);
  });
}
