import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openPostgres, withTenant } from '../../src/platform/db/index.js';
import type { Database, DB } from '../../src/platform/db/index.js';
import { JobQueue, PermanentJobError, queueStats, Worker } from '../../src/platform/jobs/index.js';
import type { Job, JobHandler, JobsConfig } from '../../src/platform/jobs/index.js';
import { retryDelayMs } from '../../src/platform/jobs/jobs.service.js';
import { FakeClock } from '../helpers/clock.js';
import { createTestDatabase } from '../helpers/database.js';
import type { TestDatabase } from '../helpers/database.js';
import { captureLogs } from '../helpers/logs.js';

const LEASE_SECONDS = 60;
const CONFIG: JobsConfig = { pollIntervalMs: 10, concurrency: 4, leaseSeconds: LEASE_SECONDS };
const TENANT = '6f1c9a52-5d2e-4c1b-9a57-0c8e2d7b4a10';
const START = '2030-01-01T02:59:30.000Z';

let testDb: TestDatabase;
let db: Kysely<DB>;
let clock: FakeClock;

beforeAll(async () => {
  testDb = await createTestDatabase();
  db = testDb.database.db;
}, 60_000);
afterAll(async () => testDb.drop());
beforeEach(async () => {
  await sql`truncate jobs, job_schedules restart identity`.execute(db);
  clock = new FakeClock(START);
});

function createQueue(handlers: Record<string, JobHandler> = {}, database: Kysely<DB> = db): JobQueue {
  // random() = 1 makes the jitter take its largest value, so retry times are exact.
  const queue = new JobQueue({ db: database, clock, logger: captureLogs('silent').logger, config: CONFIG, random: () => 1 });
  for (const [name, handler] of Object.entries(handlers)) queue.register(name, handler);
  return queue;
}

function createWorker(queue: JobQueue, id?: string): Worker {
  return new Worker(queue, captureLogs('silent').logger, id);
}

async function jobRows() {
  return db.selectFrom('jobs').selectAll().orderBy('id').execute();
}

async function jobRow(id: number | null) {
  return db.selectFrom('jobs').selectAll().where('id', '=', id ?? -1).executeTakeFirstOrThrow();
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((done) => (resolve = done));
  return { promise, resolve };
}

/** A second connection pool on PostgreSQL, as a second node would have; the same handle on PGlite. */
async function withSecondNode<T>(work: (other: Kysely<DB>) => Promise<T>): Promise<T> {
  const second: Database | null = testDb.url ? openPostgres(testDb.url, 4) : null;
  try {
    return await work(second?.db ?? db);
  } finally {
    await second?.close();
  }
}

