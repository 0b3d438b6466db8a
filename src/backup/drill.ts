import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { scrubString } from '../platform/log/scrub.js';
import { BackupIntegrityError } from './backup-reader.js';
import { backupTime } from './backup-store.js';
import type { BackupTarget } from './backup-store.js';
import type { DrillResult } from './drills.repository.js';
import { restoreBackup } from './restore-backup.js';
import type { ErasureReplay, RestoreInput } from './restore-backup.js';
import { createScratchTarget } from './scratch.js';

export interface DrillInput {
  backupKey: Buffer;
  /** The target the latest backup is read from (the local folder). */
  target: BackupTarget;
  /** The configured PostgreSQL server (a scratch database is created there), or null for PGlite. */
  databaseUrl: string | null;
  now: Date;
  replayErasures?: ErasureReplay;
  withCipher?: RestoreInput['withCipher'];
  /** Decrypts a sample of the restored data (drill-sample.ts); throws when it does not decrypt. */
  inspect?: RestoreInput['inspect'];
  onProgress?: (done: number, total: number, detail: string) => void;
}

/**
 * Restores the latest backup into a scratch database, checks it against its manifest (every
 * table's row count, every audit chain head) and decrypts a sample of it, and measures how long
 * that took: the recovery time actually measured, not promised. The scratch copy is dropped
 * whatever the outcome. The caller signs and records the result.
 */
export async function runDrill(input: DrillInput): Promise<DrillResult> {
  const ids = await input.target.list();
  const latest = ids.at(-1);
  const started = performance.now();
  const drill: DrillResult = {
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
    return drill;
  }
  const scratch = await createScratchTarget(input.databaseUrl);
  try {
    const restored = await input.target.read(latest, 'complete', (dir) =>
      restoreBackup({
        dir,
        id: latest,
        backupKey: input.backupKey,
        into: scratch.into,
        ...(input.replayErasures ? { replayErasures: input.replayErasures } : {}),
        ...(input.inspect ? { inspect: input.inspect } : {}),
        ...(input.withCipher ? { withCipher: input.withCipher } : {}),
        ...(input.onProgress ? { onProgress: input.onProgress } : {}),
      }),
    );
    drill.duration_ms = Math.round(performance.now() - started);
    drill.outcome = 'passed';
    drill.details = {
      engine: scratch.into.kind,
      tables: restored.tables,
      rows: restored.rows,
      schema_version: restored.schemaVersion,
      audit_heads_match: restored.auditHeadsMatch,
      vault_files: restored.vaultBlobs?.blobs ?? 0,
      ...restored.checks,
    };
  } catch (error) {
    drill.duration_ms = Math.round(performance.now() - started);
    drill.details = { engine: scratch.into.kind, error: describeFailure(error) };
  } finally {
    await scratch.drop();
  }
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
