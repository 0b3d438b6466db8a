import type { Kysely, Selectable } from 'kysely';
import type { DB, TenantTransaction, UserTransaction } from '../platform/db/index.js';
import type { Role } from './permissions.js';

export type TenantRow = Selectable<DB['tenants']>;
export type OrgSettings = Partial<Pick<TenantRow, 'name' | 'mfa_required_for' | 'invite_only' | 'retention_days' | 'erasure_grace_days'>>;

export async function insertTenant(trx: TenantTransaction, tenantId: string, name: string): Promise<void> {
  await trx.insertInto('tenants').values({ tenant_id: tenantId, name }).execute();
}

export async function findTenant(trx: TenantTransaction, tenantId: string): Promise<TenantRow | undefined> {
  return trx.selectFrom('tenants').selectAll().where('tenant_id', '=', tenantId).executeTakeFirst();
}

/** Locks the org row: settings changes and owner counts are decided one at a time. */
export async function lockTenant(trx: TenantTransaction, tenantId: string): Promise<TenantRow | undefined> {
  return trx.selectFrom('tenants').selectAll().where('tenant_id', '=', tenantId).forUpdate().executeTakeFirst();
}

export async function updateTenant(trx: TenantTransaction, tenantId: string, changes: OrgSettings, now: Date): Promise<void> {
  await trx.updateTable('tenants').set({ ...changes, updated_at: now }).where('tenant_id', '=', tenantId).execute();
}

export async function insertMembership(trx: TenantTransaction, tenantId: string, userId: string, role: Role): Promise<void> {
  await trx.insertInto('memberships').values({ tenant_id: tenantId, user_id: userId, role }).execute();
}

export async function findMembership(trx: TenantTransaction, tenantId: string, userId: string) {
  return trx.selectFrom('memberships').select(['user_id', 'role']).where('tenant_id', '=', tenantId).where('user_id', '=', userId).executeTakeFirst();
}

/** The org row and the user's role in it (null when not a member). */
export type Standing = TenantRow & { role: Role | null };

/** The caller's standing in one statement: the org row joined with their membership. */
export async function readStanding(trx: TenantTransaction, tenantId: string, userId: string): Promise<Standing | undefined> {
  return trx
    .selectFrom('tenants as t')
    .leftJoin('memberships as m', (join) => join.onRef('m.tenant_id', '=', 't.tenant_id').on('m.user_id', '=', userId))
    .selectAll('t')
    .select('m.role')
    .where('t.tenant_id', '=', tenantId)
    .executeTakeFirst();
}

export async function listMemberships(trx: TenantTransaction, tenantId: string) {
  return trx.selectFrom('memberships').select(['user_id', 'role', 'created_at']).where('tenant_id', '=', tenantId).orderBy('created_at').execute();
}

export async function countOwners(trx: TenantTransaction, tenantId: string): Promise<number> {
  const row = await trx
    .selectFrom('memberships')
    .select((eb) => eb.fn.countAll<number>().as('owners'))
    .where('tenant_id', '=', tenantId)
    .where('role', '=', 'owner')
    .executeTakeFirstOrThrow();
  return Number(row.owners);
}

export async function updateRole(trx: TenantTransaction, tenantId: string, userId: string, role: Role, now: Date): Promise<void> {
  await trx.updateTable('memberships').set({ role, updated_at: now }).where('tenant_id', '=', tenantId).where('user_id', '=', userId).execute();
}

export async function deleteMembership(trx: TenantTransaction, tenantId: string, userId: string): Promise<void> {
  await trx.deleteFrom('memberships').where('tenant_id', '=', tenantId).where('user_id', '=', userId).execute();
}

/**
 * The orgs a user belongs to, across tenants (their /v1/me): the one cross-tenant read, in a
 * user-scoped transaction whose policies show that user's memberships and nothing else.
 */
export async function listOrgsOfUser(trx: UserTransaction, userId: string) {
  return trx
    .selectFrom('memberships as m')
    .innerJoin('tenants as t', 't.tenant_id', 'm.tenant_id')
    .select(['t.tenant_id', 't.name', 'm.role'])
    .where('m.user_id', '=', userId)
    .orderBy('t.name')
    .execute();
}

/** Account facts for a member list; the ids come from the tenant-scoped membership query. */
export async function describeUsers(db: Kysely<DB>, userIds: string[]) {
  if (userIds.length === 0) return [];
  return db
    .selectFrom('users as u')
    .leftJoin('totp_factors as f', (join) => join.onRef('f.principal_id', '=', 'u.id').on('f.realm', '=', 'user'))
    .select(['u.id', 'u.email', 'u.name', 'f.confirmed_at'])
    .where('u.id', 'in', userIds)
    .execute();
}