describe('enqueue', () => {
  it('commits a job with the transaction that enqueued it, and leaves none when it rolls back', async () => {
    const queue = createQueue();
    await expect(
      db.transaction().execute(async (trx) => {
        await queue.enqueue(trx, 'report.build', { n: 1 });
        throw new Error('the action failed');
      }),
    ).rejects.toThrow('the action failed');
    expect(await jobRows()).toHaveLength(0);

    await db.transaction().execute(async (trx) => queue.enqueue(trx, 'report.build', { n: 2 }));
    const rows = await jobRows();
    expect(rows.map((row) => row.payload)).toEqual([{ n: 2 }]);
    expect(rows[0]).toMatchObject({ state: 'pending', attempts: 0, run_at: clock.now(), created_at: clock.now() });
  });

  it('works inside a tenant-scoped transaction running as rampart_app, which may add jobs but not read the queue', async () => {
    const queue = createQueue();
    const ids = await withTenant(db, TENANT, async (trx) => [
      await queue.enqueue(trx, 'privacy.erase', { subject: 's1' }, { idempotencyKey: 'erase:s1' }),
      await queue.enqueue(trx, 'privacy.erase', { subject: 's1' }, { idempotencyKey: 'erase:s1' }),
    ]);
    expect(ids[0]).toEqual(expect.any(Number));
    expect(ids[1]).toBeNull();

    await expect(
      withTenant(db, TENANT, async (trx) => {
        await queue.enqueue(trx, 'privacy.erase', { subject: 's2' });
        throw new Error('rolled back');
      }),
    ).rejects.toThrow('rolled back');
    expect((await jobRows()).map((row) => row.idempotency_key)).toEqual(['erase:s1']);

    await expect(withTenant(db, TENANT, (trx) => trx.selectFrom('jobs').select('payload').execute())).rejects.toThrow(/permission denied/);
  });

  it('is a no-op for a known idempotency key, also after the job finished', async () => {
    const runs: Job[] = [];
    const queue = createQueue({ 'invoice.send': async (job) => void runs.push(job) });
    const worker = createWorker(queue);

    const first = await queue.enqueue(db, 'invoice.send', { invoice: 7 }, { idempotencyKey: 'invoice:7' });
    expect(await queue.enqueue(db, 'invoice.send', { invoice: 7 }, { idempotencyKey: 'invoice:7' })).toBeNull();
    expect(await worker.runOnce()).toBe(1);
    expect(await queue.enqueue(db, 'invoice.send', { invoice: 7 }, { idempotencyKey: 'invoice:7' })).toBeNull();
    clock.advance(60_000);
    expect(await worker.runOnce()).toBe(0);

    expect(runs).toEqual([{ id: first, name: 'invoice.send', payload: { invoice: 7 }, attempt: 1, idempotencyKey: 'invoice:7' }]);
    const row = await jobRow(first);
    expect(row).toMatchObject({ state: 'done', finished_at: new Date(clock.now().getTime() - 60_000) });
    // Payloads may carry personal data; a finished job keeps only what deduplication needs.
    expect(row.payload).toEqual({});
  });

  it('waits until runAt', async () => {
    const runs: number[] = [];
    const queue = createQueue({ later: async (job) => void runs.push(job.id) });
    const worker = createWorker(queue);
    await queue.enqueue(db, 'later', {}, { runAt: new Date(clock.now().getTime() + 3_600_000) });
    expect(await worker.runOnce()).toBe(0);
    clock.advance(3_600_000);
    expect(await worker.runOnce()).toBe(1);
    expect(runs).toHaveLength(1);
  });

  it('refuses a maxAttempts outside 1..100', async () => {
    await expect(createQueue().enqueue(db, 'x', {}, { maxAttempts: 0 })).rejects.toThrow(RangeError);
  });
});

