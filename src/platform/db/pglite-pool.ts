import type { PGlite, Results } from '@electric-sql/pglite';
import type { PostgresPool, PostgresPoolClient, PostgresQueryResult } from 'kysely';

/**
 * Presents one PGlite instance as the `pg`-style pool Kysely's PostgresDialect expects, so both
 * engines run through the same dialect, SQL compiler and result handling.
 *
 * PGlite is a single connection. A client is held exclusively from `connect()` to `release()`,
 * which is what makes a Kysely transaction on PGlite a real, isolated transaction: other callers
 * queue until it commits instead of interleaving statements inside it.
 */
export function createPglitePool(pglite: PGlite): PostgresPool {
  let queue: Promise<void> = Promise.resolve();

  async function query<R>(sql: string, parameters: ReadonlyArray<unknown>): Promise<PostgresQueryResult<R>> {
    // Like `pg`, a statement without parameters goes through the simple protocol, which accepts
    // several statements at once (migrations rely on that on both engines).
    const result: Results<R> =
      parameters.length === 0
        ? (((await pglite.exec(sql)).at(-1) as Results<R> | undefined) ?? { rows: [], fields: [] })
        : await pglite.query<R>(sql, [...parameters]);
    return {
      command: (result as { command?: PostgresQueryResult<R>['command'] }).command ?? 'SELECT',
      rowCount: result.affectedRows ?? result.rows.length,
      rows: result.rows,
    };
  }

  return {
    async connect(): Promise<PostgresPoolClient> {
      const previous = queue;
      let release!: () => void;
      queue = new Promise<void>((resolve) => (release = resolve));
      await previous;
      return { query, release } as PostgresPoolClient;
    },
    async end(): Promise<void> {
      await queue;
    },
  };
}
