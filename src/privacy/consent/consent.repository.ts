import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import type { DB, TenantTransaction } from '../../platform/db/index.js';

export interface ConsentRow {
  consent_id: string;
  proof_sealed: Buffer;
  purposes: Record<string, boolean>;
  source: string;
  policy_version: string;
  signal: 'gpc' | 'dnt' | null;
  recorded_at: Date;
}

export async function insertConsent(
  trx: TenantTransaction,
  row: { tenantId: string; consentId: string; subjectIndex: Buffer; proofSealed: Buffer; purposes: Record<string, boolean>; source: string; policyVersion: string; signal: 'gpc' | 'dnt' | null; at: Date },
): Promise<void> {
  await trx
    .insertInto('consent_records')
    .values({
      tenant_id: row.tenantId,
      consent_id: row.consentId,
      subject_index: row.subjectIndex,
      proof_sealed: row.proofSealed,
      purposes: JSON.stringify(row.purposes),
      source: row.source,
      policy_version: row.policyVersion,
      signal: row.signal,
      recorded_at: row.at,
    })
    .execute();
}

/** A subject's consent records, newest first (ties broken by id, so the order is stable). */
export function listConsentsOf(trx: TenantTransaction, tenantId: string, subjectIndex: Buffer, limit: number): Promise<ConsentRow[]> {
  return trx
    .selectFrom('consent_records')
    .select(['consent_id', 'proof_sealed', 'purposes', 'source', 'policy_version', 'signal', 'recorded_at'])
    .where('tenant_id', '=', tenantId)
    .where('subject_index', '=', subjectIndex)
    .orderBy('recorded_at', 'desc')
    .orderBy('consent_id', 'desc')
    .limit(limit)
    .execute();
}

/** A page of every consent record of the org, in id order (whole-org export). */
export function pageConsents(trx: TenantTransaction, tenantId: string, afterId: string | null, limit: number): Promise<ConsentRow[]> {
  let query = trx.selectFrom('consent_records').select(['consent_id', 'proof_sealed', 'purposes', 'source', 'policy_version', 'signal', 'recorded_at']).where('tenant_id', '=', tenantId);
  if (afterId !== null) query = query.where('consent_id', '>', afterId);
  return query.orderBy('consent_id').limit(limit).execute();
}

export async function countConsents(trx: TenantTransaction, tenantId: string): Promise<number> {
  const row = await trx.selectFrom('consent_records').select(sql<string>`count(*)`.as('n')).where('tenant_id', '=', tenantId).executeTakeFirstOrThrow();
  return Number(row.n);
}

/** The tenant a public id names, or null; through rampart_tenant_of_public_id (migrations/0008). */
export async function tenantOfPublicId(db: Kysely<DB>, publicId: string): Promise<string | null> {
  const { rows } = await sql<{ tenant_id: string | null }>`select rampart_tenant_of_public_id(${publicId}) as tenant_id`.execute(db);
  return rows[0]?.tenant_id ?? null;
}
