import { CronExpressionParser } from 'cron-parser';
import type { Kysely } from 'kysely';
import type { Config } from '../../config.js';
import type { Clock } from '../clock.js';
import type { DB, JobState } from '../db/schema.js';
import type { Logger } from '../log/logger.js';
import { scrubString } from '../log/scrub.js';
import {
  buryAbandonedJobs,
  buryJob,
  claimJobs,
  completeJob,
  countJobsByState,
  deleteSchedule,
  extendLease,
  insertJob,
  lockDueSchedules,
  retryJob,
  setScheduleNextRun,
  upsertSchedule,
} from './jobs.repository.js';
import type { ClaimedJobRow, JobClaim } from './jobs.repository.js';

export type JobsConfig = Config['jobs'];

/** What a handler receives. `attempt` counts from 1; a retry or a takeover gets the next number. */
export interface Job {
  id: number;
  name: string;
  payload: unknown;
  attempt: number;
  idempotencyKey: string | null;
}

/**
 * Does the work of one job. Delivery is at least once (a worker may die after the work and before
 * recording it), so a handler must be safe to run again for the same job.
 */
export type JobHandler = (job: Job) => Promise<void>;

export interface EnqueueOptions {
  /** A second enqueue with the same key is a no-op, also after the first job finished. */
  idempotencyKey?: string;
  runAt?: Date;
  maxAttempts?: number;
}

/** A job taken by a worker: what its handler sees, and the claim that guards its outcome. */
export interface ClaimedJob {
  job: Job;
  claim: JobClaim;
  maxAttempts: number;
}

export type FailureOutcome = 'retry' | 'dead' | 'lost';

export type QueueStats = Record<JobState, number>;

/** Thrown by a handler when trying again cannot help (a bad payload, a rejected recipient): the job goes dead at once. */
export class PermanentJobError extends Error {
  override readonly name = 'PermanentJobError';
}

export interface JobQueueDependencies {
  db: Kysely<DB>;
  clock: Clock;
  logger: Logger;
  config: JobsConfig;
  /** Source of retry jitter; tests fix it. */
  random?: () => number;
}

const DEFAULT_MAX_ATTEMPTS = 10;
const RETRY_BASE_MS = 5_000;
const RETRY_CAP_MS = 60 * 60_000;
const MAX_ERROR_LENGTH = 2_000;

/**
 * The durable queue: enqueues (inside the caller's transaction), claims and settles jobs, and
 * turns recurring schedules into jobs. Workers (worker.ts) drive it.
 */
export class JobQueue {
  readonly config: JobsConfig;
  private readonly db: Kysely<DB>;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly random: () => number;
  private readonly handlers = new Map<string, JobHandler>();

  constructor({ db, clock, logger, config, random = Math.random }: JobQueueDependencies) {
    this.db = db;
    this.clock = clock;
    this.logger = logger;
    this.config = config;
    this.random = random;
  }

  register(name: string, handler: JobHandler): void {
    if (this.handlers.has(name)) throw new Error(`A handler for job "${name}" is already registered`);
    this.handlers.set(name, handler);
  }

  handlerFor(name: string): JobHandler | undefined {
    return this.handlers.get(name);
  }

  /**
   * Adds a job through `executor`: pass the caller's transaction (a tenant-scoped one works too) so
   * the job commits with the action or not at all. Returns the job id, or null when a job with the
   * same idempotency key already exists.
   */
  async enqueue(executor: Kysely<DB>, name: string, payload: object, options: EnqueueOptions = {}): Promise<number | null> {
    const maxAttempts = options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
    if (!Number.isInteger(maxAttempts) || maxAttempts < 1 || maxAttempts > 100) {
      throw new RangeError(`maxAttempts must be a whole number from 1 to 100, got ${maxAttempts}`);
    }
    const now = this.clock.now();
    return insertJob(executor, {
      name,
      payload: JSON.stringify(payload),
      idempotencyKey: options.idempotencyKey ?? null,
      runAt: options.runAt ?? now,
      maxAttempts,
      createdAt: now,
    });
  }

  /** Creates or updates the recurring schedule `name`: `jobName` runs with `payload` at each UTC slot of `cron`. */
  async schedule(name: string, cron: string, jobName: string, payload: object = {}): Promise<void> {
    const nextRunAt = slotAfter(cron, this.clock.now());
    await upsertSchedule(this.db, { name, cron, jobName, payload: JSON.stringify(payload), nextRunAt });
  }

  /** Removes the recurring schedule `name` (an operator switched it off); jobs already enqueued still run. */
  async unschedule(name: string): Promise<void> {
    await deleteSchedule(this.db, name);
  }

