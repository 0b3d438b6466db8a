import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import pg from 'pg';
import { createBackupService } from '../../src/backup/index.js';
import type { BackupService } from '../../src/backup/index.js';
import { fixTextFormat, listTables, streamRows, tableExists } from '../../src/backup/snapshot.repository.js';
import { loadConfig } from '../../src/config.js';
import type { Config } from '../../src/config.js';
import type { Clock } from '../../src/platform/clock.js';
import { systemClock } from '../../src/platform/clock.js';
import type { Database } from '../../src/platform/db/index.js';
import { adminQuery, withDatabase } from '../helpers/global-setup.js';

// Not helpers/app.ts's key import: these tests need no app, and must not load every module.
const TEST_ROOT_KEY = Buffer.alloc(32, 7).toString('base64');
export const ROOT_KEY = Buffer.from(TEST_ROOT_KEY, 'base64');

/** Folders of one test: the data folder (local backups under it) and one off-site folder. */
export interface BackupFolders {
  dataDir: string;
  offsiteDir: string;
  remove(): Promise<void>;
}

export async function makeFolders(): Promise<BackupFolders> {
  const base = await mkdtemp(join(tmpdir(), 'rampart-backup-test-'));
  return { dataDir: join(base, 'data'), offsiteDir: join(base, 'offsite'), remove: () => rm(base, { recursive: true, force: true }) };
}

export function backupConfig(folders: BackupFolders, databaseUrl: string | null, env: Record<string, string> = {}): Config {
  return loadConfig({
    RAMPART_DATA_DIR: folders.dataDir,
    RAMPART_ROOT_KEY: TEST_ROOT_KEY,
    RAMPART_BACKUP_TARGETS: folders.offsiteDir,
    ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
    ...env,
  });
}

export function serviceFor(database: Database, config: Config, options: { rootKey?: Buffer; clock?: Clock } = {}): BackupService {
  return createBackupService({ config, database, rootKey: options.rootKey ?? ROOT_KEY, clock: options.clock ?? systemClock });
}

/**
 * Rows whose text forms are easy to get wrong across engines: bytea with every byte value,
 * jsonb with big numbers and non-ASCII keys, microsecond timestamps, identity columns, nulls.
 */
export async function seedTrickyRows(database: Database, rows = 50): Promise<void> {
  const every = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  for (let i = 0; i < rows; i++) {
    const tenant = randomUUID();
    await sql`insert into tenants (tenant_id, name, created_at) values (${tenant}, ${`Org ${i} «ü» ' " \\ ${'\n'}`}, ${'2026-01-02 03:04:05.123456+00'}::timestamptz)`.execute(database.db);
    await sql`insert into signing_keys (kid, purpose, public_jwk, private_key_sealed, retired_at)
      values (${`test-${tenant}`}, 'test', ${'{"ü": "€", "big": 123456789012345678901234567890.5, "nested": [null, true, {"a": "\\"quoted\\""}]}'}::jsonb, ${every}, null)`.execute(database.db);
    await sql`insert into jobs (name, payload, run_at, last_error) values ('test.job', ${JSON.stringify({ i, text: 'tab\there' })}::jsonb, now(), null)`.execute(database.db);
    if (await tableExists(database.db, 'audit_heads')) {
      await sql`insert into audit_heads (tenant_id, size, head_hash) values (${tenant}, 0, ${Buffer.alloc(32, i)})`.execute(database.db);
    }
  }
}

/** Every table's rows in their text form, sorted: two databases with equal dumps hold the same data. */
export async function dumpAll(database: Database): Promise<Record<string, string[]>> {
  return database.db.transaction().execute(async (trx) => {
    await fixTextFormat(trx);
    const out: Record<string, string[]> = {};
    for (const table of await listTables(trx)) {
      const rows: string[] = [];
      for await (const batch of streamRows(trx, table, 1000)) rows.push(...batch.map((row) => JSON.stringify(row)));
      out[table.name] = rows.sort();
    }
    return out;
  });
}

export const POSTGRES_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

/** Whether a PostgreSQL server answers at 127.0.0.1:5432 (the cross-engine tests need one). */
export async function postgresReachable(): Promise<boolean> {
  const client = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.end();
    return true;
  } catch {
    return false;
  }
}

/** A new empty PostgreSQL database of the test's own. */
export async function emptyPostgresDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `rampart_bk_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
  await adminQuery(POSTGRES_URL, `create database ${name}`);
  return { url: withDatabase(POSTGRES_URL, name), drop: () => adminQuery(POSTGRES_URL, `drop database if exists ${name} with (force)`) };
}

/** A data subject with a live data key (raw rows shaped like the vault's), in a new org. */
export async function seedSubjectKey(database: Database): Promise<{ tenantId: string; subjectIndex: Buffer }> {
  const tenantId = randomUUID();
  const subjectIndex = randomBytes(32);
  await sql`insert into tenants (tenant_id, name) values (${tenantId}, 'Erasure org')`.execute(database.db);
  await sql`insert into tenant_keys (tenant_id, version, provider, wrapped_key) values (${tenantId}, 1, 'local', ${randomBytes(60)})`.execute(database.db);
  await sql`insert into data_keys (tenant_id, key_id, subject_index, kek_version, wrapped_key, created_at)
    values (${tenantId}, ${randomUUID()}, ${subjectIndex}, 1, ${randomBytes(60)}, now() - interval '1 hour')`.execute(database.db);
  return { tenantId, subjectIndex };
}

/** Records an erasure in the live ledger (what the vault's erase does, minus the key destruction). */
export async function recordErasure(database: Database, subject: { tenantId: string; subjectIndex: Buffer }): Promise<void> {
  await sql`insert into erasure_ledger (tenant_id, entry_id, subject_index, request_id, at) values (${subject.tenantId}, ${randomUUID()}, ${subject.subjectIndex}, null, now())`.execute(database.db);
}

/** The subject's data keys in `database`: whether each is destroyed. */
export async function subjectKeysDestroyed(database: Database, subject: { tenantId: string; subjectIndex: Buffer }): Promise<boolean[]> {
  const { rows } = await sql<{ destroyed: boolean }>`
    select destroyed_at is not null as destroyed from data_keys where tenant_id = ${subject.tenantId} and subject_index = ${subject.subjectIndex}`.execute(database.db);
  return rows.map((row) => row.destroyed);
}
