import type { Kysely, Transaction } from 'kysely';
import type { DB } from '../platform/db/index.js';

/** A drill's result as measured, before it is signed. */
export interface DrillResult {
  id: string;
  backup_id: string;
  started_at: Date;
  duration_ms: number;
  backup_age_seconds: number | null;
  outcome: 'passed' | 'failed';
  details: unknown;
}

/** As stored: the result, the exact statement signed about it, its signature and key (null on drills from before signing). */
export interface DrillRow extends DrillResult {
  statement: string | null;
  signature: string | null;
  signing_kid: string | null;
}

export async function insertDrill(db: Kysely<DB> | Transaction<DB>, drill: DrillRow): Promise<void> {
  await db
    .insertInto('backup_drills')
    .values({ ...drill, details: JSON.stringify(drill.details) })
    .execute();
}

/** The latest drills, newest first. */
export async function listDrills(db: Kysely<DB>, limit: number): Promise<DrillRow[]> {
  return db.selectFrom('backup_drills').selectAll().orderBy('started_at', 'desc').limit(limit).execute();
}
