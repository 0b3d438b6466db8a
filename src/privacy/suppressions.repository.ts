import type { TenantTransaction } from '../platform/db/index.js';

/** Adds a hash; false when it was already on the list. */
export async function insertSuppression(trx: TenantTransaction, row: { tenant_id: string; email_hash: Buffer; source: 'api' | 'objection'; request_id: string | null; created_at: Date }): Promise<boolean> {
  const result = await trx.insertInto('suppressions').values(row).onConflict((conflict) => conflict.doNothing()).executeTakeFirst();
  return Number(result.numInsertedOrUpdatedRows ?? 0) > 0;
}

export async function deleteSuppression(trx: TenantTransaction, tenantId: string, emailHash: Buffer): Promise<boolean> {
  const result = await trx.deleteFrom('suppressions').where('tenant_id', '=', tenantId).where('email_hash', '=', emailHash).executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}

/** Removes what an objection request added (the request was rejected). */
export async function deleteSuppressionsOfRequest(trx: TenantTransaction, tenantId: string, requestId: string): Promise<void> {
  await trx.deleteFrom('suppressions').where('tenant_id', '=', tenantId).where('request_id', '=', requestId).execute();
}

export function findSuppression(trx: TenantTransaction, tenantId: string, emailHash: Buffer) {
  return trx.selectFrom('suppressions').select(['source', 'created_at']).where('tenant_id', '=', tenantId).where('email_hash', '=', emailHash).executeTakeFirst();
}

export function listSuppressions(trx: TenantTransaction, tenantId: string, afterHash: Buffer | null, limit: number) {
  let query = trx.selectFrom('suppressions').select(['email_hash', 'source', 'created_at']).where('tenant_id', '=', tenantId);
  if (afterHash) query = query.where('email_hash', '>', afterHash);
  return query.orderBy('email_hash').limit(limit).execute();
}
