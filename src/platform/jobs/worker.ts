import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from '../log/logger.js';
import { PermanentJobError } from './jobs.service.js';
import type { ClaimedJob, JobQueue } from './jobs.service.js';

/**
 * Runs queued jobs: every poll it ticks the schedules and claims as many due jobs as it has free
 * slots (config.jobs.concurrency), every config.jobs.pollIntervalMs, sooner when a job finishes.
 * Leases of running jobs are renewed while their handlers work, so only a dead worker loses them.
 */
export class Worker {
  /** Names this worker in `jobs.locked_by`; unique per process so claims never collide. */
  readonly id: string;
  private readonly inFlight = new Map<ClaimedJob, Promise<void>>();
  private loop: Promise<void> | null = null;
  private stopping = false;
  private wake: (() => void) | null = null;
  private woken = false;
  private heartbeat: NodeJS.Timeout | null = null;

  constructor(
    private readonly queue: JobQueue,
    private readonly logger: Logger,
    id = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`,
  ) {
    this.id = id;
  }

  /** Starts polling in the background; call stop() before closing the database. */
  start(): void {
    if (this.loop) return;
    this.stopping = false;
    this.heartbeat = setInterval(() => void this.renewLeases(), (this.queue.config.leaseSeconds * 1000) / 3);
    this.heartbeat.unref();
    this.loop = this.runLoop();
  }

  /** Stops polling and waits for the handlers already running to finish and be recorded. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.signal();
    await this.loop;
    this.loop = null;
    await Promise.all(this.inFlight.values());
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = null;
  }

  /** One poll, then waits for the jobs it claimed; returns how many it ran. Tests drive the worker with it. */
  async runOnce(): Promise<number> {
    const runs = await this.poll();
    await Promise.all(runs);
    return runs.length;
  }

  /** Extends the lease of every job this worker is running; the heartbeat calls it. */
  async renewLeases(): Promise<void> {
    for (const claimed of this.inFlight.keys()) {
      try {
        if (!(await this.queue.renewLease(claimed))) {
          this.logger.warn({ job: describe(claimed) }, 'job lease was taken over by another worker; its outcome here will be discarded');
        }
      } catch (error) {
        this.logger.error({ err: error, job: describe(claimed) }, 'could not renew job lease');
      }
    }
  }

  private async runLoop(): Promise<void> {
    while (!this.stopping) {
      try {
        await this.poll();
      } catch (error) {
        this.logger.error({ err: error }, 'job poll failed; retrying at the next interval');
      }
      if (this.stopping) break;
      await this.idle(this.queue.config.pollIntervalMs);
    }
  }

  private async poll(): Promise<Array<Promise<void>>> {
    await this.queue.tick();
    const free = this.queue.config.concurrency - this.inFlight.size;
    if (free <= 0) return [];
    const claimed = await this.queue.claim(this.id, free);
    return claimed.map((job) => this.track(job));
  }

  private track(claimed: ClaimedJob): Promise<void> {
    const run = this.execute(claimed).finally(() => {
      this.inFlight.delete(claimed);
      // A freed slot may have work waiting for it.
      this.signal();
    });
    this.inFlight.set(claimed, run);
    return run;
  }

  // Never rejects: a failing job or an unreachable database must not take the worker down.
  private async execute(claimed: ClaimedJob): Promise<void> {
    const { job } = claimed;
    let failure: { error: unknown } | null = null;
    try {
      const handler = this.queue.handlerFor(job.name);
      if (!handler) throw new PermanentJobError(`No handler is registered for job "${job.name}"`);
      await handler({ ...job });
    } catch (error) {
      failure = { error };
    }
    try {
      if (!failure) {
        if (!(await this.queue.complete(claimed))) this.logLost(claimed);
        return;
      }
      const outcome = await this.queue.fail(claimed, failure.error);
      if (outcome === 'lost') this.logLost(claimed);
      else if (outcome === 'dead') this.logger.error({ err: failure.error, job: describe(claimed) }, 'job failed for good and is dead');
      else this.logger.warn({ err: failure.error, job: describe(claimed) }, 'job failed; it will be retried');
    } catch (error) {
      this.logger.error({ err: error, job: describe(claimed) }, 'could not record the job outcome; it runs again when its lease runs out');
    }
  }

  private logLost(claimed: ClaimedJob): void {
    this.logger.warn({ job: describe(claimed) }, 'job lease was taken over by another worker; this outcome was discarded');
  }

  private signal(): void {
    if (this.wake) this.wake();
    else this.woken = true;
  }

  private async idle(ms: number): Promise<void> {
    if (this.woken) {
      this.woken = false;
      return;
    }
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      this.wake = resolve;
      timer = setTimeout(resolve, ms);
    });
    clearTimeout(timer);
    this.wake = null;
  }
}

// Logs name the job, never its payload: payloads carry recipients and other personal data.
function describe({ job }: ClaimedJob): { id: number; name: string; attempt: number } {
  return { id: job.id, name: job.name, attempt: job.attempt };
}
