import { sql } from 'kysely';
import type { TenantTransaction } from '../../platform/db/index.js';

/** How many records each collection holds per category: what the vault knows of the org's processing. */
export async function collectionCategories(trx: TenantTransaction, tenantId: string): Promise<Array<{ collection: string; category: string; records: number; with_subject: number }>> {
  const rows = await trx
    .selectFrom('vault_records')
    .select(['collection', 'category', sql<string>`count(*)`.as('records'), sql<string>`count(subject_index)`.as('with_subject')])
    .where('tenant_id', '=', tenantId)
    .groupBy(['collection', 'category'])
    .orderBy('collection')
    .orderBy('category')
    .execute();
  return rows.map((row) => ({ collection: row.collection, category: row.category, records: Number(row.records), with_subject: Number(row.with_subject) }));
}

export async function fileCount(trx: TenantTransaction, tenantId: string): Promise<number> {
  const row = await trx.selectFrom('vault_files').select(sql<string>`count(*)`.as('n')).where('tenant_id', '=', tenantId).executeTakeFirstOrThrow();
  return Number(row.n);
}

/** How many distinct data subjects have consent records. */
export async function consentSubjects(trx: TenantTransaction, tenantId: string): Promise<number> {
  const row = await trx.selectFrom('consent_records').select(sql<string>`count(distinct subject_index)`.as('n')).where('tenant_id', '=', tenantId).executeTakeFirstOrThrow();
  return Number(row.n);
}
