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
    await sql`select set_config('rampart.tenant_id', ${tenantId}, true)`.execute(trx);
    await sql`set local role rampart_app`.execute(trx);
    return work(trx as TenantTransaction);
  });
}
