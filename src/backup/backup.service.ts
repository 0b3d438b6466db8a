import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { recordAuditEvent } from '../audit/index.js';
import type { SecurityAction } from '../audit/index.js';
import type { Config } from '../config.js';
import { deriveKey } from '../crypto/root-key.js';
import type { Clock } from '../platform/clock.js';
import type { Database } from '../platform/db/index.js';
import { readErasureLedger, replayErasureLedger } from '../vault/index.js';
import { verifyBackup } from './backup-reader.js';
import type { VerifyReport } from './backup-reader.js';
import { backupTime, completePath, isBackupId, listBackupIds, removeBackup, removeStalePartials } from './backup-store.js';
import type { BackupTarget } from './backup-store.js';
import { createBackup } from './create-backup.js';
import type { CreateBackupInput, CreatedBackup } from './create-backup.js';
import { runDrill } from './drill.js';
import { listDrills } from './drills.repository.js';
import type { DrillRow } from './drills.repository.js';
import { MANIFEST_FILE } from './manifest.js';
import type { Manifest } from './manifest.js';
import { planRetention } from './retention.js';
import { restoreBackup, RestoreRefusedError } from './restore-backup.js';
import { tableExists } from './snapshot.repository.js';
import type { ErasureReplay, RestoreResult, RestoreTarget } from './restore-backup.js';

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

/** Backups of this instance: create, list, verify, restore, drill, prune. */
export function createBackupService(deps: BackupServiceDependencies) {
  const { config, database, clock } = deps;
  const backupKey = deriveKey(deps.rootKey, 'backup');
  // Backups are the platform's own work: their entries go to the platform chain, by the system.
  const audit = (action: BackupAction, metadata: Record<string, unknown>): Promise<void> =>
    recordAuditEvent(database.db, { realm: 'platform', principalId: null, actor: { type: 'system', id: null }, action, ip: null, userAgent: null, metadata, at: clock.now() });
  const targets: BackupTarget[] = [
    { name: 'local', dir: config.backup.dir },
    ...config.backup.offsiteDirs.map((dir, index) => ({ name: `offsite:${index + 1}`, dir })),
  ];
  const local = targets[0]!;
  // The live ledger holds every erasure, including those made after the backup was taken.
  const replayErasures: ErasureReplay = async (restored) => {
    if (!(await tableExists(database.db, 'erasure_ledger')) || !(await tableExists(restored.db, 'erasure_ledger'))) return null;
    const entries = await readErasureLedger(database.db);
    return { entries: entries.length, keysDestroyed: await replayErasureLedger(restored.db, entries, clock) };
  };

  async function holders(id: string): Promise<BackupTarget[]> {
    const found: BackupTarget[] = [];
    for (const target of targets) {
      if (await stat(join(completePath(target, id), MANIFEST_FILE)).catch(() => null)) found.push(target);
    }
    return found;
  }

  /** The folder to read a backup from: the local copy, else an off-site one (the local disk may be gone). */
  async function locate(id: string): Promise<string> {
    if (!isBackupId(id)) throw new BackupNotFoundError(`"${id.slice(0, 64)}" is not a backup id (see rampart backup list)`);
    const [first] = await holders(id);
    if (!first) throw new BackupNotFoundError(`No target holds a complete backup ${id}`);
    return completePath(first, id);
  }

  return {
    targets: targets.map((target) => ({ ...target })),

    async create(onProgress?: CreateBackupInput['onProgress']): Promise<CreatedBackup> {
      const created = await createBackup({
        database,
        keys: { backupKey, signingSealKey: deriveKey(deps.rootKey, 'signing-keys') },
        targets,
        env: config.env,
        now: clock.now(),
        ...(onProgress ? { onProgress } : {}),
      });
      await audit('backup.created', { backup_id: created.id, tables: created.tables, rows: created.rows, bytes: created.bytes, targets: targets.map((t) => t.name) });
      return created;
    },

    /** Complete local backups, oldest first, with the off-site targets that also hold them. */
    async list(): Promise<BackupListing[]> {
      const listings: BackupListing[] = [];
      for (const id of await listBackupIds(local)) {
        // Listing reads the manifest as is (verify authenticates it): a damaged one shows as such.
        const manifest = await readManifestUnverified(join(completePath(local, id), MANIFEST_FILE));
        if (!manifest) {
          listings.push({ id, created_at: backupTime(id).toISOString(), engine: 'unreadable manifest', tables: 0, rows: 0, bytes: 0, targets: (await holders(id)).map((target) => target.name) });
          continue;
        }
        listings.push({
          id,
          created_at: manifest.created_at,
          engine: manifest.source.engine,
          tables: manifest.tables.length,
          rows: manifest.tables.reduce((sum, table) => sum + table.rows, 0),
          bytes: manifest.tables.reduce((sum, table) => sum + table.bytes, 0),
          targets: (await holders(id)).map((target) => target.name),
        });
      }
      return listings;
    },

    async verify(id: string, onProgress?: Progress): Promise<VerifyReport> {
      return verifyBackup(await locate(id), id, backupKey, onProgress);
    },

    /**
     * Restores into an empty target. A production backup goes into a non-production instance only
     * with `overrideReason` (no production data in staging by accident); the caller logs the reason.
     */
    async restore(id: string, into: RestoreTarget, options: { overrideReason?: string; onProgress?: Progress } = {}): Promise<RestoreResult> {
      return restoreBackup({
        dir: await locate(id),
        id,
        backupKey,
        into,
        allow: ({ source }) => {
          if (source.env === 'production' && config.env !== 'production' && !options.overrideReason) {
            throw new RestoreRefusedError(`Backup ${id} holds production data and this instance is ${config.env}; pass --override-env "<reason>" if that is intended`);
          }
        },
        replayErasures,
        ...(options.onProgress ? { onProgress: options.onProgress } : {}),
      });
    },

    async drill(onProgress?: Progress): Promise<DrillRow> {
      const drill = await runDrill({
        db: database.db,
        backupKey,
        target: local,
        databaseUrl: config.databaseUrl,
        now: clock.now(),
        replayErasures,
        ...(onProgress ? { onProgress } : {}),
      });
      await audit('backup.drill_completed', { drill_id: drill.id, backup_id: drill.backup_id, outcome: drill.outcome, duration_ms: drill.duration_ms });
      return drill;
    },

    async drills(limit: number): Promise<DrillRow[]> {
      return listDrills(database.db, limit);
    },

    /** Applies the retention policy on every target; idempotent. */
    async prune(): Promise<{ kept: string[]; pruned: string[] }> {
      const now = clock.now();
      const ids = new Set<string>();
      for (const target of targets) for (const id of await listBackupIds(target)) ids.add(id);
      const plan = planRetention([...ids].map((id) => ({ id, createdAt: backupTime(id) })), now, config.backup);
      for (const id of plan.prune) for (const target of targets) await removeBackup(target, id);
      for (const target of targets) await removeStalePartials(target, new Date(now.getTime() - STALE_PARTIAL_MS));
      if (plan.prune.length > 0) await audit('backup.pruned', { pruned: plan.prune, kept: plan.keep.length });
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
