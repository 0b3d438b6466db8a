import { sql } from 'kysely';
import type { Kysely, Transaction } from 'kysely';
import type { Clock } from '../platform/clock.js';
import { withTenant } from '../platform/db/index.js';
import type { DB, TenantTransaction } from '../platform/db/index.js';
import { destroyDataKeys } from './keys.repository.js';

/** One erasure: the tenant, the subject's blind index, when, and the request it came from. No personal data. */
export interface ErasureEntry {
  tenantId: string;
  entryId: string;
  subjectIndex: Buffer;
  requestId: string | null;
  at: Date;
}

/**
 * The whole erasure ledger of a database, every tenant, read as the key-maintenance role (which
 * may read this table and tenant_keys' ids, nothing else). Kept outside the backup hierarchy
 * (docs/operations.md "Restore"): the backups hold what was true when they were taken, the ledger
 * what was erased since.
 */
export async function readErasureLedger(db: Kysely<DB>): Promise<ErasureEntry[]> {
  return db.transaction().execute(async (trx) => {
    await sql`set local role rampart_key_maintenance`.execute(trx);
    const rows = await trx.selectFrom('erasure_ledger').selectAll().orderBy('at').orderBy('entry_id').execute();
    return rows.map((row) => ({ tenantId: row.tenant_id, entryId: row.entry_id, subjectIndex: Buffer.from(row.subject_index), requestId: row.request_id, at: row.at }));
  });
}

/**
 * Re-applies erasures onto a restored database: every data key of an erased subject created
 * before the erasure is destroyed again, and the entry is added to the restored ledger if the
 * backup predates it. Idempotent. Returns how many keys it destroyed.
 */
export async function replayErasureLedger(restored: Kysely<DB> | Transaction<DB>, entries: readonly ErasureEntry[], clock: Clock): Promise<number> {
  let destroyed = 0;
  const byTenant = new Map<string, ErasureEntry[]>();
  for (const entry of entries) byTenant.set(entry.tenantId, [...(byTenant.get(entry.tenantId) ?? []), entry]);
  // A restore replays inside its load transaction (so its rows never commit without the replay),
  // which already reads and writes every tenant's rows past row-level security; each statement
  // below names its tenant.
  const inTenant = <T>(tenantId: string, work: (trx: TenantTransaction) => Promise<T>): Promise<T> =>
    restored.isTransaction ? work(restored as TenantTransaction) : withTenant(restored, tenantId, work);
  for (const [tenantId, tenantEntries] of byTenant) {
    destroyed += await inTenant(tenantId, async (trx) => {
      let count = 0;
      for (const entry of tenantEntries) {
        count += (await destroyDataKeys(trx, tenantId, entry.subjectIndex, clock.now(), entry.at)).length;
        await trx
          .insertInto('erasure_ledger')
          .values({ tenant_id: tenantId, entry_id: entry.entryId, subject_index: entry.subjectIndex, request_id: entry.requestId, at: entry.at })
          .onConflict((conflict) => conflict.doNothing())
          .execute();
      }
      return count;
    });
  }
  return destroyed;
}
