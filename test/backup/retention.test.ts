import { describe, expect, it } from 'vitest';
import { planRetention } from '../../src/backup/index.js';

const DAY = 86_400_000;
const NOW = new Date('2026-11-30T03:00:00Z');

/** One backup a day at 02:23 UTC for `days` days, newest first in time order reversed. */
function dailyBackups(days: number): Array<{ id: string; createdAt: Date }> {
  return Array.from({ length: days }, (_, i) => {
    const createdAt = new Date(Date.UTC(2026, 10, 30, 2, 23) - i * DAY);
    return { id: createdAt.toISOString().slice(0, 10), createdAt };
  });
}

describe('grandfather-father-son retention', () => {
  const policy = { keepDailyDays: 30, keepWeeklyDays: 365 };

  it('keeps every daily backup for 30 days, then the newest of each ISO week for a year, and prunes the rest', () => {
    const backups = dailyBackups(500);
    const { keep, prune } = planRetention(backups, NOW, policy);
    const kept = new Set(keep);
    // Every day of the last 30 days.
    for (const backup of backups.slice(0, 30)) expect(kept.has(backup.id), backup.id).toBe(true);
    // Past 30 days, only Sundays (the newest backup of a Monday-to-Sunday week) within the year.
    for (const backup of backups.slice(30)) {
      const ageDays = (NOW.getTime() - backup.createdAt.getTime()) / DAY;
      const isSunday = backup.createdAt.getUTCDay() === 0;
      expect(kept.has(backup.id), backup.id).toBe(isSunday && ageDays <= 365);
    }
    expect(keep.length + prune.length).toBe(500);
    expect(prune.length).toBeGreaterThan(400);
  });

  it('keeps only the newest backup of a day that has several', () => {
    const morning = { id: 'morning', createdAt: new Date('2026-11-29T08:00:00Z') };
    const evening = { id: 'evening', createdAt: new Date('2026-11-29T20:00:00Z') };
    expect(planRetention([morning, evening], NOW, policy)).toEqual({ keep: ['evening'], prune: ['morning'] });
  });

  it('never prunes the newest backup, however old', () => {
    const old = dailyBackups(3).map((backup) => ({ ...backup, createdAt: new Date(backup.createdAt.getTime() - 2000 * DAY) }));
    expect(planRetention(old, NOW, policy).keep).toEqual([old[0]!.id]);
  });

  it('is idempotent: pruning what it planned leaves a set it keeps whole', () => {
    const backups = dailyBackups(120);
    const first = planRetention(backups, NOW, policy);
    const second = planRetention(backups.filter((backup) => first.keep.includes(backup.id)), NOW, policy);
    expect(second).toEqual({ keep: first.keep, prune: [] });
  });

  it('follows a configured policy', () => {
    const { keep } = planRetention(dailyBackups(60), NOW, { keepDailyDays: 7, keepWeeklyDays: 0 });
    expect(keep).toEqual(dailyBackups(7).map((backup) => backup.id));
  });
});
