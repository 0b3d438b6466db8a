import { sql } from 'kysely';
import type { Kysely, Transaction } from 'kysely';
import type { DB } from './schema.js';

declare const tenantScoped: unique symbol;

/**
 * A transaction running as the unprivileged `rampart_app` role with the tenant set: row-level
 * security shows it that tenant's rows only. Repository functions that touch tenant tables take
 * this type, so the compiler refuses to call them outside a tenant scope.
 */
export type TenantTransaction = Transaction<DB> & { readonly [tenantScoped]: string };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Runs `work` in a transaction scoped to `tenantId`; it commits if `work` resolves. */
export async function withTenant<T>(db: Kysely<DB>, tenantId: string, work: (trx: TenantTransaction) => Promise<T>): Promise<T> {
  // Checked here because a malformed id would otherwise surface as a cast error inside the policy.
  if (!UUID.test(tenantId)) throw new TypeError('tenant id must be a UUID');
  return db.transaction().execute(async (trx) => {
    // One statement for both (set_config('role') is SET LOCAL ROLE): a round trip less on every tenant request.
    await sql`select set_config('rampart.tenant_id', ${tenantId}, true), set_config('role', 'rampart_app', true)`.execute(trx);
    return work(trx as TenantTransaction);
  });
}

declare const userScoped: unique symbol;

/**
 * A transaction running as `rampart_app` for one user and no tenant: row-level security shows
 * that user's own memberships and the orgs they belong to, read-only, and no other tenant data.
 */
export type UserTransaction = Transaction<DB> & { readonly [userScoped]: string };

/** Runs `work` in a read-only transaction scoped to `userId` (a user's view across their orgs). */
export async function withUser<T>(db: Kysely<DB>, userId: string, work: (trx: UserTransaction) => Promise<T>): Promise<T> {
  if (!UUID.test(userId)) throw new TypeError('user id must be a UUID');
  return db.transaction().execute(async (trx) => {
    await sql`select set_config('rampart.user_id', ${userId}, true)`.execute(trx);
    await sql`set local role rampart_app`.execute(trx);
    await sql`set transaction read only`.execute(trx);
    return work(trx as UserTransaction);
  });
}
