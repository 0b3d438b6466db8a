import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import type { DB, TenantTransaction } from '../../platform/db/index.js';

export interface ExportRow {
  export_id: string;
  requested_by: string;
  status: 'pending' | 'running' | 'ready' | 'failed' | 'expired';
  blob_id: string | null;
  size_bytes: number | null;
  items_done: number;
  items_total: number | null;
  created_at: Date;
  completed_at: Date | null;
  expires_at: Date | null;
}

const COLUMNS = ['export_id', 'requested_by', 'status', 'blob_id', 'size_bytes', 'items_done', 'items_total', 'created_at', 'completed_at', 'expires_at'] as const;

export async function insertExport(trx: TenantTransaction, row: { tenantId: string; exportId: string; requestedBy: string; at: Date }): Promise<void> {
  await trx.insertInto('org_exports').values({ tenant_id: row.tenantId, export_id: row.exportId, requested_by: row.requestedBy, status: 'pending', created_at: row.at }).execute();
}

export async function findExport(trx: TenantTransaction, tenantId: string, exportId: string, options: { lock?: boolean } = {}): Promise<ExportRow | undefined> {
  let query = trx.selectFrom('org_exports').select(COLUMNS).where('tenant_id', '=', tenantId).where('export_id', '=', exportId);
  if (options.lock) query = query.forUpdate();
  const row = await query.executeTakeFirst();
  return row && { ...row, size_bytes: row.size_bytes === null ? null : Number(row.size_bytes), items_done: Number(row.items_done), items_total: row.items_total === null ? null : Number(row.items_total) };
}

export async function markRunning(trx: TenantTransaction, tenantId: string, exportId: string, itemsTotal: number): Promise<void> {
  await trx.updateTable('org_exports').set({ status: 'running', items_total: itemsTotal, items_done: 0 }).where('tenant_id', '=', tenantId).where('export_id', '=', exportId).execute();
}

export async function setProgress(trx: TenantTransaction, tenantId: string, exportId: string, itemsDone: number): Promise<void> {
  await trx.updateTable('org_exports').set({ items_done: itemsDone }).where('tenant_id', '=', tenantId).where('export_id', '=', exportId).where('status', '=', 'running').execute();
}

export async function markReady(trx: TenantTransaction, tenantId: string, exportId: string, done: { blobId: string; sizeBytes: number; items: number; at: Date; expiresAt: Date }): Promise<boolean> {
  const result = await trx
    .updateTable('org_exports')
    .set({ status: 'ready', blob_id: done.blobId, size_bytes: done.sizeBytes, items_done: done.items, completed_at: done.at, expires_at: done.expiresAt })
    .where('tenant_id', '=', tenantId)
    .where('export_id', '=', exportId)
    .where('status', 'in', ['pending', 'running'])
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

export async function markFailed(trx: TenantTransaction, tenantId: string, exportId: string, failure: string, at: Date): Promise<void> {
  await trx.updateTable('org_exports').set({ status: 'failed', failure, completed_at: at }).where('tenant_id', '=', tenantId).where('export_id', '=', exportId).where('status', 'in', ['pending', 'running']).execute();
}

/** Marks a ready export expired; returns its blob (to delete after commit), or null if it was not ready. */
export async function markExpired(trx: TenantTransaction, tenantId: string, exportId: string): Promise<{ blob_id: string | null } | undefined> {
  return trx.updateTable('org_exports').set({ status: 'expired' }).where('tenant_id', '=', tenantId).where('export_id', '=', exportId).where('status', '=', 'ready').returning('blob_id').executeTakeFirst();
}

/** Ready exports past their time, across tenants: (tenant, export) pairs only (migrations/0008). */
export async function expiredExports(db: Kysely<DB>, now: Date): Promise<Array<{ tenant_id: string; export_id: string }>> {
  const { rows } = await sql<{ tenant_id: string; export_id: string }>`select tenant_id, export_id from rampart_expired_org_exports(${now})`.execute(db);
  return rows;
}

// What the export holds about the org itself.

export function readOrg(trx: TenantTransaction, tenantId: string) {
  return trx.selectFrom('tenants').select(['tenant_id', 'name', 'plan', 'public_id', 'mfa_required_for', 'invite_only', 'retention_days', 'erasure_grace_days', 'created_at']).where('tenant_id', '=', tenantId).executeTakeFirstOrThrow();
}

export function listMemberships(trx: TenantTransaction, tenantId: string) {
  return trx.selectFrom('memberships').select(['user_id', 'role', 'created_at']).where('tenant_id', '=', tenantId).orderBy('user_id').execute();
}

/** The members' accounts, read by id outside the tenant scope (the app role reads no accounts across tenants). */
export async function describeUsers(db: Kysely<DB>, userIds: string[]) {
  if (userIds.length === 0) return [];
  return db.selectFrom('users').select(['id', 'email', 'name']).where('id', 'in', userIds).execute();
}

/** API key metadata: never the hash. */
export function listApiKeys(trx: TenantTransaction, tenantId: string) {
  return trx.selectFrom('api_keys').select(['key_id', 'name', 'scopes', 'created_by', 'created_at', 'expires_at', 'last_used_at', 'revoked_at']).where('tenant_id', '=', tenantId).orderBy('created_at').execute();
}

/** A page of the org's data-subject requests (src/privacy/dsr's table, read only), in id order. */
export function pageDsrRequests(trx: TenantTransaction, tenantId: string, afterId: string | null, limit: number) {
  let query = trx.selectFrom('dsr_requests').selectAll().where('tenant_id', '=', tenantId);
  if (afterId !== null) query = query.where('request_id', '>', afterId);
  return query.orderBy('request_id').limit(limit).execute();
}

export function listLegalHolds(trx: TenantTransaction, tenantId: string) {
  return trx.selectFrom('legal_holds').select(['collection', 'record_key', 'reason', 'held_by', 'held_at']).where('tenant_id', '=', tenantId).orderBy('collection').orderBy('record_key').execute();
}

/** How many entries the org's audit chain holds (archived ones included). */
export async function auditSize(trx: TenantTransaction, tenantId: string): Promise<number> {
  const head = await trx.selectFrom('audit_heads').select('size').where('tenant_id', '=', tenantId).executeTakeFirst();
  return Number(head?.size ?? 0);
}
