import type { Transaction } from 'kysely';
import { activePlatformStaffEmails } from '../identity/index.js';
import type { DB } from '../platform/db/index.js';
import type { Mailer, MailMessage } from '../platform/mail/index.js';
import type { DrillRow } from './drills.repository.js';

/** The mail a failed drill sends each active staff member; it names what failed, never data. */
function drillFailedMail(to: string, drill: DrillRow, publicUrl: string): MailMessage {
  const error = (drill.details as { error?: unknown } | null)?.error;
  return {
    to,
    subject: 'Rampart: a restore drill FAILED',
    text: [
      `A restore drill on ${publicUrl} failed at ${drill.started_at.toISOString()}.`,
      `Backup: ${drill.backup_id || '(none: there was no backup to restore)'}`,
      `Drill: ${drill.id}`,
      `Failure: ${typeof error === 'string' ? error : 'see rampart backup drill'}`,
      '',
      'Until a drill passes, backups are not known to restore. See docs/operations.md "Restore drills".',
    ].join('\n'),
  };
}

/**
 * Queues that mail to every active platform staff member in the transaction that records the
 * drill (so it goes out exactly when the failure is on record), once per drill and address.
 */
export function alertStaffOnFailedDrill(mailer: Mailer, publicUrl: string): (trx: Transaction<DB>, drill: DrillRow) => Promise<void> {
  return async (trx, drill) => {
    for (const to of await activePlatformStaffEmails(trx)) {
      await mailer.sendMail(trx, drillFailedMail(to, drill, publicUrl), `backup-drill-failed:${drill.id}:${to}`);
    }
  };
}
