import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { PGlite } from '@electric-sql/pglite';
import { inject } from 'vitest';
import { fromPglite, openPostgres, PGLITE_PARSERS } from '../../src/platform/db/index.js';
import type { Database } from '../../src/platform/db/index.js';
import { adminQuery, withDatabase } from './global-setup.js';

export interface TestDatabase {
  database: Database;
  /** PostgreSQL URL of this copy, or null on PGlite. */
  url: string | null;
  drop(): Promise<void>;
}

/**
 * A migrated database of the test's own: a clone of the run's template on PostgreSQL
 * (DATABASE_URL set), or a fresh in-memory PGlite loaded from the run's dump otherwise.
 */
export async function createTestDatabase(): Promise<TestDatabase> {
  const template = inject('templateDatabase');
  const baseUrl = process.env.DATABASE_URL;
  if (template && baseUrl) {
    const name = `rampart_t_${randomBytes(6).toString('hex')}`;
    await adminQuery(baseUrl, `create database ${name} template ${template}`);
    const url = withDatabase(baseUrl, name);
    const database = openPostgres(url, 4);
    return {
      database,
      url,
      async drop() {
        await database.close();
        await adminQuery(baseUrl, `drop database if exists ${name} with (force)`);
      },
    };
  }
  const dumpPath = inject('pgliteDumpPath');
  if (!dumpPath) throw new Error('global setup did not prepare a database');
  const pglite = await PGlite.create({ loadDataDir: new Blob([await readFile(dumpPath)]), parsers: PGLITE_PARSERS });
  const database = fromPglite(pglite);
  return { database, url: null, drop: () => database.close() };
}