describe('failures', () => {
  it('retries with a growing backoff, then succeeds', async () => {
    const attempts: number[] = [];
    const queue = createQueue({
      flaky: async (job) => {
        attempts.push(job.attempt);
        if (job.attempt < 3) throw new Error(`attempt ${job.attempt} failed`);
      },
    });
    const worker = createWorker(queue);
    const id = await queue.enqueue(db, 'flaky', {});

    expect(await worker.runOnce()).toBe(1);
    let row = await jobRow(id);
    expect(row).toMatchObject({ state: 'pending', attempts: 1, last_error: 'Error: attempt 1 failed', locked_by: null });
    const firstDelay = row.run_at.getTime() - clock.now().getTime();
    expect(firstDelay).toBe(retryDelayMs(1, () => 1));
    expect(await worker.runOnce()).toBe(0);

    clock.advance(firstDelay);
    expect(await worker.runOnce()).toBe(1);
    row = await jobRow(id);
    expect(row).toMatchObject({ state: 'pending', attempts: 2, last_error: 'Error: attempt 2 failed' });
    const secondDelay = row.run_at.getTime() - clock.now().getTime();
    expect(secondDelay).toBe(2 * firstDelay);

    clock.advance(secondDelay);
    expect(await worker.runOnce()).toBe(1);
    expect(await jobRow(id)).toMatchObject({ state: 'done', attempts: 3, last_error: null, finished_at: clock.now() });
    expect(attempts).toEqual([1, 2, 3]);
  });

  it('keeps the backoff between half and all of its capped exponential value', () => {
    for (const attempt of [1, 2, 5, 12, 100]) {
      const full = retryDelayMs(attempt, () => 1);
      expect(retryDelayMs(attempt, () => 0)).toBe(full / 2);
      expect(full).toBeLessThanOrEqual(60 * 60_000);
    }
    expect(retryDelayMs(2, () => 1)).toBe(2 * retryDelayMs(1, () => 1));
  });

  it('is dead after max attempts, with a scrubbed error', async () => {
    let runs = 0;
    const queue = createQueue({
      doomed: async () => {
        runs++;
        throw new Error('SMTP said no to jane.doe@example.com with Bearer abc.def.ghi');
      },
    });
    const worker = createWorker(queue);
    const id = await queue.enqueue(db, 'doomed', {}, { maxAttempts: 3 });
    for (let i = 0; i < 5; i++) {
      await worker.runOnce();
      clock.advance(60 * 60_000);
    }
    const row = await jobRow(id);
    expect(runs).toBe(3);
    expect(row).toMatchObject({ state: 'dead', attempts: 3, locked_by: null, locked_until: null, finished_at: expect.any(Date) });
    expect(row.last_error).toContain('SMTP said no');
    expect(row.last_error).not.toMatch(/jane|example\.com|abc\.def/);
  });

  it('is dead at once when the handler says a retry cannot help', async () => {
    const queue = createQueue({ bad: async () => Promise.reject(new PermanentJobError('payload is malformed')) });
    const id = await queue.enqueue(db, 'bad', {});
    await createWorker(queue).runOnce();
    expect(await jobRow(id)).toMatchObject({ state: 'dead', attempts: 1, last_error: 'PermanentJobError: payload is malformed', payload: {} });
  });

  it('buries a job with no handler instead of crashing, and keeps running the others', async () => {
    const runs: string[] = [];
    const queue = createQueue({ known: async (job) => void runs.push(job.name) });
    const worker = createWorker(queue);
    const unknown = await queue.enqueue(db, 'renamed.long.ago', {});
    const known = await queue.enqueue(db, 'known', {});
    expect(await worker.runOnce()).toBe(2);
    expect(await jobRow(unknown)).toMatchObject({ state: 'dead', last_error: expect.stringContaining('No handler is registered for job "renamed.long.ago"') });
    expect(await jobRow(known)).toMatchObject({ state: 'done' });
    expect(runs).toEqual(['known']);
  });
});

