import type { JsonWebKey } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Kysely, Transaction } from 'kysely';
import { recordAuditEvent, withAuditCipher } from '../audit/index.js';
import type { SecurityAction } from '../audit/index.js';
import type { Config } from '../config.js';
import { deriveKey } from '../crypto/root-key.js';
import { ensureSigningKey, listAllPublicKeys } from '../crypto/signing-keys.js';
import type { Clock } from '../platform/clock.js';
import type { Database, DB } from '../platform/db/index.js';
import { fileStoreFor, keyringFor, readErasureLedger, replayErasureLedger } from '../vault/index.js';
import type { ErasureEntry } from '../vault/index.js';
import { verifyBackup } from './backup-reader.js';
import type { VerifyReport } from './backup-reader.js';
import { backupTime, createFolderTarget, isBackupId } from './backup-store.js';
import type { BackupTarget, FolderTarget } from './backup-store.js';
import { createBackup } from './create-backup.js';
import type { CreateBackupInput, CreatedBackup } from './create-backup.js';
import { runDrill } from './drill.js';
import { decryptFileSample, decryptRecordSample } from './drill-sample.js';
import { drillStatement } from './drill-statement.js';
import { insertDrill, listDrills } from './drills.repository.js';
import type { DrillResult, DrillRow } from './drills.repository.js';
import { MANIFEST_FILE, signDetached } from './manifest.js';
import type { Manifest } from './manifest.js';
import { planRetention } from './retention.js';
import { restoreBackup, RestoreRefusedError } from './restore-backup.js';
import type { ErasureReplay, RestoreResult, RestoreTarget } from './restore-backup.js';
import { createS3Target } from './s3-target.js';
import { tableExists } from './snapshot.repository.js';

/** An operator's mistake about which backup (unknown id, nowhere to be found); the message says which. */
export class BackupNotFoundError extends Error {
  override readonly name = 'BackupNotFoundError';
}

type BackupAction = Extract<SecurityAction, `backup.${string}`>;

export interface BackupServiceDependencies {
  config: Config;
  database: Database;
  rootKey: Buffer;
  clock: Clock;
  /** Told of a failed drill inside the transaction that records it (the server mails platform staff). */
  onDrillFailed?: (trx: Transaction<DB>, drill: DrillRow) => Promise<void>;
}

export type BackupListing = {
  id: string;
  created_at: string;
  engine: string;
  tables: number;
  rows: number;
  bytes: number;
  /** Targets holding a complete copy. */
  targets: string[];
};

type Progress = (done: number, total: number, detail: string) => void;

/** How long a partial backup may sit before pruning decides its writer died. */
const STALE_PARTIAL_MS = 24 * 3_600_000;

/** Builds the configured targets: the local folder, then off-site folders, then the S3 bucket. */
function backupTargets(config: Config): { local: FolderTarget; offsite: BackupTarget[] } {
  const local = createFolderTarget('local', config.backup.dir);
  const offsite: BackupTarget[] = config.backup.offsiteDirs.map((dir, index) => createFolderTarget(`offsite:${index + 1}`, dir));
  if (config.backup.s3) offsite.push(createS3Target(config.backup.s3, config.backup.residency, local));
  return { local, offsite };
}

