import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Kysely, Transaction } from 'kysely';
import { migrate, openPglite, openPostgres, readMigrations } from '../platform/db/index.js';
import type { Database, DB } from '../platform/db/index.js';
import { BackupIntegrityError, openBackup } from './backup-reader.js';
import type { OpenedBackup } from './backup-reader.js';
import type { Manifest } from './manifest.js';
import { readPart } from './parts.js';
import { restoreBlobs } from './vault-blobs.js';
import type { BlobTotals } from './vault-blobs.js';
import { createLocalFileStore } from '../vault/file-store.js';
import { countRows, emptyTables, fixTextFormat, insertRows, isEmptyDatabase, readAuditHeads, restoreSequence, tableExists } from './snapshot.repository.js';
import type { ChainHead } from './snapshot.repository.js';

/** Rows per INSERT: one statement per batch keeps round trips few and parameters bounded. */
const INSERT_ROWS = 5_000;

/** Where to restore: a PostgreSQL database (by URL) or an embedded data folder. */
export type RestoreTarget = { kind: 'postgres'; url: string; filesDir?: string } | { kind: 'pglite'; dataDir: string };

/** Where a target's vault files go: under an embedded data folder as RAMPART_VAULT_FILE_DIR's default, or where the operator says. */
function filesDirOf(into: RestoreTarget): string | null {
  return into.kind === 'pglite' ? join(into.dataDir, 'files') : (into.filesDir ?? null);
}

/** The restore was refused before anything was written; the message says why. */
export class RestoreRefusedError extends Error {
  override readonly name = 'RestoreRefusedError';
}

/**
 * Replays erasures inside the load transaction (docs/operations.md "Restore"): whoever was erased
 * after the backup must not come back, and the restored rows never commit without it. Null when
 * the restored schema has no erasure ledger.
 */
export type ErasureReplay = (load: Transaction<DB>) => Promise<ErasuresReplayed | null>;

export interface ErasuresReplayed {
  entries: number;
  keysDestroyed: number;
}

/** What a restore loaded and checked, before it commits. */
export interface LoadedBackup {
  manifest: Manifest;
  rows: number;
  erasuresReplayed: ErasuresReplayed | null;
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
  /** Prepares the restored database's handle for `record` (the audit log's cipher for personal fields). */
  withCipher?: (db: Kysely<DB>) => Kysely<DB>;
  /** Writes the restore's own audit entry into the restored database, in the load transaction. */
  record?: (load: Transaction<DB>, loaded: LoadedBackup) => Promise<void>;
  /** Further checks on the committed restore before it is closed (a drill decrypts a sample); the result is returned as `checks`. */
  inspect?: (restored: Database, filesDir: string | null) => Promise<Record<string, unknown>>;
  onProgress?: (done: number, total: number, detail: string) => void;
}

export interface RestoreResult {
  id: string;
  tables: number;
  rows: number;
  schemaVersion: number;
  erasuresReplayed: ErasuresReplayed | null;
  /** The vault file blobs written (null when the backup carries none). */
  vaultBlobs: BlobTotals | null;
  /** True once the restored chain heads equal the manifest's (a difference fails the restore); null when the backup has no audit log. */
  auditHeadsMatch: true | null;
  checks: Record<string, unknown> | null;
}

export function parseRestoreTarget(value: string, filesInto?: string): RestoreTarget {
  if (/^postgres(ql)?:\/\//.test(value)) return { kind: 'postgres', url: value, ...(filesInto ? { filesDir: filesInto } : {}) };
  return { kind: 'pglite', dataDir: value };
}

/**
 * Restores a backup into an empty database: migrations up to the backup's schema version, then in
 * one transaction every row, the sequences, a count of every table and a comparison of every audit
 * chain head against the manifest, the erasure ledger's replay and the restore's audit entry. Any
 * failure rolls all of it back.
 */
export async function restoreBackup(input: RestoreInput): Promise<RestoreResult> {
  const backup = await openBackup(input.dir, input.id, input.backupKey);
  input.allow?.(backup.manifest);
  const schemaVersion = await assertMigrationsMatch(backup.manifest);
  const blobs = backup.manifest.vault_blobs ?? null;
  const filesDir = blobs && blobs.blobs > 0 ? await emptyFilesDir(input.into, blobs.blobs) : null;
  const target = await openEmptyTarget(input.into);
  try {
    await migrate(target.db, undefined, undefined, schemaVersion);
    // Before the rows commit: a restored database never names a blob that is not there.
    const vaultBlobs = blobs && filesDir ? await restoreBlobs(join(backup.dir, blobs.part), backup.dataKey, { backupId: backup.manifest.id, part: blobs.part }, createLocalFileStore(filesDir)) : null;
    const loaded = await loadRows(target, backup, input);
    const checks = input.inspect ? await input.inspect(target, filesDir) : null;
    const { manifest } = backup;
    return { id: manifest.id, tables: manifest.tables.length, rows: loaded.rows, schemaVersion, erasuresReplayed: loaded.erasuresReplayed, vaultBlobs, auditHeadsMatch: manifest.audit_heads === null ? null : true, checks };
  } finally {
    await target.close();
  }
}

async function loadRows(target: Database, backup: OpenedBackup, input: RestoreInput): Promise<LoadedBackup> {
  const { manifest } = backup;
  const { onProgress } = input;
  const db = input.withCipher ? input.withCipher(target.db) : target.db;
  return db.transaction().execute(async (trx) => {
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
    // Before anything of our own is appended: the chains must be exactly those the backup signed.
    if (manifest.audit_heads !== null && !sameHeads(await readAuditHeads(trx), manifest.audit_heads)) {
      throw new BackupIntegrityError([{ part: null, chunk: null, problem: 'the restored audit chain heads differ from the manifest; nothing was restored' }]);
    }
    const loaded: LoadedBackup = { manifest, rows: total, erasuresReplayed: input.replayErasures ? await input.replayErasures(trx) : null };
    await input.record?.(trx, loaded);
    onProgress?.(manifest.tables.length, manifest.tables.length, '');
    return loaded;
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

async function emptyFilesDir(into: RestoreTarget, blobs: number): Promise<string> {
  const dir = filesDirOf(into);
  if (!dir) throw new RestoreRefusedError(`The backup holds vault files (${blobs}): say where they go with --files-into <new or empty folder> (the restored instance's RAMPART_VAULT_FILE_DIR)`);
  // An embedded target's folder is checked whole by openEmptyTarget.
  if (into.kind === 'postgres' && (await entriesOf(dir)).length > 0) throw new RestoreRefusedError(`Vault file folder ${dir} is not empty; give a new or empty folder`);
  return dir;
}

async function entriesOf(dir: string): Promise<string[]> {
  return readdir(dir).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return [];
    throw error;
  });
}

async function openEmptyTarget(into: RestoreTarget): Promise<Database> {
  if (into.kind === 'pglite') {
    if ((await entriesOf(into.dataDir)).length > 0) throw new RestoreRefusedError(`Restore target ${into.dataDir} is not empty; restore into a new or empty folder`);
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
