import type { Kysely } from 'kysely';
import { seal, unseal } from '../../crypto/seal.js';
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
  /**
   * Seals queued messages: they hold live reset and invitation links, and the queue is in the
   * database, so they are encrypted there like every other secret (derived from the root key).
   */
  sealingKey: Buffer;
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
  const read = (job: Job) => readPayload(job, deps.sealingKey);
  deps.queue.register(MAIL_SEND_JOB, deps.smtpUrl ? smtpHandler(deps.smtpUrl, deps.mailFrom, read) : outboxHandler(deps.db, deps.clock, read));
  return {
    async sendMail(executor, message, idempotencyKey) {
      assertSendable(message);
      const plain: MailMessage = { to: message.to, subject: message.subject, text: message.text };
      const payload = { sealed: seal(deps.sealingKey, Buffer.from(JSON.stringify(plain)), MAIL_SEND_JOB).toString('base64') };
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

function smtpHandler(smtpUrl: string, mailFrom: string, readPayload: (job: Job) => MailMessage): JobHandler {
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

function outboxHandler(db: Kysely<DB>, clock: Clock, readPayload: (job: Job) => MailMessage): JobHandler {
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

function readPayload(job: Job, sealingKey: Buffer): MailMessage {
  const { sealed } = (job.payload ?? {}) as { sealed?: unknown };
  let message: Record<string, unknown>;
  try {
    message = JSON.parse(unseal(sealingKey, Buffer.from(String(sealed), 'base64'), MAIL_SEND_JOB).toString('utf8')) as Record<string, unknown>;
  } catch {
    throw new PermanentJobError(`${MAIL_SEND_JOB} payload is not a message sealed with this instance's key`);
  }
  const { to, subject, text } = message;
  if (typeof to !== 'string' || typeof subject !== 'string' || typeof text !== 'string') {
    throw new PermanentJobError(`${MAIL_SEND_JOB} payload must hold the strings to, subject and text`);
  }
  return { to, subject, text };
}

function assertSendable(message: MailMessage): void {
  if (!isPlainAddress(message.to)) throw new TypeError('A mail recipient must be one plain email address');
  if (/[\r\n]/.test(message.subject)) throw new TypeError('A mail subject must be one line');
}
