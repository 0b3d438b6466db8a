/** The durable queue: enqueue in the caller's transaction, register handlers, define recurring schedules. */
export { JobQueue } from './jobs.service.js';
/** Thrown by a handler when a retry cannot help; the job goes dead at once. */
export { PermanentJobError } from './jobs.service.js';
/** Counts of jobs per state, for `rampart status`. */
export { queueStats } from './jobs.service.js';
/** Polls the queue and runs handlers; start() after listen, stop() before closing the database. */
export { Worker } from './worker.js';
export type { EnqueueOptions, Job, JobHandler, JobQueueDependencies, JobsConfig, QueueStats } from './jobs.service.js';
