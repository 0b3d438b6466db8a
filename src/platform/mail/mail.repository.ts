import type { Kysely } from 'kysely';
import type { DB } from '../db/schema.js';

export interface OutboxRow {
  id: number;
  to_address: string;
  subject: string;
  body_text: string;
  created_at: Date;
}

/** Stores a development mail once per job, however often the job runs. */
export async function insertOutboxMail(
  db: Kysely<DB>,
  mail: { jobId: number; to: string; subject: string; text: string; createdAt: Date },
): Promise<void> {
  await db
    .insertInto('mail_outbox')
    .values({ job_id: mail.jobId, to_address: mail.to, subject: mail.subject, body_text: mail.text, created_at: mail.createdAt })
    .onConflict((conflict) => conflict.column('job_id').doNothing())
    .execute();
}

/** The newest `limit` outbox mails, newest first. */
export async function selectOutbox(db: Kysely<DB>, limit: number): Promise<OutboxRow[]> {
  return db
    .selectFrom('mail_outbox')
    .select(['id', 'to_address', 'subject', 'body_text', 'created_at'])
    .orderBy('id', 'desc')
    .limit(limit)
    .execute();
}