/** Backups of this instance: create, list, verify, restore, drill, prune. */
export function createBackupService(deps: BackupServiceDependencies) {
  const { config, database, clock } = deps;
  const backupKey = deriveKey(deps.rootKey, 'backup');
  const signingSealKey = deriveKey(deps.rootKey, 'signing-keys');
  // The vault's key hierarchy: audit entries seal their personal fields with it, and a drill
  // decrypts a sample of the restored records with it.
  const keyring = keyringFor(config.vault, deps.rootKey, clock);
  const withCipher = (db: Kysely<DB>): Kysely<DB> => withAuditCipher(db, keyring);
  const db = withCipher(database.db);
  // Backups are the platform's own work: their entries go to the platform chain, by the system,
  // in the transaction of the act's database change where it has one.
  const audit = (executor: Kysely<DB> | Transaction<DB>, action: BackupAction, metadata: Record<string, unknown>): Promise<void> =>
    recordAuditEvent(executor, { realm: 'platform', principalId: null, actor: { type: 'system', id: null }, action, ip: null, userAgent: null, metadata, at: clock.now() });
  const { local, offsite } = backupTargets(config);
  const targets = [local, ...offsite];

  /**
   * The live ledger holds every erasure, including those made after the backup was taken. It is
   * read before anything is written: a restore that cannot know who was erased does not happen.
   */
  async function liveErasures(): Promise<ErasureReplay> {
    let entries: ErasureEntry[];
    try {
      entries = await readErasureLedger(database.db);
    } catch {
      throw new RestoreRefusedError('The erasure ledger of this instance cannot be read, so erasures made since the backup could not be re-applied; refusing to restore');
    }
    return async (load) => {
      if (!(await tableExists(load, 'erasure_ledger'))) return null;
      return { entries: entries.length, keysDestroyed: await replayErasureLedger(load, entries, clock) };
    };
  }

  async function holders(id: string): Promise<BackupTarget[]> {
    const found: BackupTarget[] = [];
    for (const target of targets) if (await target.holds(id)) found.push(target);
    return found;
  }

  /** The target to read a backup from: the local copy, else an off-site one (the local disk may be gone). */
  async function locate(id: string): Promise<BackupTarget> {
    if (!isBackupId(id)) throw new BackupNotFoundError(`"${id.slice(0, 64)}" is not a backup id (see rampart backup list)`);
    const [first] = await holders(id);
    if (!first) throw new BackupNotFoundError(`No target holds a complete backup ${id}`);
    return first;
  }

  /** Signs a drill's result with the `backup-drill` key and records it, its audit entry and any alert in one transaction. */
  async function recordDrill(result: DrillResult): Promise<DrillRow> {
    const signer = await ensureSigningKey(database.db, signingSealKey, 'backup-drill');
    const statement = drillStatement(result);
    const drill: DrillRow = { ...result, statement: statement.toString('utf8'), signature: signDetached(statement, signer.kid, signer.privateKey).signature, signing_kid: signer.kid };
    await db.transaction().execute(async (trx) => {
      await insertDrill(trx, drill);
      await audit(trx, 'backup.drill_completed', { drill_id: drill.id, backup_id: drill.backup_id, outcome: drill.outcome, duration_ms: drill.duration_ms });
      if (drill.outcome === 'failed') await deps.onDrillFailed?.(trx, drill);
    });
    return drill;
  }

  return {
    targets: targets.map((target) => target.name),
    localDir: local.dir,

    async create(onProgress?: CreateBackupInput['onProgress']): Promise<CreatedBackup> {
      const created = await createBackup({
        database,
        keys: { backupKey, signingSealKey },
        local,
        offsite,
        env: config.env,
        fileStore: fileStoreFor(config.vault),
        now: clock.now(),
        ...(onProgress ? { onProgress } : {}),
      });
      // A backup changes no row to share a transaction with: its entry follows its commit.
      await audit(db, 'backup.created', { backup_id: created.id, tables: created.tables, rows: created.rows, bytes: created.bytes, targets: created.targets });
      return created;
    },

    /** Complete backups on any target, oldest first, with the targets that hold each. */
    async list(): Promise<BackupListing[]> {
      const ids = new Set<string>();
      for (const target of targets) for (const id of await target.list()) ids.add(id);
      const listings: BackupListing[] = [];
      for (const id of [...ids].sort()) {
        const on = (await holders(id)).map((target) => target.name);
        // Listing reads the local manifest as is (verify authenticates it): a damaged one shows as such.
        const manifest = on.includes(local.name) ? await readManifestUnverified(join(local.dir, id, MANIFEST_FILE)) : null;
        if (!manifest) {
          listings.push({ id, created_at: backupTime(id).toISOString(), engine: on.includes(local.name) ? 'unreadable manifest' : 'off-site only', tables: 0, rows: 0, bytes: 0, targets: on });
          continue;
        }
        listings.push({
          id,
          created_at: manifest.created_at,
          engine: manifest.source.engine,
          tables: manifest.tables.length,
          rows: manifest.tables.reduce((sum, table) => sum + table.rows, 0),
          bytes: manifest.tables.reduce((sum, table) => sum + table.bytes, 0),
          targets: on,
        });
      }
      return listings;
    },

    async verify(id: string, onProgress?: Progress): Promise<VerifyReport> {
      return (await locate(id)).read(id, 'complete', (dir) => verifyBackup(dir, id, backupKey, onProgress));
    },

    /**
     * Restores into an empty target. A production backup goes into a non-production instance only
     * with `overrideReason` (no production data in staging by accident); the reason is recorded in
     * the restored database's audit log with the restore.
     */
    async restore(id: string, into: RestoreTarget, options: { overrideReason?: string; onProgress?: Progress } = {}): Promise<RestoreResult> {
      const source = await locate(id);
      const replayErasures = await liveErasures();
      return source.read(id, 'complete', (dir) =>
        restoreBackup({
          dir,
          id,
          backupKey,
          into,
          allow: (manifest) => {
            if (manifest.source.env === 'production' && config.env !== 'production' && !options.overrideReason) {
              throw new RestoreRefusedError(`Backup ${id} holds production data and this instance is ${config.env}; pass --override-env "<reason>" if that is intended`);
            }
          },
          replayErasures,
          withCipher,
          // In the restored database, atomically with its rows: the history the restored instance
          // carries on says where its data came from. This instance changes nothing to record it in.
          record: async (load, loaded) => {
            if (!(await tableExists(load, 'audit_entries'))) return;
            await audit(load, 'backup.restored', {
              backup_id: id,
              backup_created_at: loaded.manifest.created_at,
              source_env: loaded.manifest.source.env,
              restored_by_env: config.env,
              override_reason: options.overrideReason ?? null,
              erasures_replayed: loaded.erasuresReplayed?.entries ?? 0,
              keys_destroyed: loaded.erasuresReplayed?.keysDestroyed ?? 0,
            });
          },
          ...(options.onProgress ? { onProgress: options.onProgress } : {}),
        }),
      );
    },

    async drill(onProgress?: Progress): Promise<DrillRow> {
      const result = await runDrill({
        backupKey,
        target: local,
        databaseUrl: config.databaseUrl,
        now: clock.now(),
        replayErasures: await liveErasures(),
        withCipher,
        inspect: async (restored, filesDir) => ({ ...(await decryptRecordSample(restored, keyring)), ...(await decryptFileSample(restored, keyring, filesDir)) }),
        ...(onProgress ? { onProgress } : {}),
      });
      return recordDrill(result);
    },

    async drills(limit: number): Promise<DrillRow[]> {
      return listDrills(database.db, limit);
    },

    /** Every public key drills were ever signed with (JWK), so old results keep verifying. */
    async drillKeys(): Promise<JsonWebKey[]> {
      return listAllPublicKeys(database.db, 'backup-drill');
    },

    /** Applies the retention policy on every target; idempotent. */
    async prune(): Promise<{ kept: string[]; pruned: string[] }> {
      const now = clock.now();
      const ids = new Set<string>();
      for (const target of targets) for (const id of await target.list()) ids.add(id);
      const plan = planRetention([...ids].map((id) => ({ id, createdAt: backupTime(id) })), now, config.backup);
      for (const id of plan.prune) for (const target of targets) await target.remove(id);
      for (const target of targets) await target.removeStalePartials(new Date(now.getTime() - STALE_PARTIAL_MS));
      // Files, not rows: the entry follows the deletions (a repeated prune finds nothing more to record).
      if (plan.prune.length > 0) await audit(db, 'backup.pruned', { pruned: plan.prune, kept: plan.keep.length });
      return { kept: plan.keep, pruned: plan.prune };
    },
  };
}

export type BackupService = ReturnType<typeof createBackupService>;

async function readManifestUnverified(path: string): Promise<Manifest | null> {
  try {
    const manifest = JSON.parse(await readFile(path, 'utf8')) as Manifest;
    return Array.isArray(manifest.tables) && typeof manifest.source === 'object' ? manifest : null;
  } catch {
    return null;
  }
}
