import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Kysely } from 'kysely';
import type { DB } from '../platform/db/index.js';
import { scrubString } from '../platform/log/scrub.js';
import { BackupIntegrityError } from './backup-reader.js';
import { backupTime, completePath, listBackupIds } from './backup-store.js';
import type { BackupTarget } from './backup-store.js';
import { insertDrill } from './drills.repository.js';
import type { DrillRow } from './drills.repository.js';
import { restoreBackup } from './restore-backup.js';
import type { ErasureReplay } from './restore-backup.js';
import { createScratchTarget } from './scratch.js';

export interface DrillInput {
  /** The live database, where the result is recorded. */
  db: Kysely<DB>;
  backupKey: Buffer;
  target: BackupTarget;
  /** The configured PostgreSQL server (a scratch database is created there), or null for PGlite. */
  databaseUrl: string | null;
  now: Date;
  replayErasures?: ErasureReplay;
  onProgress?: (done: number, total: number, detail: string) => void;
}

/**
 * Restores the latest backup into a scratch database, checks it against its manifest (every
 * table's row count, every audit chain head), and records how long that took: the recovery time
 * actually measured, not promised. The scratch copy is dropped whatever the outcome.
 */
export async function runDrill(input: DrillInput): Promise<DrillRow> {
  const ids = await listBackupIds(input.target);
  const latest = ids.at(-1);
  const started = performance.now();
  const drill: DrillRow = {
    id: randomUUID(),
    backup_id: latest ?? '',
    started_at: input.now,
    duration_ms: 0,
    backup_age_seconds: latest ? Math.max(0, Math.round((input.now.getTime() - backupTime(latest).getTime()) / 1000)) : null,
    outcome: 'failed',
    details: {},
  };
  if (!latest) {
    drill.details = { error: 'there is no backup to restore' };
  } else {
    const scratch = await createScratchTarget(input.databaseUrl);
    try {
      const restored = await restoreBackup({
        dir: completePath(input.target, latest),
        id: latest,
        backupKey: input.backupKey,
        into: scratch.into,
        ...(input.replayErasures ? { replayErasures: input.replayErasures } : {}),
        ...(input.onProgress ? { onProgress: input.onProgress } : {}),
      });
      drill.duration_ms = Math.round(performance.now() - started);
      drill.outcome = restored.auditHeadsMatch === false ? 'failed' : 'passed';
      drill.details = {
        engine: scratch.into.kind,
        tables: restored.tables,
        rows: restored.rows,
        schema_version: restored.schemaVersion,
        audit_heads_match: restored.auditHeadsMatch,
        ...(restored.auditHeadsMatch === false ? { error: 'the restored audit chain heads differ from the manifest' } : {}),
      };
    } catch (error) {
      drill.duration_ms = Math.round(performance.now() - started);
      drill.details = { engine: scratch.into.kind, error: describeFailure(error) };
    } finally {
      await scratch.drop();
    }
  }
  await insertDrill(input.db, drill);
  return drill;
}

// Stored and shown to operators: integrity messages name files and chunks. A database error is
// reduced to its SQLSTATE and the table or constraint it names: its message may quote a value
// from a restored row ("invalid input syntax for type uuid: ...").
function describeFailure(error: unknown): string {
  if (error instanceof BackupIntegrityError) return error.message;
  const fields = (error ?? {}) as { code?: unknown; table?: unknown; constraint?: unknown };
  if (typeof fields.code === 'string' && /^[0-9A-Z]{5}$/.test(fields.code)) {
    const where = [fields.table, fields.constraint].filter((part): part is string => typeof part === 'string');
    return `database error ${fields.code}${where.length > 0 ? ` (${where.join(', ')})` : ''}`;
  }
  return error instanceof Error ? scrubString(`${error.name}: ${error.message}`).slice(0, 1000) : 'unknown failure';
}
