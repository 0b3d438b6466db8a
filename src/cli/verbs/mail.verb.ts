import { listOutbox } from '../../platform/mail/index.js';
import { readIntegerOption } from '../args.js';
import type { DatabaseVerb } from '../verb.js';

type OutboxEntry = { id: number; to: string; subject: string; text: string; createdAt: string };
type MailResult = { messages: OutboxEntry[] };

/** `rampart mail`: the development outbox, where mail goes while no SMTP server is configured. */
export const mailVerb: DatabaseVerb<MailResult> = {
  name: 'mail',
  summary: 'List the development mail outbox (mail sent while RAMPART_SMTP_URL is not set)',
  usage: 'rampart mail [--limit <n>]',
  access: 'shared',
  needsCurrentSchema: true,
  options: { limit: { type: 'string', short: 'n', description: 'How many of the newest mails to show (default 20, at most 1000)' } },
  async run({ database, input, config, report }) {
    const limit = readIntegerOption(input, 'limit', 20, 1, 1000);
    if (config.smtpUrl) report.note('RAMPART_SMTP_URL is set: new mail goes to the SMTP server, not to this outbox.');
    const mails = await listOutbox(database.db, limit);
    return { messages: mails.map((mail) => ({ ...mail, createdAt: mail.createdAt.toISOString() })) };
  },
  render({ messages }) {
    if (messages.length === 0) return 'The outbox is empty.';
    return messages
      .map((mail) =>
        [`#${mail.id}  ${mail.createdAt}  to ${mail.to}`, `Subject: ${mail.subject}`, '', ...mail.text.split('\n').map((line) => `  ${line}`)].join('\n'),
      )
      .join('\n\n');
  },
};
