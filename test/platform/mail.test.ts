import type { AddressInfo } from 'node:net';
import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import { SMTPServer } from 'smtp-server';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { DB } from '../../src/platform/db/index.js';
import { JobQueue, Worker } from '../../src/platform/jobs/index.js';
import { createMailer, listOutbox, MAIL_SEND_JOB } from '../../src/platform/mail/index.js';
import type { Mailer } from '../../src/platform/mail/index.js';
import { FakeClock } from '../helpers/clock.js';
import { createTestDatabase } from '../helpers/database.js';
import type { TestDatabase } from '../helpers/database.js';
import { captureLogs } from '../helpers/logs.js';

const MAIL_FROM = 'Rampart <no-reply@rampart.test>';
const RECIPIENT = 'alice.martin@customer.test';
const BODY = 'Hello Alice, your reset code is 493817.';
const HOUR = 3_600_000;

interface Delivery {
  to: string[];
  raw: string;
}

interface TestSmtpServer {
  port: number;
  deliveries: Delivery[];
  close(): Promise<void>;
}

/** A real SMTP server on 127.0.0.1 that records what it accepts and refuses recipients at @bounce.test. */
async function startSmtpServer(port = 0): Promise<TestSmtpServer> {
  const deliveries: Delivery[] = [];
  const server = new SMTPServer({
    authOptional: true,
    // Plain SMTP on loopback: STARTTLS would need a certificate the client trusts.
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onRcptTo(address, _session, callback) {
      if (address.address.endsWith('@bounce.test')) {
        callback(Object.assign(new Error('5.1.1 No such mailbox'), { responseCode: 550 }));
        return;
      }
      callback();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        deliveries.push({ to: session.envelope.rcptTo.map((rcpt) => rcpt.address), raw: Buffer.concat(chunks).toString() });
        callback();
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return {
    port: (server.server.address() as AddressInfo).port,
    deliveries,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

let testDb: TestDatabase;
let db: Kysely<DB>;
let clock: FakeClock;
let logs: ReturnType<typeof captureLogs>;
let servers: TestSmtpServer[];

beforeAll(async () => {
  testDb = await createTestDatabase();
  db = testDb.database.db;
}, 60_000);
afterAll(async () => testDb.drop());
beforeEach(async () => {
  await sql`truncate jobs, mail_outbox restart identity`.execute(db);
  clock = new FakeClock('2030-03-01T09:00:00.000Z');
  logs = captureLogs('debug');
  servers = [];
});
afterEach(async () => {
  await Promise.all(servers.map((server) => server.close()));
});

const SEALING_KEY = Buffer.alloc(32, 9);

function createMailSystem(smtpUrl: string | null): { mailer: Mailer; worker: Worker; queue: JobQueue } {
  const queue = new JobQueue({ db, clock, logger: logs.logger, config: { pollIntervalMs: 10, concurrency: 2, leaseSeconds: 60 } });
  const mailer = createMailer({ queue, db, clock, smtpUrl, mailFrom: MAIL_FROM, sealingKey: SEALING_KEY });
  return { mailer, queue, worker: new Worker(queue, logs.logger) };
}

async function smtp(port?: number): Promise<TestSmtpServer> {
  const server = await startSmtpServer(port);
  servers.push(server);
  return server;
}

async function mailJob() {
  return db.selectFrom('jobs').selectAll().where('name', '=', MAIL_SEND_JOB).executeTakeFirstOrThrow();
}

describe('mail through SMTP', () => {
  it('delivers a queued mail once, and a second send with the same key sends nothing', async () => {
    const server = await smtp();
    const { mailer, worker } = createMailSystem(`smtp://127.0.0.1:${server.port}`);

    await db.transaction().execute(async (trx) => mailer.sendMail(trx, { to: RECIPIENT, subject: 'Reset your password', text: BODY }, 'reset:1'));
    expect(server.deliveries).toHaveLength(0);
    expect(await worker.runOnce()).toBe(1);
    await mailer.sendMail(db, { to: RECIPIENT, subject: 'Reset your password', text: BODY }, 'reset:1');
    clock.advance(HOUR);
    expect(await worker.runOnce()).toBe(0);

    expect(server.deliveries).toHaveLength(1);
    const [delivery] = server.deliveries;
    expect(delivery!.to).toEqual([RECIPIENT]);
    expect(delivery!.raw).toContain('Subject: Reset your password');
    expect(delivery!.raw).toContain(BODY);
    expect(delivery!.raw).toMatch(/^From: Rampart <no-reply@rampart\.test>/m);
    expect(delivery!.raw).toMatch(/^Message-ID: <rampart-job-\d+@rampart\.test>/m);
    expect(await mailJob()).toMatchObject({ state: 'done', payload: {} });
  });

  it('sends nothing when the transaction that queued the mail rolls back', async () => {
    const server = await smtp();
    const { mailer, worker } = createMailSystem(`smtp://127.0.0.1:${server.port}`);
    await expect(
      db.transaction().execute(async (trx) => {
        await mailer.sendMail(trx, { to: RECIPIENT, subject: 'Invitation', text: BODY });
        throw new Error('invitation not created');
      }),
    ).rejects.toThrow('invitation not created');
    expect(await worker.runOnce()).toBe(0);
    expect(server.deliveries).toHaveLength(0);
  });

  it('keeps retrying while the SMTP server is down, then delivers exactly once when it is back', async () => {
    // A port that was just free: nothing listens there until the server "comes back".
    const probe = await startSmtpServer();
    const port = probe.port;
    await probe.close();
    const { mailer, worker } = createMailSystem(`smtp://127.0.0.1:${port}`);
    await mailer.sendMail(db, { to: RECIPIENT, subject: 'Your export is ready', text: BODY });

    expect(await worker.runOnce()).toBe(1);
    expect(await mailJob()).toMatchObject({ state: 'pending', attempts: 1, last_error: expect.stringMatching(/ECONNREFUSED|connect/i) });
    expect(await worker.runOnce()).toBe(0);
    clock.advance(HOUR);
    expect(await worker.runOnce()).toBe(1);
    expect(await mailJob()).toMatchObject({ state: 'pending', attempts: 2 });

    const server = await smtp(port);
    clock.advance(HOUR);
    expect(await worker.runOnce()).toBe(1);
    clock.advance(HOUR);
    expect(await worker.runOnce()).toBe(0);

    expect(server.deliveries).toHaveLength(1);
    expect(server.deliveries[0]!.raw).toContain(BODY);
    expect(await mailJob()).toMatchObject({ state: 'done', attempts: 3 });
  });

  it('gives up at once on a recipient the server rejects for good, keeping the address out of the error', async () => {
    const server = await smtp();
    const { mailer, worker } = createMailSystem(`smtp://127.0.0.1:${server.port}`);
    await mailer.sendMail(db, { to: 'nobody@bounce.test', subject: 'Hello', text: BODY });
    expect(await worker.runOnce()).toBe(1);
    const job = await mailJob();
    expect(job).toMatchObject({ state: 'dead', attempts: 1 });
    expect(job.last_error).toContain('550');
    expect(job.last_error).not.toContain('bounce.test');
    expect(logs.raw()).toContain('job failed for good and is dead');
    expect(logs.raw()).not.toContain('bounce.test');
    expect(server.deliveries).toHaveLength(0);
  });

  it('never logs recipients or bodies, even when delivery fails', async () => {
    const probe = await startSmtpServer();
    await probe.close();
    const { mailer, worker } = createMailSystem(`smtp://127.0.0.1:${probe.port}`);
    await mailer.sendMail(db, { to: RECIPIENT, subject: 'Subject line', text: BODY });
    await worker.runOnce();
    expect(logs.raw()).toContain('job failed; it will be retried');
    expect(logs.raw()).not.toContain('alice');
    expect(logs.raw()).not.toContain('493817');
  });
});

describe('mail without SMTP (development outbox)', () => {
  it('puts the mail in the outbox that `rampart mail` lists, once per job', async () => {
    const { mailer, worker, queue } = createMailSystem(null);
    await db.transaction().execute(async (trx) => mailer.sendMail(trx, { to: RECIPIENT, subject: 'Welcome', text: BODY }));
    await mailer.sendMail(db, { to: 'bob@customer.test', subject: 'Second', text: 'Hi Bob' });
    // Queued messages hold live links: sealed in the database, never in clear.
    const queued = await db.selectFrom('jobs').select(['id', 'payload']).where('name', '=', MAIL_SEND_JOB).orderBy('id').execute();
    expect(JSON.stringify(queued)).not.toContain(RECIPIENT);
    expect(JSON.stringify(queued)).not.toContain('Welcome');
    expect(await worker.runOnce()).toBe(2);

    const outbox = await listOutbox(db, 10);
    expect(outbox.map(({ to, subject, text }) => ({ to, subject, text }))).toEqual([
      { to: 'bob@customer.test', subject: 'Second', text: 'Hi Bob' },
      { to: RECIPIENT, subject: 'Welcome', text: BODY },
    ]);
    expect(outbox[0]!.createdAt).toEqual(clock.now());
    expect(await listOutbox(db, 1)).toHaveLength(1);

    // At-least-once delivery may run a job twice; the outbox still shows its mail once.
    const handler = queue.handlerFor(MAIL_SEND_JOB)!;
    await handler({ id: queued[0]!.id, name: MAIL_SEND_JOB, payload: queued[0]!.payload, attempt: 2, idempotencyKey: null });
    expect(await listOutbox(db, 10)).toHaveLength(2);
    // A payload sealed by another instance (or tampered with) is dead at once, not retried.
    await expect(handler({ id: 99, name: MAIL_SEND_JOB, payload: { sealed: 'AAAA' }, attempt: 1, idempotencyKey: null })).rejects.toThrow(/sealed/);
  });

  it('refuses a recipient list or a multi-line subject before queueing anything', async () => {
    const { mailer } = createMailSystem(null);
    await expect(mailer.sendMail(db, { to: `${RECIPIENT}, eve@attacker.test`, subject: 'Hi', text: BODY })).rejects.toThrow(TypeError);
    await expect(mailer.sendMail(db, { to: 'Eve <eve@attacker.test>', subject: 'Hi', text: BODY })).rejects.toThrow(TypeError);
    await expect(mailer.sendMail(db, { to: RECIPIENT, subject: 'Hi\r\nBcc: eve@attacker.test', text: BODY })).rejects.toThrow(TypeError);
    expect(await db.selectFrom('jobs').select('id').execute()).toHaveLength(0);
  });
});
