/** Grandfather-father-son retention, as configured (RAMPART_BACKUP_KEEP_*_DAYS). */
export interface RetentionPolicy {
  /** Keep the newest backup of each UTC day for this many days. */
  keepDailyDays: number;
  /** Keep the newest backup of each ISO week (weeks start on Monday, UTC) for this many days. */
  keepWeeklyDays: number;
}

export interface DatedBackup {
  id: string;
  createdAt: Date;
}

const DAY_MS = 86_400_000;

function dayOf(time: Date): number {
  return Math.floor(time.getTime() / DAY_MS);
}

function isoWeekOf(time: Date): number {
  // Day 0 of the Unix epoch was a Thursday; shifting by 3 days makes weeks start on Monday.
  return Math.floor((dayOf(time) + 3) / 7);
}

/**
 * Splits backups into those to keep and those to prune. A pure function of its inputs, so running
 * it again (or after a crash half-way through pruning) prunes nothing that should stay. The
 * newest backup is always kept, however old, so pruning never leaves nothing to restore.
 */
export function planRetention(backups: DatedBackup[], now: Date, policy: RetentionPolicy): { keep: string[]; prune: string[] } {
  const newestFirst = [...backups].sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime());
  const keep = new Set<string>();
  if (newestFirst[0]) keep.add(newestFirst[0].id);
  const keepNewestPer = (bucketOf: (time: Date) => number, windowDays: number) => {
    const seen = new Set<number>();
    for (const backup of newestFirst) {
      if (now.getTime() - backup.createdAt.getTime() > windowDays * DAY_MS) continue;
      const bucket = bucketOf(backup.createdAt);
      if (seen.has(bucket)) continue;
      seen.add(bucket);
      keep.add(backup.id);
    }
  };
  keepNewestPer(dayOf, policy.keepDailyDays);
  keepNewestPer(isoWeekOf, policy.keepWeeklyDays);
  return {
    keep: newestFirst.filter((backup) => keep.has(backup.id)).map((backup) => backup.id),
    prune: newestFirst.filter((backup) => !keep.has(backup.id)).map((backup) => backup.id),
  };
}
