import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { migrate, openPglite, openPostgres, readMigrations } from '../platform/db/index.js';
import type { Database } from '../platform/db/index.js';
import { openBackup } from './backup-reader.js';
import type { OpenedBackup } from './backup-reader.js';
import type { Manifest } from './manifest.js';
import { readPart } from './parts.js';
import { countRows, emptyTables, fixTextFormat, insertRows, isEmptyDatabase, readAuditHeads, restoreSequence, tableExists } from './snapshot.repository.js';
import type { ChainHead } from './snapshot.repository.js';

/** Rows per INSERT: one statement per batch keeps round trips few and parameters bounded. */
const INSERT_ROWS = 5_000;

/** Where to restore: a PostgreSQL database (by URL) or an embedded data folder. */
export type RestoreTarget = { kind: 'postgres'; url: string } | { kind: 'pglite'; dataDir: string };

/** The restore was refused before anything was written; the message says why. */
export class RestoreRefusedError extends Error {
  override readonly name = 'RestoreRefusedError';
}

/**
 * Replays erasures onto a restored database (docs/operations.md "Restore"): whoever was erased
 * after the backup must not come back. Null when there is no erasure ledger to replay.
 */
export type ErasureReplay = (restored: Database) => Promise<ErasuresReplayed | null>;

export interface ErasuresReplayed {
  entries: number;
  keysDestroyed: number;
}

export interface RestoreInput {
  /** The backup's folder (a complete backup in some target) and id. */
  dir: string;
  id: string;
  backupKey: Buffer;
  into: RestoreTarget;
  replayErasures?: ErasureReplay;
  /** Checked against the authenticated manifest before anything is written; throws to refuse. */
  allow?: (manifest: Manifest) => void;
  onProgress?: (done: number, total: number, detail: string) => void;
}

export interface RestoreResult {
  id: string;
  tables: number;
  rows: number;
  schemaVersion: number;
  erasuresReplayed: ErasuresReplayed | null;
  auditHeadsMatch: boolean | null;
}

export function parseRestoreTarget(value: string): RestoreTarget {
  if (/^postgres(ql)?:\/\//.test(value)) return { kind: 'postgres', url: value };
  return { kind: 'pglite', dataDir: value };
}

/**
 * Restores a backup into an empty database: migrations up to the backup's schema version, then
 * every row in one transaction (a failure leaves no half-loaded tables), sequences, and a count of
 * every table against the manifest before it commits.
 */
export async function restoreBackup(input: RestoreInput): Promise<RestoreResult> {
  const backup = await openBackup(input.dir, input.id, input.backupKey);
  input.allow?.(backup.manifest);
  const schemaVersion = await assertMigrationsMatch(backup.manifest);
  const target = await openEmptyTarget(input.into);
  try {
    await migrate(target.db, undefined, undefined, schemaVersion);
    const rows = await loadRows(target, backup, input.onProgress);
    const replay = input.replayErasures ? await input.replayErasures(target) : null;
    const auditHeadsMatch = backup.manifest.audit_heads === null ? null : sameHeads(await readAuditHeads(target.db), backup.manifest.audit_heads);
    return { id: backup.manifest.id, tables: backup.manifest.tables.length, rows, schemaVersion, erasuresReplayed: replay, auditHeadsMatch };
  } finally {
    await target.close();
  }
}

async function loadRows(target: Database, backup: OpenedBackup, onProgress: RestoreInput['onProgress']): Promise<number> {
  const { manifest } = backup;
  return target.db.transaction().execute(async (trx) => {
    await fixTextFormat(trx);
    for (const table of manifest.tables) {
      if (!(await tableExists(trx, table.name))) throw new RestoreRefusedError(`The backup has table ${table.name}, which its schema version does not create here`);
    }
    await emptyTables(trx, manifest.tables.map((table) => table.name));
    let total = 0;
    for (const [index, table] of manifest.tables.entries()) {
      onProgress?.(index, manifest.tables.length, table.name);
      const reader = readPart(join(backup.dir, table.part), backup.dataKey, { backupId: manifest.id, part: table.part }, INSERT_ROWS);
      for await (const batch of reader.items) await insertRows(trx, table, batch);
      const count = await countRows(trx, table.name);
      if (count !== table.rows) throw new Error(`${table.name}: restored ${count} rows, the manifest says ${table.rows}`);
      total += count;
    }
    for (const sequence of manifest.sequences) await restoreSequence(trx, sequence);
    onProgress?.(manifest.tables.length, manifest.tables.length, '');
    return total;
  });
}

/** The migrations this code has must be the very ones the backup was taken with, up to its version. */
async function assertMigrationsMatch(manifest: Manifest): Promise<number> {
  const local = new Map((await readMigrations()).map((migration) => [migration.version, migration]));
  for (const applied of manifest.schema) {
    const mine = local.get(applied.version);
    if (!mine) throw new RestoreRefusedError(`The backup was taken at schema version ${applied.version} (${applied.name}), which this Rampart does not have; restore with the same or a newer Rampart`);
    if (mine.checksum !== applied.checksum) throw new RestoreRefusedError(`Migration ${applied.version}_${applied.name} differs from the one the backup was taken with`);
  }
  return manifest.schema.at(-1)?.version ?? 0;
}

async function openEmptyTarget(into: RestoreTarget): Promise<Database> {
  if (into.kind === 'pglite') {
    const entries = await readdir(into.dataDir).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return [];
      throw error;
    });
    if (entries.length > 0) throw new RestoreRefusedError(`Restore target ${into.dataDir} is not empty; restore into a new or empty folder`);
    return openPglite(into.dataDir);
  }
  const database = openPostgres(into.url, 2);
  try {
    if (!(await isEmptyDatabase(database.db))) throw new RestoreRefusedError('The target database is not empty; restore into a newly created database');
  } catch (error) {
    await database.close();
    throw error;
  }
  return database;
}

function sameHeads(actual: ChainHead[], expected: ChainHead[]): boolean {
  const key = (heads: ChainHead[]) => JSON.stringify(heads.map((head) => [head.tenant_id, head.size, head.head_hash]));
  return key(actual) === key(expected);
}
