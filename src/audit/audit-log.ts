import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Config } from '../config.js';
import { archiveKey } from '../backup/index.js';
import { deriveKey } from '../crypto/root-key.js';
import { ensureSigningKey, listAllPublicKeys } from '../crypto/signing-keys.js';
import type { Clock } from '../platform/clock.js';
import type { Database } from '../platform/db/index.js';
import type { JobQueue } from '../platform/jobs/index.js';
import type { Logger } from '../platform/log/logger.js';
import { auditRoutes } from './audit.routes.js';
import { AUDIT_CHECKPOINT_CRON, AUDIT_CHECKPOINT_JOB, createCheckpointer } from './checkpoints.js';
import { createHostEvents } from './host-events.js';
import { AUDIT_RETENTION_CRON, AUDIT_RETENTION_JOB, createAuditRetention } from './retention.js';

/**
 * The audit log's HTTP side and its jobs: reading, host events (group-committed), export,
 * verification, signed checkpoints and proofs; retention into sealed archive files.
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
  const retention = createAuditRetention({
    db,
    clock: deps.clock,
    retentionDays: deps.config.audit.retentionDays,
    archiveDir: deps.config.audit.archiveDir,
    archiveKey: archiveKey(deps.rootKey, 'audit-archive'),
    publicKeys: () => listAllPublicKeys(db, 'audit-checkpoint'),
  });
  deps.jobs.register(AUDIT_RETENTION_JOB, async () => {
    for (const archived of await retention.run()) deps.logger.info({ chain: archived.tenant, archived_below: archived.below, file: archived.file, sha256: archived.sha256 }, 'audit entries archived');
  });
  const hostEvents = createHostEvents({ db, clock: deps.clock, logger: deps.logger });

  return {
    async register(app: FastifyInstance, requireUserOrKey: (request: FastifyRequest) => Promise<void>): Promise<void> {
      app.addHook('onReady', async () => {
        // A database that is down at start must not stop the app from starting (readiness says 503).
        await Promise.all([deps.jobs.schedule(AUDIT_CHECKPOINT_JOB, AUDIT_CHECKPOINT_CRON, AUDIT_CHECKPOINT_JOB), deps.jobs.schedule(AUDIT_RETENTION_JOB, AUDIT_RETENTION_CRON, AUDIT_RETENTION_JOB)]).catch((error: unknown) =>
          app.log.warn({ err: error }, 'audit jobs not scheduled yet'),
        );
      });
      await app.register(auditRoutes, { db, clock: deps.clock, hostEvents, requireUserOrKey });
    },
  };
}
