import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { createPglitePool } from './pglite-pool.js';
import type { DB } from './schema.js';

export type DatabaseKind = 'pglite' | 'postgres';

/** An open database: the Kysely handle and what only start-up and shutdown need. */
export interface Database {
  readonly kind: DatabaseKind;
  readonly db: Kysely<DB>;
  /** Answers within `timeoutMs` or throws; readiness checks use it. */
  ping(timeoutMs: number): Promise<void>;
  close(): Promise<void>;
}

const INT8_OID = 20;

/**
 * int8 comes back as a JS number on both engines (counts, sequence numbers and ids stay far below
 * 2^53); `pg` would otherwise return strings and PGlite bigints.
 */
function parseInt8(value: string): number {
  return Number(value);
}

/** Opens PostgreSQL at `url`. */
export function openPostgres(url: string, poolSize: number): Database {
  const pool = new pg.Pool({
    connectionString: url,
    max: poolSize,
    // Well under the 5 s a caller may wait: an unreachable server answers 503 rather than hangs.
    connectionTimeoutMillis: 2000,
    // A query waiting on a dead server must fail fast enough for the caller to answer 503.
    query_timeout: 30_000,
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        oid === INT8_OID ? parseInt8 : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
    },
  });
  // A client losing its server must not crash the process: the pool reports idle clients, and
  // a checked-out one (mid-transaction when PostgreSQL stops) emits on itself. Its query fails
  // (503) and the pool discards it on release; the next checkout reconnects.
  pool.on('error', () => undefined);
  pool.on('connect', (client) => client.on('error', () => undefined));
  const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool }) });
  return { kind: 'postgres', db, ping: (timeoutMs) => pingWithin(db, timeoutMs), close: () => db.destroy() };
}

/** PGlite options every instance needs so both engines return the same JS types. */
export const PGLITE_PARSERS = { [INT8_OID]: parseInt8 };

/** Opens (creating if needed) the embedded database under `dataDir/pgdata`. */
export async function openPglite(dataDir: string): Promise<Database> {
  const dir = join(dataDir, 'pgdata');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  return fromPglite(await PGlite.create(dir, { parsers: PGLITE_PARSERS }));
}

/** Wraps an already created PGlite (tests load theirs from a dumped, migrated data folder). */
export function fromPglite(pglite: PGlite): Database {
  const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool: createPglitePool(pglite) }) });
  return {
    kind: 'pglite',
    db,
    ping: (timeoutMs) => pingWithin(db, timeoutMs),
    async close() {
      await db.destroy();
      await pglite.close();
    },
  };
}

async function pingWithin(db: Kysely<DB>, timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`database did not answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    await Promise.race([sql`select 1`.execute(db), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
