import type { Kysely } from 'kysely';
import type { Clock } from '../../platform/clock.js';
import { withTenant } from '../../platform/db/index.js';
import type { DB } from '../../platform/db/index.js';
import type { JobQueue } from '../../platform/jobs/index.js';
import type { Mailer } from '../../platform/mail/index.js';
import * as repo from './dsr.repository.js';

export const REMINDER_JOB = 'dsr.deadline_reminders';
/** Days before a deadline when owners and admins are reminded; 0 means overdue. */
export const REMINDER_THRESHOLDS = [7, 3, 1, 0] as const;
const DAY_MS = 86_400_000;

/** The threshold a request's deadline has crossed: the smallest one at or above the days left. */
function thresholdOf(dueAt: Date, now: Date): number {
  const daysLeft = (dueAt.getTime() - now.getTime()) / DAY_MS;
  if (daysLeft <= 0) return 0;
  return [...REMINDER_THRESHOLDS].reverse().find((days) => days > 0 && daysLeft <= days)!;
}

/**
 * Daily: mails each org's owners and admins about open requests within a week of their deadline,
 * or past it. One mail per request, threshold and recipient, ever: the mailer's idempotency key
 * names the three, so a second run the same day (or a retried job) sends nothing again. The mail
 * names the request and its deadline, never the data subject.
 */
export function registerReminderJob(deps: { db: Kysely<DB>; clock: Clock; jobs: JobQueue; mailer: Mailer; publicUrl: string }): () => Promise<void> {
  deps.jobs.register(REMINDER_JOB, async () => {
    const now = deps.clock.now();
    const horizon = new Date(now.getTime() + REMINDER_THRESHOLDS[0] * DAY_MS);
    for (const tenantId of await repo.tenantsWithRequestsDue(deps.db, horizon)) {
      const { due, adminIds } = await withTenant(deps.db, tenantId, async (trx) => ({
        due: await repo.listRequests(trx, tenantId, { dueBefore: horizon, limit: 1000 }),
        adminIds: (await repo.listAdmins(trx, tenantId)).map((row) => row.user_id),
      }));
      // Users are not tenant rows: read outside the tenant scope (one connection at a time on PGlite).
      const admins = await repo.emailsOf(deps.db, adminIds);
      await withTenant(deps.db, tenantId, async (trx) => {
        for (const request of due) {
          const threshold = thresholdOf(request.due_at, now);
          const when = threshold === 0 ? 'is overdue' : `is due within ${threshold} day${threshold === 1 ? '' : 's'}`;
          for (const admin of admins) {
            await deps.mailer.sendMail(
              trx,
              {
                to: admin.email,
                subject: `A data-subject request ${when}`,
                text: `The ${request.type} request ${request.request_id} ${when} (deadline ${request.due_at.toISOString()}).\nOpen it: ${deps.publicUrl}/v1/orgs/${tenantId}/dsr/${request.request_id}\n`,
              },
              `dsr-reminder:${request.request_id}:${threshold}:${admin.id}`,
            );
          }
        }
      });
    }
  });
  return () => deps.jobs.schedule(REMINDER_JOB, '0 6 * * *', REMINDER_JOB);
}
