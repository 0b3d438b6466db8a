/**
 * Found by the PostgreSQL-down fault test (test/faults/postgres-down.fault.ts): when PostgreSQL
 * terminated a connection that was checked out (a request mid-transaction), `pg` emitted 'error'
 * on the client with nobody listening, and the whole server process crashed. Now the request
 * fails (a 503 through the error handler) and the next query reconnects. PostgreSQL only: PGlite
 * has no connections to lose.
 */
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPostgres } from '../../src/platform/db/index.js';
import type { Database } from '../../src/platform/db/index.js';
import { toAppError } from '../../src/platform/http/index.js';
import { createTestDatabase } from '../helpers/database.js';
import type { TestDatabase } from '../helpers/database.js';

describe.skipIf(!process.env.DATABASE_URL)('a PostgreSQL connection lost mid-transaction', () => {
  let t: TestDatabase;
  let database: Database;

  beforeAll(async () => {
    t = await createTestDatabase();
    const name = (await sql<{ name: string }>`select current_database() as name`.execute(t.database.db)).rows[0]!.name;
    const url = new URL(process.env.DATABASE_URL!);
    url.pathname = `/${name}`;
    database = openPostgres(url.toString(), 2);
  });
  afterAll(async () => {
    await database?.close();
    await t?.drop();
  });

  it('fails that transaction with a 503-mapped error, does not crash the process, and reconnects', async () => {
    const failed = database.db.transaction().execute(async (trx) => {
      const { pid } = (await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(trx)).rows[0]!;
      // Terminated from another connection while this one is checked out and idle in the transaction.
      await sql`select pg_terminate_backend(${pid})`.execute(t.database.db);
      await new Promise((resolve) => setTimeout(resolve, 200));
      await sql`select 1`.execute(trx);
    });
    const error = await failed.then(() => null, (caught: unknown) => caught);
    expect(error).not.toBeNull();
    expect(toAppError(error).status).toBe(503);
    const after = await sql<{ one: number }>`select 1 as one`.execute(database.db);
    expect(after.rows).toEqual([{ one: 1 }]);
  });
});
