import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { seal } from '../crypto/seal.js';
import { ensureSigningKey } from '../crypto/signing-keys.js';
import type { Transaction } from 'kysely';
import type { Database, DB } from '../platform/db/index.js';
import type { FileStore } from '../vault/file-store.js';
import { PACKAGE_VERSION } from '../version.js';
import { BackupIntegrityError, dataKeyAad, verifyBackup } from './backup-reader.js';
import { newBackupId } from './backup-store.js';
import type { BackupTarget, FolderTarget } from './backup-store.js';
import { CHUNK_PLAINTEXT_BYTES } from './chunked-cipher.js';
import { BACKUP_FORMAT, endorseSigner, MANIFEST_FILE, SIGNATURE_FILE, signDetached } from './manifest.js';
import type { Manifest, ManifestBlobs, ManifestTable } from './manifest.js';
import { writePart } from './parts.js';
import { snapshotBlobs, VAULT_BLOBS_PART } from './vault-blobs.js';
import { fixTextFormat, listTables, readAuditHeads, readSchemaVersion, readSequences, serverVersion, streamRows, tableExists } from './snapshot.repository.js';

/** Rows fetched per round trip; big enough to amortize it, small enough to keep memory flat. */
const FETCH_ROWS = 5_000;

export interface BackupKeys {
  /** The key-encryption key of the backup hierarchy (deriveKey(root, 'backup')). */
  backupKey: Buffer;
  /** The sealing key of signing keys (deriveKey(root, 'signing-keys')). */
  signingSealKey: Buffer;
}

export interface CreateBackupInput {
  database: Database;
  keys: BackupKeys;
  /** Where the backup is written first. */
  local: FolderTarget;
  /** Each receives a copy, verified as it reads back, before any target lists the backup. */
  offsite: BackupTarget[];
  env: string;
  /** The vault's file store, whose blobs the backup carries; null when there is none. */
  fileStore: FileStore | null;
  now: Date;
  /** Called as tables are written (done of total) and once per stage. */
  onProgress?: (stage: 'snapshot' | 'verify', done: number, total: number, detail: string) => void;
}

export interface CreatedBackup {
  id: string;
  tables: number;
  rows: number;
  bytes: number;
  /** The targets holding it complete and verified. */
  targets: string[];
}

/**
 * Takes a consistent snapshot of every table (one REPEATABLE READ, read-only transaction), writes
 * it to the first target, verifies it, copies it to the others and verifies each copy; only then
 * does any target list it. Any failure removes it from every target.
 */
export async function createBackup(input: CreateBackupInput): Promise<CreatedBackup> {
  const { database, keys, local, offsite } = input;
  const targets = [local, ...offsite];
  // Refused before anything is written anywhere (data residency).
  for (const target of targets) await target.checkWritable();
  // Before the snapshot: on PGlite there is one connection, and this may write.
  const signer = await ensureSigningKey(database.db, keys.signingSealKey, 'backup-manifest');
  const id = newBackupId(input.now);
  const dataKey = randomBytes(32);
  try {
    const staging = await local.openStaging(id);
    const writeBlobs = async (trx: Transaction<DB>, store: FileStore): Promise<ManifestBlobs> => {
      const blobs = snapshotBlobs(trx, store);
      const written = await writePart(join(staging, VAULT_BLOBS_PART), blobs.rows, dataKey, { backupId: id, part: VAULT_BLOBS_PART });
      return { part: VAULT_BLOBS_PART, ...written, ...blobs.totals };
    };
    const snapshot = await database.db
      .transaction()
      .setIsolationLevel('repeatable read')
      .setAccessMode('read only')
      .execute(async (trx) => {
        await fixTextFormat(trx);
        const schema = await readSchemaVersion(trx);
        const tables = await listTables(trx);
        const written: ManifestTable[] = [];
        for (const [index, table] of tables.entries()) {
          input.onProgress?.('snapshot', index, tables.length, table.name);
          const part = `${String(index + 1).padStart(3, '0')}-${table.name}.ndjson.gz.enc`;
          const result = await writePart(join(staging, part), streamRows(trx, table, FETCH_ROWS), dataKey, { backupId: id, part });
          written.push({ name: table.name, part, columns: table.columns, ...result });
        }
        const vaultBlobs = input.fileStore && (await tableExists(trx, 'vault_files')) ? await writeBlobs(trx, input.fileStore) : null;
        input.onProgress?.('snapshot', tables.length, tables.length, '');
        const sequences = await readSequences(trx);
        const auditHeads = (await tableExists(trx, 'audit_heads')) ? await readAuditHeads(trx) : null;
        return { schema, tables: written, vaultBlobs, sequences, auditHeads, serverVersion: await serverVersion(trx) };
      });
    const manifest: Manifest = {
      format: BACKUP_FORMAT,
      id,
      created_at: input.now.toISOString(),
      source: { engine: database.kind, server_version: snapshot.serverVersion, rampart_version: PACKAGE_VERSION, env: input.env },
      schema: snapshot.schema,
      encryption: {
        cipher: 'AES-256-GCM',
        compression: 'gzip',
        chunk_bytes: CHUNK_PLAINTEXT_BYTES,
        sealed_data_key: seal(keys.backupKey, dataKey, dataKeyAad(id)).toString('base64'),
        key_hierarchy: 'root/backup',
      },
      tables: snapshot.tables,
      sequences: snapshot.sequences,
      vault_blobs: snapshot.vaultBlobs,
      audit_heads: snapshot.auditHeads,
      signer: { kid: signer.kid, public_jwk: signer.publicJwk, endorsement: endorseSigner(keys.backupKey, signer.kid, signer.publicJwk) },
    };
    const bytes = Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`, 'utf8');
    await writeFile(join(staging, MANIFEST_FILE), bytes, { mode: 0o600, flag: 'wx' });
    await writeFile(join(staging, SIGNATURE_FILE), `${JSON.stringify(signDetached(bytes, signer.kid, signer.privateKey))}\n`, { mode: 0o600, flag: 'wx' });

    const files = [MANIFEST_FILE, SIGNATURE_FILE, ...manifest.tables.map((table) => table.part), ...(manifest.vault_blobs ? [manifest.vault_blobs.part] : [])];
    for (const [index, target] of targets.entries()) {
      input.onProgress?.('verify', index, targets.length, target.name);
      if (target !== local) await target.stage(staging, files, id);
      const report = await target.read(id, 'partial', (dir) => verifyBackup(dir, id, keys.backupKey));
      if (!report.ok) throw new BackupIntegrityError(report.problems.map((problem) => ({ ...problem, problem: `${target.name}: ${problem.problem}` })));
    }
    input.onProgress?.('verify', targets.length, targets.length, '');
    // The local copy last: the local listing drives drills and pruning, so it only shows a backup
    // once every off-site copy is complete.
    for (const target of [...offsite, local]) await target.commit(id);
    const rows = manifest.tables.reduce((sum, table) => sum + table.rows, 0);
    const size = manifest.tables.reduce((sum, table) => sum + table.bytes, 0);
    return { id, tables: manifest.tables.length, rows, bytes: size, targets: targets.map((target) => target.name) };
  } catch (error) {
    await Promise.all(targets.map((target) => target.remove(id).catch(() => undefined)));
    throw error;
  }
}
