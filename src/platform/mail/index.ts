/** Creates the mailer (sendMail queues a `mail.send` job) and registers its handler on the job queue. */
export { createMailer } from './mail.service.js';
/** Lists the development outbox, newest first, for `rampart mail`. */
export { listOutbox } from './mail.service.js';
/** Whether an address is one plain mailbox (what the mailer accepts; identity validates with it). */
export { isPlainAddress } from './mail.service.js';
/** Name of the job that delivers one mail. */
export { MAIL_SEND_JOB } from './mail.service.js';
export type { Mailer, MailerDependencies, MailMessage, OutboxMail } from './mail.service.js';
