import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Config } from '../config.js';
import { deriveKey } from '../crypto/root-key.js';
import { ensureSigningKey } from '../crypto/signing-keys.js';
import type { Clock } from '../platform/clock.js';
import type { Database } from '../platform/db/index.js';
import type { JobQueue } from '../platform/jobs/index.js';
import type { Logger } from '../platform/log/logger.js';
import { auditRoutes } from './audit.routes.js';
import { AUDIT_CHECKPOINT_CRON, AUDIT_CHECKPOINT_JOB, createCheckpointer } from './checkpoints.js';
import { createHostEvents } from './host-events.js';

/**
 * The audit log's HTTP side and its checkpoint job: reading, host events (group-committed),
 * export, verification, signed checkpoints and proofs.
 */
export function createAuditLog(deps: { config: Config; database: Database; clock: Clock; jobs: JobQueue; rootKey: Buffer; logger: Logger }) {
  const db = deps.database.db;
  const signingKeys = deriveKey(deps.rootKey, 'signing-keys');
  const checkpointer = createCheckpointer({
    db,
    clock: deps.clock,
    policy: { everyEntries: deps.config.audit.checkpointEvery, everyMinutes: deps.config.audit.checkpointMinutes },
    signingKey: () => ensureSigningKey(db, signingKeys, 'audit-checkpoint'),
  });
  deps.jobs.register(AUDIT_CHECKPOINT_JOB, async () => {
    const signed = await checkpointer.run();
    if (signed > 0) deps.logger.info({ chains: signed }, 'audit checkpoints signed');
  });
  const hostEvents = createHostEvents({ db, clock: deps.clock, logger: deps.logger });

  return {
    async register(app: FastifyInstance, requireUserOrKey: (request: FastifyRequest) => Promise<void>): Promise<void> {
      app.addHook('onReady', async () => {
        // A database that is down at start must not stop the app from starting (readiness says 503).
        await deps.jobs.schedule(AUDIT_CHECKPOINT_JOB, AUDIT_CHECKPOINT_CRON, AUDIT_CHECKPOINT_JOB).catch((error: unknown) => app.log.warn({ err: error }, 'audit checkpoints not scheduled yet'));
      });
      await app.register(auditRoutes, { db, clock: deps.clock, hostEvents, requireUserOrKey });
    },
  };
}