describe('leases', () => {
  it('takes up a job whose worker crashed once its lease runs out', async () => {
    const attempts: number[] = [];
    const queue = createQueue({ report: async (job) => void attempts.push(job.attempt) });
    const id = await queue.enqueue(db, 'report', {});
    // A worker that claims and then dies: nothing ever completes or fails the job.
    expect(await queue.claim('crashed-node', 10)).toHaveLength(1);

    const survivor = createWorker(queue, 'survivor');
    expect(await survivor.runOnce()).toBe(0);
    clock.advance(LEASE_SECONDS * 1000 - 1);
    expect(await survivor.runOnce()).toBe(0);
    clock.advance(1);
    expect(await survivor.runOnce()).toBe(1);
    expect(attempts).toEqual([2]);
    expect(await jobRow(id)).toMatchObject({ state: 'done', attempts: 2 });
  });

  it('buries a job abandoned on its final attempt rather than exceeding max attempts', async () => {
    const queue = createQueue({ report: async () => undefined });
    const id = await queue.enqueue(db, 'report', {}, { maxAttempts: 1 });
    await queue.claim('crashed-node', 10);
    clock.advance(LEASE_SECONDS * 1000);
    expect(await createWorker(queue).runOnce()).toBe(0);
    expect(await jobRow(id)).toMatchObject({ state: 'dead', attempts: 1, last_error: expect.stringContaining('lease ran out') });
  });

  it('does not let a stale worker complete a job that another worker took over and is still running', async () => {
    const staleStarted = deferred();
    const releaseStale = deferred();
    const ownerStarted = deferred();
    const releaseOwner = deferred();
    const slow = createQueue({
      job: async () => {
        staleStarted.resolve();
        await releaseStale.promise;
      },
    });
    const owner = createQueue({
      job: async () => {
        ownerStarted.resolve();
        await releaseOwner.promise;
        throw new Error('new owner failed');
      },
    });
    const id = await slow.enqueue(db, 'job', {});

    const staleRun = createWorker(slow, 'stale').runOnce();
    await staleStarted.promise;
    clock.advance(LEASE_SECONDS * 1000);
    const ownerRun = createWorker(owner, 'new-owner').runOnce();
    await ownerStarted.promise;

    releaseStale.resolve();
    await staleRun;
    expect(await jobRow(id)).toMatchObject({ state: 'running', attempts: 2, locked_by: 'new-owner' });

    releaseOwner.resolve();
    await ownerRun;
    expect(await jobRow(id)).toMatchObject({ state: 'pending', attempts: 2, last_error: 'Error: new owner failed' });
  });

  it('does not let a stale worker fail a job the new owner completed', async () => {
    const started = deferred();
    const release = deferred();
    const slow = createQueue({
      job: async () => {
        started.resolve();
        await release.promise;
        throw new Error('stale failure');
      },
    });
    const fast = createQueue({ job: async () => undefined });
    const id = await slow.enqueue(db, 'job', {});

    const staleRun = createWorker(slow, 'stale').runOnce();
    await started.promise;
    clock.advance(LEASE_SECONDS * 1000);
    expect(await createWorker(fast, 'new-owner').runOnce()).toBe(1);
    release.resolve();
    await staleRun;

    expect(await jobRow(id)).toMatchObject({ state: 'done', attempts: 2, last_error: null });
  });

  it('renews the lease of a long job so no other worker takes it while it runs', async () => {
    const started = deferred();
    const release = deferred();
    const runs: string[] = [];
    const busy = createQueue({
      long: async () => {
        runs.push('busy');
        started.resolve();
        await release.promise;
      },
    });
    const other = createQueue({ long: async () => void runs.push('other') });
    const id = await busy.enqueue(db, 'long', {});

    const busyWorker = createWorker(busy, 'busy');
    const run = busyWorker.runOnce();
    await started.promise;
    clock.advance(LEASE_SECONDS * 1000 - 1000);
    await busyWorker.renewLeases();
    clock.advance(2000);
    expect(await createWorker(other, 'other').runOnce()).toBe(0);
    release.resolve();
    await run;

    expect(runs).toEqual(['busy']);
    expect(await jobRow(id)).toMatchObject({ state: 'done', attempts: 1 });
  });
});

describe('concurrency', () => {
  it('never runs a job twice when two workers on two nodes drain the queue together', async () => {
    const runs = new Map<number, number>();
    const handler: JobHandler = async (job) => {
      runs.set(job.id, (runs.get(job.id) ?? 0) + 1);
      // Let the other worker's claims interleave with this one's.
      await yieldToEventLoop();
    };
    const ids: Array<number | null> = [];
    const setup = createQueue();
    for (let i = 0; i < 60; i++) ids.push(await setup.enqueue(db, 'work', { i }));

    await withSecondNode(async (otherDb) => {
      const workers = [createWorker(createQueue({ work: handler }), 'node-a'), createWorker(createQueue({ work: handler }, otherDb), 'node-b')];
      await Promise.all(
        workers.map(async (worker) => {
          while ((await worker.runOnce()) > 0);
        }),
      );
    });

    expect([...runs.keys()].sort((a, b) => a - b)).toEqual(ids);
    expect([...runs.values()].every((count) => count === 1)).toBe(true);
    expect(await queueStats(db)).toEqual({ pending: 0, running: 0, done: 60, dead: 0 });
  });
});

