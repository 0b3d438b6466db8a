import type { FastifyInstance, FastifyRequest } from 'fastify';
import { deriveKey } from '../crypto/root-key.js';
import type { JobQueue } from '../platform/jobs/index.js';
import type { Logger } from '../platform/log/logger.js';
import type { Mailer } from '../platform/mail/index.js';
import { createBackupService } from './backup.service.js';
import type { BackupService, BackupServiceDependencies } from './backup.service.js';
import { alertStaffOnFailedDrill } from './drill-alert.js';
import { drillRoutes } from './drills.routes.js';

/** Backups, restores, drills and retention of this instance (docs/operations.md "Backups"). */
export { createBackupService, BackupNotFoundError } from './backup.service.js';
export type { BackupListing, BackupService } from './backup.service.js';
/** A backup failed verification; `problems` name the file and chunk. */
export { BackupIntegrityError, describeProblem } from './backup-reader.js';
export type { BackupProblem, VerifyReport } from './backup-reader.js';
/** Restore targets and the refusal of an unsafe restore (non-empty target, other schema, production data). */
export { parseRestoreTarget, RestoreRefusedError } from './restore-backup.js';
export type { ErasureReplay, RestoreResult, RestoreTarget } from './restore-backup.js';
/** The pure grandfather-father-son rule (tests and docs use it directly). */
export { planRetention } from './retention.js';
export type { RetentionPolicy } from './retention.js';
export type { DrillRow } from './drills.repository.js';
export { DRILL_FORMAT } from './drill-statement.js';
export { alertStaffOnFailedDrill } from './drill-alert.js';
/** Data residency of off-site targets (RAMPART_DATA_RESIDENCY). */
export { ResidencyError } from './residency.js';
/** The sealed part format (NDJSON, gzip, authenticated AES-256-GCM chunks), reused by audit archives. */
export { readPart, writePart } from './parts.js';
export { PartIntegrityError } from './chunked-cipher.js';

/**
 * A key of the backup hierarchy for another kind of archive (audit retention): HKDF of the backup
 * key, so the root key alone opens it, and `purpose` keeps it apart from backups' own keys.
 */
export function archiveKey(rootKey: Buffer, purpose: string): Buffer {
  return deriveKey(deriveKey(rootKey, 'backup'), purpose);
}

export const BACKUP_JOB = 'backup.create';
export const BACKUP_DRILL_JOB = 'backup.drill';

export interface BackupsDependencies extends BackupServiceDependencies {
  jobs: JobQueue;
  logger: Logger;
  mailer: Mailer;
}

/**
 * Builds the backup service and its scheduled jobs: a backup followed by pruning (daily by
 * default) and a restore drill (weekly). Jobs are at-least-once: a repeated backup is one more
 * complete backup, which pruning folds away; a repeated prune or drill changes nothing wrong.
 * A failed drill mails every active platform staff member, in the transaction that records it.
 */
export function createBackups(deps: BackupsDependencies): { service: BackupService; register(app: FastifyInstance, requirePlatform: (request: FastifyRequest) => Promise<void>): Promise<void> } {
  const service = createBackupService({ ...deps, onDrillFailed: alertStaffOnFailedDrill(deps.mailer, deps.config.publicUrl) });
  deps.jobs.register(BACKUP_JOB, async () => {
    const created = await service.create();
    const pruned = await service.prune();
    deps.logger.info({ backup: created.id, tables: created.tables, rows: created.rows, pruned: pruned.pruned.length }, 'backup created');
  });
  deps.jobs.register(BACKUP_DRILL_JOB, async () => {
    const drill = await service.drill();
    const log = drill.outcome === 'passed' ? deps.logger.info.bind(deps.logger) : deps.logger.error.bind(deps.logger);
    log({ drill: drill.id, backup: drill.backup_id, outcome: drill.outcome, duration_ms: drill.duration_ms }, 'restore drill finished');
  });
  return {
    service,
    async register(app: FastifyInstance, requirePlatform: (request: FastifyRequest) => Promise<void>) {
      await app.register(drillRoutes, { service, requirePlatform });
      app.addHook('onReady', async () => {
        const { schedule, drillSchedule } = deps.config.backup;
        const schedules = [schedule ? deps.jobs.schedule(BACKUP_JOB, schedule, BACKUP_JOB) : deps.jobs.unschedule(BACKUP_JOB), drillSchedule ? deps.jobs.schedule(BACKUP_DRILL_JOB, drillSchedule, BACKUP_DRILL_JOB) : deps.jobs.unschedule(BACKUP_DRILL_JOB)];
        await Promise.all(schedules).catch(
          (error: unknown) => app.log.warn({ err: error }, 'backups not scheduled yet'),
        );
      });
    },
  };
}
