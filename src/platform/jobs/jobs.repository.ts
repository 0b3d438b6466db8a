import type { Kysely, Transaction, UpdateQueryBuilder, UpdateResult } from 'kysely';
import type { DB, JobState } from '../db/schema.js';

export interface NewJobRow {
  name: string;
  /** JSON text. */
  payload: string;
  idempotencyKey: string | null;
  runAt: Date;
  maxAttempts: number;
  createdAt: Date;
}

/** One claim of one job: every claim bumps `attempts`, so the pair (lockedBy, attempt) is unique. */
export interface JobClaim {
  id: number;
  lockedBy: string;
  attempt: number;
}

export interface ClaimedJobRow {
  id: number;
  name: string;
  payload: unknown;
  attempts: number;
  max_attempts: number;
  idempotency_key: string | null;
}

export interface ScheduleRow {
  name: string;
  cron: string;
  job_name: string;
  payload: unknown;
  next_run_at: Date;
}

/**
 * Inserts a job unless one with the same idempotency key exists; returns its id, or null when it
 * was a duplicate. Runs as rampart_app inside tenant transactions, which may INSERT and read `id`
 * only: an explicit conflict target would need SELECT on idempotency_key (which would let any
 * tenant read every key), so the bare `on conflict do nothing` is used. It is equivalent here
 * because the key is the only unique column a caller can fill (the id is generated always).
 */
export async function insertJob(executor: Kysely<DB>, job: NewJobRow): Promise<number | null> {
  const row = await executor
    .insertInto('jobs')
    .values({
      name: job.name,
      payload: job.payload,
      idempotency_key: job.idempotencyKey,
      run_at: job.runAt,
      max_attempts: job.maxAttempts,
      created_at: job.createdAt,
    })
    .onConflict((conflict) => conflict.doNothing())
    .returning('id')
    .executeTakeFirst();
  return row?.id ?? null;
}

/**
 * Takes up to `limit` due jobs for `lockedBy`: pending ones whose time has come, and running ones
 * whose lease ran out (their worker died) with attempts left. SKIP LOCKED lets several workers
 * claim at once without waiting on, or taking, each other's rows.
 */
export async function claimJobs(
  db: Kysely<DB>,
  claim: { lockedBy: string; now: Date; lockedUntil: Date; limit: number },
): Promise<ClaimedJobRow[]> {
  return db
    .with('candidates', (qb) =>
      qb
        .selectFrom('jobs')
        .select('id')
        .where((eb) =>
          eb.or([
            eb.and([eb('state', '=', 'pending'), eb('run_at', '<=', claim.now)]),
            eb.and([eb('state', '=', 'running'), eb('locked_until', '<=', claim.now), eb('attempts', '<', eb.ref('max_attempts'))]),
          ]),
        )
        .orderBy('run_at')
        .orderBy('id')
        .limit(claim.limit)
        .forUpdate()
        .skipLocked(),
    )
    .updateTable('jobs')
    .from('candidates')
    .whereRef('jobs.id', '=', 'candidates.id')
    .set((eb) => ({
      state: 'running',
      attempts: eb('jobs.attempts', '+', 1),
      locked_by: claim.lockedBy,
      locked_until: claim.lockedUntil,
    }))
    .returning(['jobs.id', 'jobs.name', 'jobs.payload', 'jobs.attempts', 'jobs.max_attempts', 'jobs.idempotency_key'])
    .execute();
}

/**
 * Buries running jobs whose lease ran out during their final attempt: taking them up again would
 * exceed max_attempts, and a job that keeps killing its worker must stop somewhere.
 */
