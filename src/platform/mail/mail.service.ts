import type { Kysely } from 'kysely';
import { createTransport } from 'nodemailer';
import type { Clock } from '../clock.js';
import type { DB } from '../db/schema.js';
import { PermanentJobError } from '../jobs/index.js';
import type { Job, JobHandler, JobQueue } from '../jobs/index.js';
import { insertOutboxMail, selectOutbox } from './mail.repository.js';

export const MAIL_SEND_JOB = 'mail.send';

export interface MailMessage {
  /** One plain address. */
  to: string;
  /** One line. */
  subject: string;
  text: string;
}

export interface OutboxMail {
  id: number;
  to: string;
  subject: string;
  text: string;
  createdAt: Date;
}

export interface Mailer {
  /**
   * Queues `message` through `executor` (pass the caller's transaction so the mail goes out only if
   * the action commits). With an idempotency key, a second call with the same key sends nothing.
   */
  sendMail(executor: Kysely<DB>, message: MailMessage, idempotencyKey?: string): Promise<void>;
}

export interface MailerDependencies {
  queue: JobQueue;
  db: Kysely<DB>;
  clock: Clock;
  /** config.smtpUrl: null sends to the development outbox instead. */
  smtpUrl: string | null;
  mailFrom: string;
}

// With the backoff capped at an hour, 40 attempts keep trying for 15 to 30 hours: an SMTP outage
// lasting a night delays mail and loses none.
const MAIL_MAX_ATTEMPTS = 40;

// One mailbox: no whitespace or control characters, no second @, and none of the characters that
// would let one `to` reach several people or smuggle a display name (comma, angle brackets...).
// The domain needs a dot. Identity validates addresses with this too, so nothing it accepts can
// fail here.
const ADDRESS_PART = String.raw`[^\s\p{Cc}@<>,;:"()[\]\\]+`;
const SINGLE_ADDRESS = new RegExp(`^${ADDRESS_PART}@${ADDRESS_PART}\\.${ADDRESS_PART}$`, 'u');

/** Whether `address` is one plain mailbox the mailer accepts. */
export function isPlainAddress(address: string): boolean {
  return SINGLE_ADDRESS.test(address);
}

/** Creates the mailer and registers the `mail.send` handler on `queue`. */
export function createMailer(deps: MailerDependencies): Mailer {
  deps.queue.register(MAIL_SEND_JOB, deps.smtpUrl ? smtpHandler(deps.smtpUrl, deps.mailFrom) : outboxHandler(deps.db, deps.clock));
  return {
    async sendMail(executor, message, idempotencyKey) {
      assertSendable(message);
      const payload: MailMessage = { to: message.to, subject: message.subject, text: message.text };
      await deps.queue.enqueue(executor, MAIL_SEND_JOB, payload, {
        maxAttempts: MAIL_MAX_ATTEMPTS,
        ...(idempotencyKey === undefined ? {} : { idempotencyKey: `mail:${idempotencyKey}` }),
      });
    },
  };
}

/** The newest `limit` mails of the development outbox, newest first. */
export async function listOutbox(db: Kysely<DB>, limit: number): Promise<OutboxMail[]> {
  const rows = await selectOutbox(db, limit);
  return rows.map((row) => ({ id: row.id, to: row.to_address, subject: row.subject, text: row.body_text, createdAt: row.created_at }));
}

function smtpHandler(smtpUrl: string, mailFrom: string): JobHandler {
  const transport = createTransport({
    url: smtpUrl,
    // Bounded so a silent server fails the attempt (and it is retried) instead of holding it forever.
    connectionTimeout: 30_000,
    greetingTimeout: 30_000,
    socketTimeout: 60_000,
    logger: false,
  });
  const messageIdDomain = /@([A-Za-z0-9.-]+)/.exec(mailFrom)?.[1] ?? 'rampart.invalid';
  return async (job: Job) => {
    const message = readPayload(job);
    try {
      await transport.sendMail({
        from: mailFrom,
        to: message.to,
        subject: message.subject,
        text: message.text,
        // Stable across attempts, so a receiver can drop the copy an at-least-once retry may send.
        messageId: `<rampart-job-${job.id}@${messageIdDomain}>`,
      });
    } catch (error) {
      throw isRejectedMessage(error) ? new PermanentJobError((error as Error).message, { cause: error }) : error;
    }
  };
}

function outboxHandler(db: Kysely<DB>, clock: Clock): JobHandler {
  return async (job: Job) => {
    const message = readPayload(job);
    await insertOutboxMail(db, { jobId: job.id, ...message, createdAt: clock.now() });
  };
}

// A 5xx to the recipient or the message itself will be refused again; other failures (connection,
// authentication, sender) are the operator's to fix, and retrying picks the fix up.
function isRejectedMessage(error: unknown): boolean {
  const { permanent, command } = error as { permanent?: unknown; command?: unknown };
  return permanent === true && (command === 'RCPT TO' || command === 'DATA');
}

function readPayload(job: Job): MailMessage {
  const { to, subject, text } = (job.payload ?? {}) as Record<string, unknown>;
  if (typeof to !== 'string' || typeof subject !== 'string' || typeof text !== 'string') {
    throw new PermanentJobError(`${MAIL_SEND_JOB} payload must hold the strings to, subject and text`);
  }
  return { to, subject, text };
}

function assertSendable(message: MailMessage): void {
  if (!isPlainAddress(message.to)) throw new TypeError('A mail recipient must be one plain email address');
  if (/[\r\n]/.test(message.subject)) throw new TypeError('A mail subject must be one line');
}