describe('schedules', () => {
  const SLOT = '2030-01-01T03:00:00.000Z';

  it('enqueues each slot exactly once even with two schedulers ticking at the same moment', async () => {
    await withSecondNode(async (otherDb) => {
      const nodeA = createQueue();
      const nodeB = createQueue({}, otherDb);
      await nodeA.schedule('nightly-report', '0 3 * * *', 'report.build', { kind: 'nightly' });
      await nodeB.schedule('nightly-report', '0 3 * * *', 'report.build', { kind: 'nightly' });

      expect(await nodeA.tick()).toBe(0);
      clock.set(SLOT);
      const first = await Promise.all([nodeA.tick(), nodeB.tick()]);
      expect(first[0] + first[1]).toBe(1);
      expect(await nodeA.tick()).toBe(0);

      clock.advance(24 * 3_600_000);
      const second = await Promise.all([nodeB.tick(), nodeA.tick()]);
      expect(second[0] + second[1]).toBe(1);
    });

    const rows = await jobRows();
    expect(rows.map((row) => [row.name, row.idempotency_key, row.payload, row.run_at.toISOString()])).toEqual([
      ['report.build', `schedule:nightly-report:${SLOT}`, { kind: 'nightly' }, SLOT],
      ['report.build', 'schedule:nightly-report:2030-01-02T03:00:00.000Z', { kind: 'nightly' }, '2030-01-02T03:00:00.000Z'],
    ]);
  });

  it('runs the scheduled job through the worker, which ticks the schedules on every poll', async () => {
    const seen: Job[] = [];
    const queue = createQueue({ 'report.build': async (job) => void seen.push(job) });
    await queue.schedule('nightly-report', '0 3 * * *', 'report.build');
    const worker = createWorker(queue);
    expect(await worker.runOnce()).toBe(0);
    clock.set(SLOT);
    expect(await worker.runOnce()).toBe(1);
    expect(await worker.runOnce()).toBe(0);
    expect(seen.map((job) => job.idempotencyKey)).toEqual([`schedule:nightly-report:${SLOT}`]);
  });

  it('collapses slots missed while nothing ran into one run for the latest slot', async () => {
    const queue = createQueue();
    await queue.schedule('nightly-report', '0 3 * * *', 'report.build');
    clock.set('2030-01-04T12:00:00.000Z');
    expect(await queue.tick()).toBe(1);
    expect((await jobRows()).map((row) => row.idempotency_key)).toEqual(['schedule:nightly-report:2030-01-04T03:00:00.000Z']);
    const schedule = await db.selectFrom('job_schedules').selectAll().executeTakeFirstOrThrow();
    expect(schedule.next_run_at.toISOString()).toBe('2030-01-05T03:00:00.000Z');
  });

  it('keeps a due slot across a restart, and moves the next run when the cron changes', async () => {
    const queue = createQueue();
    await queue.schedule('nightly-report', '0 3 * * *', 'report.build');
    clock.set('2030-01-01T03:30:00.000Z');
    // A restart upserts the same schedule again before any tick ran.
    await queue.schedule('nightly-report', '0 3 * * *', 'report.build');
    expect(await queue.tick()).toBe(1);

    await queue.schedule('nightly-report', '0 4 * * *', 'report.build');
    const schedule = await db.selectFrom('job_schedules').selectAll().executeTakeFirstOrThrow();
    expect(schedule).toMatchObject({ cron: '0 4 * * *' });
    expect(schedule.next_run_at.toISOString()).toBe('2030-01-01T04:00:00.000Z');
  });

  it('refuses an invalid cron expression', async () => {
    await expect(createQueue().schedule('broken', '61 * * * *', 'x')).rejects.toThrow(/Invalid cron expression "61 \* \* \* \*"/);
  });
});

describe('worker lifecycle', () => {
  it('polls once started, and stop() waits for the handler in flight', async () => {
    const started = deferred();
    const release = deferred();
    const events: string[] = [];
    const queue = createQueue({
      job: async () => {
        started.resolve();
        await release.promise;
        events.push('handler finished');
      },
    });
    const id = await queue.enqueue(db, 'job', {});
    const worker = createWorker(queue);
    worker.start();
    await started.promise;

    const stopped = worker.stop().then(() => events.push('stopped'));
    release.resolve();
    await stopped;

    expect(events).toEqual(['handler finished', 'stopped']);
    expect(await jobRow(id)).toMatchObject({ state: 'done' });
  });
});

describe('queueStats', () => {
  it('counts jobs per state', async () => {
    const queue = createQueue({ ok: async () => undefined, bad: async () => Promise.reject(new PermanentJobError('no')) });
    await queue.enqueue(db, 'ok', {});
    await queue.enqueue(db, 'bad', {});
    await createWorker(queue).runOnce();
    await queue.enqueue(db, 'ok', {});
    expect(await queueStats(db)).toEqual({ pending: 1, running: 0, done: 1, dead: 1 });
  });
});
