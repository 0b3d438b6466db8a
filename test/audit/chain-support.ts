import { Kysely, PostgresDialect, sql } from 'kysely';
import type { Selectable, Transaction } from 'kysely';
import pg from 'pg';
import { createCheckpointer } from '../../src/audit/checkpoints.js';
import { openPersonal, withAuditCipher } from '../../src/audit/personal.js';
import { deriveKey } from '../../src/crypto/root-key.js';
import { ensureSigningKey } from '../../src/crypto/signing-keys.js';
import { withTenant } from '../../src/platform/db/index.js';
import type { DB } from '../../src/platform/db/index.js';
import type { AuditEntriesTable } from '../../src/platform/db/schema.js';
import { TEST_ROOT_KEY } from '../helpers/app.js';
import type { TestApp } from '../helpers/app.js';

export type EntryRow = Selectable<AuditEntriesTable>;

/** Every entry of a chain, in seq order, read as the application role reads them. */
export function chainEntries(db: Kysely<DB>, tenantId: string): Promise<EntryRow[]> {
  return withTenant(db, tenantId, (trx) => trx.selectFrom('audit_entries').selectAll().where('tenant_id', '=', tenantId).orderBy('seq').execute());
}

/** Another handle on the test's database (a burst pool) carrying the app's keyring, as `t.db` does: audit writes need it. */
export function auditDb(t: TestApp, db: Kysely<DB>): Kysely<DB> {
  return withAuditCipher(db, t.app.vault.keyring);
}

/** The personal fields of an entry, decrypted under its subject's key ({} once erased). */
export async function personalOf(t: TestApp, row: EntryRow): Promise<Record<string, unknown>> {
  const [opened] = await withTenant(t.db.database.db, row.tenant_id, (trx) => openPersonal(trx, row.tenant_id, [{ entryId: row.id, personal: row.personal }]));
  return opened!.fields;
}

/**
 * What an attacker with superuser rights does: runs `work` with the append-only triggers off
 * (session_replication_role = replica skips ordinary triggers, for this transaction only).
 */
export function asSuperuserWithoutTriggers(db: Kysely<DB>, work: (trx: Transaction<DB>) => Promise<unknown>): Promise<unknown> {
  return db.transaction().execute(async (trx) => {
    await sql`set local session_replication_role = replica`.execute(trx);
    return work(trx);
  });
}

/** Signs a checkpoint of the chain's current head, as the checkpoint job does when it is due. */
export async function signCheckpoint(db: Kysely<DB>, tenantId: string) {
  const checkpointer = createCheckpointer({
    db,
    clock: { now: () => new Date() },
    policy: { everyEntries: 1, everyMinutes: 1 },
    signingKey: () => ensureSigningKey(db, deriveKey(Buffer.from(TEST_ROOT_KEY, 'base64'), 'signing-keys'), 'audit-checkpoint'),
  });
  const checkpoint = await checkpointer.checkpointChain(tenantId, true);
  if (!checkpoint) throw new Error('no checkpoint was signed');
  return checkpoint;
}

/**
 * A handle for bursts of concurrent transactions on one chain. They queue on the head's row lock,
 * so most wait for a connection far longer than the app pool's 5 s checkout limit allows on a
 * loaded machine; this pool waits as long as the burst takes. PGlite (one connection) uses `db`.
 */
export function burstDatabase(db: Kysely<DB>, url: string | null): { db: Kysely<DB>; close(): Promise<void> } {
  if (!url) return { db, close: async () => undefined };
  const pool = new pg.Pool({
    connectionString: url,
    max: 10,
    connectionTimeoutMillis: 120_000,
    types: { getTypeParser: ((oid: number, format?: 'text' | 'binary') => (oid === 20 ? Number : pg.types.getTypeParser(oid, format))) as typeof pg.types.getTypeParser },
  });
  const burst = new Kysely<DB>({ dialect: new PostgresDialect({ pool }) });
  return { db: burst, close: () => burst.destroy() };
}