  /**
   * Enqueues one run of every due schedule and moves it to its next slot; returns how many runs it
   * enqueued. Slots missed while no node was running collapse into one run, for the latest slot.
   * Safe to call from every node at once: the schedule row is locked, and the run's idempotency key
   * names its slot, so a slot is enqueued once whoever gets there.
   */
  async tick(): Promise<number> {
    const now = this.clock.now();
    return this.db.transaction().execute(async (trx) => {
      let enqueued = 0;
      for (const schedule of await lockDueSchedules(trx, now)) {
        const slot = latestSlot(schedule.cron, now);
        const id = await insertJob(trx, {
          name: schedule.job_name,
          payload: JSON.stringify(schedule.payload),
          idempotencyKey: `schedule:${schedule.name}:${slot.toISOString()}`,
          runAt: slot,
          maxAttempts: DEFAULT_MAX_ATTEMPTS,
          createdAt: now,
        });
        if (id !== null) enqueued++;
        await setScheduleNextRun(trx, schedule.name, slotAfter(schedule.cron, now));
      }
      return enqueued;
    });
  }

  /** Claims up to `limit` due jobs (including ones abandoned by a dead worker) for `workerId`. */
  async claim(workerId: string, limit: number): Promise<ClaimedJob[]> {
    const now = this.clock.now();
    const buried = await buryAbandonedJobs(this.db, now, 'The lease ran out during the final attempt (the worker stopped or crashed)');
    if (buried > 0) this.logger.error({ jobs: buried }, 'jobs abandoned on their final attempt are dead');
    const rows = await claimJobs(this.db, { lockedBy: workerId, now, lockedUntil: this.leaseEnd(now), limit });
    return rows.map((row) => toClaimedJob(row, workerId));
  }

  /** Records success; false when the lease was lost to another worker, whose outcome then stands. */
  async complete({ claim }: ClaimedJob): Promise<boolean> {
    return completeJob(this.db, claim, this.clock.now());
  }

  /** Records a failure: a retry after a growing delay, or dead once attempts run out or the error is permanent. */
  async fail({ claim, maxAttempts }: ClaimedJob, error: unknown): Promise<FailureOutcome> {
    const now = this.clock.now();
    const message = describeError(error);
    if (error instanceof PermanentJobError || claim.attempt >= maxAttempts) {
      return (await buryJob(this.db, claim, now, message)) ? 'dead' : 'lost';
    }
    const runAt = new Date(now.getTime() + retryDelayMs(claim.attempt, this.random));
    return (await retryJob(this.db, claim, runAt, message)) ? 'retry' : 'lost';
  }

  /** Extends the lease of a job still in progress; false when it was already lost. */
  async renewLease({ claim }: ClaimedJob): Promise<boolean> {
    return extendLease(this.db, claim, this.leaseEnd(this.clock.now()));
  }

  private leaseEnd(now: Date): Date {
    return new Date(now.getTime() + this.config.leaseSeconds * 1000);
  }
}

/** Number of jobs in each state, for `rampart status`. */
export async function queueStats(db: Kysely<DB>): Promise<QueueStats> {
  const stats: QueueStats = { pending: 0, running: 0, done: 0, dead: 0 };
  for (const { state, count } of await countJobsByState(db)) stats[state] = count;
  return stats;
}

/**
 * Delay before the retry that follows attempt `attempt`: exponential, capped at an hour, with
 * jitter so that jobs failing together on one outage do not all come back at the same moment.
 * Half the delay is fixed so the backoff still grows whatever the jitter draws.
 */
export function retryDelayMs(attempt: number, random: () => number = Math.random): number {
  const exponential = Math.min(RETRY_CAP_MS, RETRY_BASE_MS * 2 ** (attempt - 1));
  return Math.round(exponential / 2 + (random() * exponential) / 2);
}

function toClaimedJob(row: ClaimedJobRow, lockedBy: string): ClaimedJob {
  return {
    job: { id: row.id, name: row.name, payload: row.payload, attempt: row.attempts, idempotencyKey: row.idempotency_key },
    claim: { id: row.id, lockedBy, attempt: row.attempts },
    maxAttempts: row.max_attempts,
  };
}

// The error column is read by operators and kept with the job: no secret or address belongs there.
function describeError(error: unknown): string {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return scrubString(text).slice(0, MAX_ERROR_LENGTH);
}

function parseCron(cron: string, currentDate: Date) {
  try {
    return CronExpressionParser.parse(cron, { currentDate, tz: 'UTC' });
  } catch (error) {
    throw new Error(`Invalid cron expression "${cron}": ${(error as Error).message}`);
  }
}

function slotAfter(cron: string, time: Date): Date {
  return parseCron(cron, time).next().toDate();
}

function latestSlot(cron: string, notAfter: Date): Date {
  // prev() is strictly before its start, so start just after `notAfter` to include it.
  return parseCron(cron, new Date(notAfter.getTime() + 1)).prev().toDate();
}
