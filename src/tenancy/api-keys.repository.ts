import type { Insertable, Selectable } from 'kysely';
import type { DB, TenantTransaction } from '../platform/db/index.js';

export type ApiKeyRow = Selectable<DB['api_keys']>;

export async function insertApiKey(trx: TenantTransaction, row: Insertable<DB['api_keys']>): Promise<ApiKeyRow> {
  return trx.insertInto('api_keys').values(row).returningAll().executeTakeFirstOrThrow();
}

/** The row a presented key claims to be; RLS limits the search to the org of the URL. */
export async function findApiKey(trx: TenantTransaction, tenantId: string, keyId: string): Promise<ApiKeyRow | undefined> {
  return trx.selectFrom('api_keys').selectAll().where('tenant_id', '=', tenantId).where('key_id', '=', keyId).executeTakeFirst();
}

export async function listApiKeys(trx: TenantTransaction, tenantId: string): Promise<ApiKeyRow[]> {
  return trx.selectFrom('api_keys').selectAll().where('tenant_id', '=', tenantId).orderBy('created_at', 'desc').orderBy('key_id').execute();
}

/** Revokes a live key; returns the row only if this call revoked it (a second call changes nothing). */
export async function revokeApiKey(trx: TenantTransaction, tenantId: string, keyId: string, now: Date): Promise<ApiKeyRow | undefined> {
  return trx
    .updateTable('api_keys')
    .set({ revoked_at: now })
    .where('tenant_id', '=', tenantId)
    .where('key_id', '=', keyId)
    .where('revoked_at', 'is', null)
    .returningAll()
    .executeTakeFirst();
}

/** Revokes the live keys `userId` created before `before`; returns those this call revoked. */
export async function revokeApiKeysCreatedBy(trx: TenantTransaction, tenantId: string, userId: string, before: Date, now: Date): Promise<ApiKeyRow[]> {
  return trx
    .updateTable('api_keys')
    .set({ revoked_at: now })
    .where('tenant_id', '=', tenantId)
    .where('created_by', '=', userId)
    .where('created_at', '<=', before)
    .where('revoked_at', 'is', null)
    .returningAll()
    .execute();
}

export async function touchApiKey(trx: TenantTransaction, tenantId: string, keyId: string, now: Date): Promise<void> {
  await trx.updateTable('api_keys').set({ last_used_at: now }).where('tenant_id', '=', tenantId).where('key_id', '=', keyId).execute();
}
