import { sql } from 'kysely';
import type { Kysely, Selectable } from 'kysely';
import type { DB, TenantTransaction } from '../../platform/db/index.js';
import type { DsrHistoryTable, DsrRequestsTable, DsrStatus } from '../../platform/db/schema.js';

export type RequestRow = Selectable<DsrRequestsTable>;
export type HistoryRow = Selectable<DsrHistoryTable>;

export const OPEN_STATUSES: readonly DsrStatus[] = ['received', 'in_progress'];

export async function insertRequest(trx: TenantTransaction, row: Omit<RequestRow, 'receipt'>): Promise<void> {
  await trx.insertInto('dsr_requests').values({ ...row, receipt: null }).execute();
}

export function findRequest(trx: TenantTransaction, tenantId: string, requestId: string, options: { lock?: boolean } = {}): Promise<RequestRow | undefined> {
  const query = trx.selectFrom('dsr_requests').selectAll().where('tenant_id', '=', tenantId).where('request_id', '=', requestId);
  return (options.lock ? query.forUpdate() : query).executeTakeFirst();
}

export async function hasOpenRequest(trx: TenantTransaction, tenantId: string, subjectIndex: Buffer, type: string): Promise<boolean> {
  const row = await trx
    .selectFrom('dsr_requests')
    .select('request_id')
    .where('tenant_id', '=', tenantId)
    .where('subject_index', '=', subjectIndex)
    .where('type', '=', type as RequestRow['type'])
    .where('status', 'in', OPEN_STATUSES)
    .executeTakeFirst();
  return row !== undefined;
}

export async function updateRequest(trx: TenantTransaction, tenantId: string, requestId: string, changes: Partial<Omit<RequestRow, 'tenant_id' | 'request_id' | 'receipt'>> & { receipt?: string }): Promise<void> {
  await trx.updateTable('dsr_requests').set(changes).where('tenant_id', '=', tenantId).where('request_id', '=', requestId).execute();
}

export interface ListFilters {
  status?: DsrStatus | undefined;
  /** Open requests due before this time. */
  dueBefore?: Date | undefined;
  /** Continue after this (received_at, request_id), newest first. */
  after?: { receivedAt: Date; requestId: string } | undefined;
  limit: number;
}

export function listRequests(trx: TenantTransaction, tenantId: string, filters: ListFilters): Promise<RequestRow[]> {
  let query = trx.selectFrom('dsr_requests').selectAll().where('tenant_id', '=', tenantId);
  if (filters.status) query = query.where('status', '=', filters.status);
  if (filters.dueBefore) query = query.where('status', 'in', OPEN_STATUSES).where('due_at', '<', filters.dueBefore);
  const after = filters.after;
  if (after) query = query.where(sql<boolean>`(received_at, request_id) < (${after.receivedAt}, ${after.requestId}::uuid)`);
  return query.orderBy('received_at', 'desc').orderBy('request_id', 'desc').limit(filters.limit).execute();
}

/** Appends a step to the request's history; returns its seq. */
export async function appendHistory(trx: TenantTransaction, row: Omit<HistoryRow, 'seq' | 'detail' | 'previous_sealed'> & { detail?: Record<string, unknown>; previous_sealed?: Buffer | null }): Promise<number> {
  const last = await trx
    .selectFrom('dsr_history')
    .select((eb) => eb.fn.max('seq').as('seq'))
    .where('tenant_id', '=', row.tenant_id)
    .where('request_id', '=', row.request_id)
    .executeTakeFirst();
  const seq = (last?.seq ?? 0) + 1;
  await trx
    .insertInto('dsr_history')
    .values({ ...row, seq, detail: JSON.stringify(row.detail ?? {}), previous_sealed: row.previous_sealed ?? null })
    .execute();
  return seq;
}

export function listHistory(trx: TenantTransaction, tenantId: string, requestId: string): Promise<HistoryRow[]> {
  return trx.selectFrom('dsr_history').selectAll().where('tenant_id', '=', tenantId).where('request_id', '=', requestId).orderBy('seq').execute();
}

/** Drops the old versions kept for a rectification (the request closed). */
export async function dropPreviousVersions(trx: TenantTransaction, tenantId: string, requestId: string): Promise<void> {
  await trx.updateTable('dsr_history').set({ previous_sealed: null }).where('tenant_id', '=', tenantId).where('request_id', '=', requestId).where('previous_sealed', 'is not', null).execute();
}

/** Orgs with an open request due before `before`, across tenants (rampart_dsr_tenants_due in 0007). */
export async function tenantsWithRequestsDue(db: Kysely<DB>, before: Date): Promise<string[]> {
  const { rows } = await sql<{ tenant_id: string }>`select tenant_id from rampart_dsr_tenants_due(${before})`.execute(db);
  return rows.map((row) => row.tenant_id);
}

/** The org's owners and admins, to remind of deadlines. */
export function listAdmins(trx: TenantTransaction, tenantId: string) {
  return trx.selectFrom('memberships').select('user_id').where('tenant_id', '=', tenantId).where('role', 'in', ['owner', 'admin']).execute();
}

/** Emails of users by id (outside the tenant scope: users are not tenant rows); for reminder mail. */
export function emailsOf(db: Kysely<DB>, userIds: string[]) {
  if (userIds.length === 0) return Promise.resolve([]);
  return db.selectFrom('users').select(['id', 'email']).where('id', 'in', userIds).where('status', '=', 'active').execute();
}

export async function isMember(trx: TenantTransaction, tenantId: string, userId: string): Promise<boolean> {
  return (await trx.selectFrom('memberships').select('user_id').where('tenant_id', '=', tenantId).where('user_id', '=', userId).executeTakeFirst()) !== undefined;
}
