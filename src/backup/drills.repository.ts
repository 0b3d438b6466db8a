import type { Kysely } from 'kysely';
import type { DB } from '../platform/db/index.js';

export interface DrillRow {
  id: string;
  backup_id: string;
  started_at: Date;
  duration_ms: number;
  backup_age_seconds: number | null;
  outcome: 'passed' | 'failed';
  details: unknown;
}

export async function insertDrill(db: Kysely<DB>, drill: DrillRow): Promise<void> {
  await db
    .insertInto('backup_drills')
    .values({ ...drill, details: JSON.stringify(drill.details) })
    .execute();
}

/** The latest drills, newest first. */
export async function listDrills(db: Kysely<DB>, limit: number): Promise<DrillRow[]> {
  return db.selectFrom('backup_drills').selectAll().orderBy('started_at', 'desc').limit(limit).execute();
}
