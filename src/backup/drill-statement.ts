import type { DrillResult } from './drills.repository.js';

export const DRILL_FORMAT = 'rampart-drill/1';

/**
 * The exact bytes signed about a drill: its result as JSON, with the format first so a signature
 * over one kind of document cannot pass for another. Stored as is beside the signature, so a
 * verifier checks these bytes and never needs to rebuild them.
 */
export function drillStatement(drill: DrillResult): Buffer {
  return Buffer.from(
    JSON.stringify({
      format: DRILL_FORMAT,
      id: drill.id,
      backup_id: drill.backup_id,
      started_at: drill.started_at.toISOString(),
      duration_ms: drill.duration_ms,
      backup_age_seconds: drill.backup_age_seconds,
      outcome: drill.outcome,
      details: drill.details,
    }),
    'utf8',
  );
}
