import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import { PROJECT_ROOT } from '../paths.js';
import type { DB } from './schema.js';

export interface Migration {
  version: number;
  name: string;
  sql: string;
  checksum: string;
}

export interface MigrationStatus {
  applied: Array<{ version: number; name: string; appliedAt: Date }>;
  pending: Array<{ version: number; name: string }>;
}

/** Called before and after each migration so the CLI can draw progress. */
export type MigrationProgress = (event: { migration: Migration; index: number; total: number; done: boolean }) => void;

export const MIGRATIONS_DIR = join(PROJECT_ROOT, 'migrations');

// Any constant works; it only has to be the same on every node that migrates this database.
const MIGRATION_LOCK_ID = 7_264_270_881;

const FILE_PATTERN = /^(\d{4})_([a-z0-9_]+)\.sql$/;

/** Reads the numbered plain-SQL migrations, in order. */
export async function readMigrations(dir = MIGRATIONS_DIR): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((file) => file.endsWith('.sql')).sort();
  const migrations: Migration[] = [];
  for (const file of files) {
    const match = FILE_PATTERN.exec(file);
    if (!match) throw new Error(`Migration file ${file} must be named NNNN_snake_case_name.sql`);
    const text = await readFile(join(dir, file), 'utf8');
    const version = Number(match[1]);
    if (migrations.some((m) => m.version === version)) throw new Error(`Two migrations share version ${version}`);
    migrations.push({ version, name: match[2]!, sql: text, checksum: createHash('sha256').update(text).digest('hex') });
  }
  return migrations;
}

/**
 * Applies pending migrations, each in its own transaction, under a session advisory lock so that
 * several nodes starting at once apply each migration exactly once. A migration that was changed
 * after it was applied stops the run: the database no longer matches the files. `untilVersion`
 * stops after that version.
 */
export async function migrate(db: Kysely<DB>, onProgress?: MigrationProgress, dir = MIGRATIONS_DIR, untilVersion = Infinity): Promise<Migration[]> {
  // A restore stops at the backup's version; the server applies the rest when it starts.
  const migrations = (await readMigrations(dir)).filter((m) => m.version <= untilVersion);
  return db.connection().execute(async (connection) => {
    await sql`select pg_advisory_lock(${MIGRATION_LOCK_ID})`.execute(connection);
    try {
      await ensureMigrationsTable(connection);
      const applied = await appliedMigrations(connection);
      assertUnchanged(migrations, applied);
      const pending = migrations.filter((m) => !applied.has(m.version));
      for (const [index, migration] of pending.entries()) {
        onProgress?.({ migration, index, total: pending.length, done: false });
        await connection.transaction().execute(async (trx) => {
          await sql.raw(migration.sql).execute(trx);
          await trx
            .insertInto('schema_migrations')
            .values({ version: migration.version, name: migration.name, checksum: migration.checksum })
            .execute();
        });
        onProgress?.({ migration, index, total: pending.length, done: true });
      }
      return pending;
    } finally {
      await sql`select pg_advisory_unlock(${MIGRATION_LOCK_ID})`.execute(connection);
    }
  });
}

/** What is applied and what is pending, without changing anything. */
export async function migrationStatus(db: Kysely<DB>, dir = MIGRATIONS_DIR): Promise<MigrationStatus> {
  const migrations = await readMigrations(dir);
  const exists = await sql<{ exists: boolean }>`select to_regclass('public.schema_migrations') is not null as exists`.execute(db);
  const rows = exists.rows[0]?.exists
    ? await db.selectFrom('schema_migrations').select(['version', 'name', 'applied_at']).orderBy('version').execute()
    : [];
  const appliedVersions = new Set(rows.map((row) => row.version));
  return {
    applied: rows.map((row) => ({ version: row.version, name: row.name, appliedAt: row.applied_at })),
    pending: migrations.filter((m) => !appliedVersions.has(m.version)).map(({ version, name }) => ({ version, name })),
  };
}

async function ensureMigrationsTable(db: Kysely<DB>): Promise<void> {
  await sql`
    create table if not exists schema_migrations (
      version integer primary key,
      name text not null,
      checksum text not null,
      applied_at timestamptz not null default now()
    )`.execute(db);
}

async function appliedMigrations(db: Kysely<DB>): Promise<Map<number, string>> {
  const rows = await db.selectFrom('schema_migrations').select(['version', 'checksum']).execute();
  return new Map(rows.map((row) => [row.version, row.checksum]));
}

function assertUnchanged(migrations: Migration[], applied: Map<number, string>): void {
  for (const migration of migrations) {
    const checksum = applied.get(migration.version);
    if (checksum !== undefined && checksum !== migration.checksum) {
      throw new Error(
        `Migration ${migration.version}_${migration.name} was changed after it was applied; add a new migration instead of editing an applied one`,
      );
    }
  }
}
