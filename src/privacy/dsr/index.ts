import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import { deriveKey } from '../../crypto/root-key.js';
import { ensureSigningKey, listAllPublicKeys } from '../../crypto/signing-keys.js';
import type { Clock } from '../../platform/clock.js';
import type { DB } from '../../platform/db/index.js';
import type { JobQueue } from '../../platform/jobs/index.js';
import type { Mailer } from '../../platform/mail/index.js';
import type { Vault } from '../../vault/index.js';
import type { Webhooks } from '../../webhooks/index.js';
import { suppressionRoutes } from '../suppressions.routes.js';
import { createSuppressions } from '../suppressions.service.js';
import type { MemberDataSource, ConsentHistorySource } from './bundle.js';
import { createDsrExports } from './dsr-export.service.js';
import { dsrRoutes } from './dsr.routes.js';
import { createDsr } from './dsr.service.js';
import { registerErasureJob } from './erasure.job.js';
import { registerReminderJob } from './reminders.job.js';

export type { MemberDataSource, ConsentHistorySource } from './bundle.js';
export { verifyReceipt } from './receipt.js';
export type { ErasureReceipt } from './receipt.js';
export { ERASURE_JOB } from './dsr.service.js';
export { REMINDER_JOB } from './reminders.job.js';

export interface DsrModuleDependencies {
  db: Kysely<DB>;
  clock: Clock;
  jobs: JobQueue;
  mailer: Mailer;
  vault: Vault;
  webhooks: Webhooks;
  rootKey: Buffer;
  publicUrl: string;
  memberData: MemberDataSource;
  /** Extension point: the consent module's history of a subject (null until it offers one). */
  consentHistory: ConsentHistorySource | null;
}

/** Builds data-subject requests, the suppression list, and their jobs (erasure, deadline reminders). */
export function createDsrModule(deps: DsrModuleDependencies) {
  const suppressions = createSuppressions({ db: deps.db, clock: deps.clock, rootKey: deps.rootKey });
  const dsr = createDsr({ db: deps.db, clock: deps.clock, jobs: deps.jobs, vault: deps.vault, webhooks: deps.webhooks, suppressions, sealingKey: deriveKey(deps.rootKey, 'dsr') });
  const signingSealKey = deriveKey(deps.rootKey, 'signing-keys');
  registerErasureJob({ db: deps.db, clock: deps.clock, jobs: deps.jobs, vault: deps.vault, webhooks: deps.webhooks, dsr, signingKey: () => ensureSigningKey(deps.db, signingSealKey, 'document-seal') });
  const scheduleReminders = registerReminderJob({ db: deps.db, clock: deps.clock, jobs: deps.jobs, mailer: deps.mailer, publicUrl: deps.publicUrl });
  const bundleDeps = { db: deps.db, clock: deps.clock, vault: deps.vault, suppressions, consentHistory: deps.consentHistory, memberData: deps.memberData };
  const exportRequest = createDsrExports({ ...bundleDeps, dsr });

  return {
    dsr,
    suppressions,
    async register(app: FastifyInstance, requireUserOrKey: (request: FastifyRequest) => Promise<void>): Promise<void> {
      app.addHook('onReady', async () => {
        // A database that is down at start must not stop the app from starting (readiness says 503).
        await scheduleReminders().catch((error: unknown) => app.log.warn({ err: error }, 'data-subject request reminders not scheduled yet'));
      });
      await app.register(dsrRoutes, { dsr, exportRequest, receiptKeys: async () => (await listAllPublicKeys(deps.db, 'document-seal')) as Array<Record<string, unknown>>, requireUserOrKey });
      await app.register(suppressionRoutes, { suppressions, requireUserOrKey });
    },
  };
}