export async function buryAbandonedJobs(db: Kysely<DB>, now: Date, error: string): Promise<number> {
  const result = await db
    .updateTable('jobs')
    .set({ state: 'dead', last_error: error, finished_at: now, locked_by: null, locked_until: null })
    .where('state', '=', 'running')
    .where('locked_until', '<=', now)
    .where((eb) => eb('attempts', '>=', eb.ref('max_attempts')))
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

/**
 * Marks a claimed job done. The payload is cleared because it may hold personal data (a mail body,
 * a recipient) that has no reason to outlive the work; the row stays so its idempotency key keeps
 * refusing duplicates. Returns false when the claim was lost to another worker.
 */
export async function completeJob(db: Kysely<DB>, claim: JobClaim, now: Date): Promise<boolean> {
  const result = await whereClaimHeld(
    db.updateTable('jobs').set({ state: 'done', payload: '{}', last_error: null, finished_at: now, locked_by: null, locked_until: null }),
    claim,
  ).executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

/** Puts a claimed job back to wait until `runAt`; false when the claim was lost. */
export async function retryJob(db: Kysely<DB>, claim: JobClaim, runAt: Date, error: string): Promise<boolean> {
  const result = await whereClaimHeld(
    db.updateTable('jobs').set({ state: 'pending', run_at: runAt, last_error: error, locked_by: null, locked_until: null }),
    claim,
  ).executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

/** Gives up on a claimed job; false when the claim was lost. */
export async function buryJob(db: Kysely<DB>, claim: JobClaim, now: Date, error: string): Promise<boolean> {
  const result = await whereClaimHeld(
    // A dead job is never run again; like a finished one, it keeps no payload (it may hold personal data).
    db.updateTable('jobs').set({ state: 'dead', payload: '{}', last_error: error, finished_at: now, locked_by: null, locked_until: null }),
    claim,
  ).executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

/** Moves the lease of a job still being worked on; false when the claim was lost. */
export async function extendLease(db: Kysely<DB>, claim: JobClaim, lockedUntil: Date): Promise<boolean> {
  const result = await whereClaimHeld(db.updateTable('jobs').set({ locked_until: lockedUntil }), claim).executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

// Without this guard a worker whose lease ran out and was taken over would overwrite the new
// owner's outcome when it finally finishes.
function whereClaimHeld(query: JobsUpdate, claim: JobClaim): JobsUpdate {
  return query
    .where('id', '=', claim.id)
    .where('state', '=', 'running')
    .where('locked_by', '=', claim.lockedBy)
    .where('attempts', '=', claim.attempt);
}

type JobsUpdate = UpdateQueryBuilder<DB, 'jobs', 'jobs', UpdateResult>;

/** Number of jobs in each state. */
export async function countJobsByState(db: Kysely<DB>): Promise<Array<{ state: JobState; count: number }>> {
  return db
    .selectFrom('jobs')
    .select((eb) => ['state', eb.fn.countAll<number>().as('count')])
    .groupBy('state')
    .execute();
}

/**
 * Creates or updates a schedule. An unchanged cron keeps its stored next run, so a restart does
 * not skip a slot that fell due while the service was down.
 */
export async function upsertSchedule(
  db: Kysely<DB>,
  schedule: { name: string; cron: string; jobName: string; payload: string; nextRunAt: Date },
): Promise<void> {
  await db
    .insertInto('job_schedules')
    .values({
      name: schedule.name,
      cron: schedule.cron,
      job_name: schedule.jobName,
      payload: schedule.payload,
      next_run_at: schedule.nextRunAt,
    })
    .onConflict((conflict) =>
      conflict.column('name').doUpdateSet((eb) => ({
        cron: eb.ref('excluded.cron'),
        job_name: eb.ref('excluded.job_name'),
        payload: eb.ref('excluded.payload'),
        next_run_at: eb
          .case()
          .when('job_schedules.cron', '=', eb.ref('excluded.cron'))
          .then(eb.ref('job_schedules.next_run_at'))
          .else(eb.ref('excluded.next_run_at'))
          .end(),
      })),
    )
    .execute();
}

export async function deleteSchedule(db: Kysely<DB>, name: string): Promise<void> {
  await db.deleteFrom('job_schedules').where('name', '=', name).execute();
}

/** Schedules due at `now`, locked until the transaction ends; those another node holds are skipped. */
export async function lockDueSchedules(trx: Transaction<DB>, now: Date): Promise<ScheduleRow[]> {
  return trx
    .selectFrom('job_schedules')
    .select(['name', 'cron', 'job_name', 'payload', 'next_run_at'])
    .where('next_run_at', '<=', now)
    .orderBy('name')
    .forUpdate()
    .skipLocked()
    .execute();
}

export async function setScheduleNextRun(trx: Transaction<DB>, name: string, nextRunAt: Date): Promise<void> {
  await trx.updateTable('job_schedules').set({ next_run_at: nextRunAt }).where('name', '=', name).execute();
}
