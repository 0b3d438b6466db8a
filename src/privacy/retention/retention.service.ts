import type { Kysely } from 'kysely';
import { recordAuditEvent } from '../../audit/index.js';
import type { Clock } from '../../platform/clock.js';
import { withTenant } from '../../platform/db/index.js';
import type { DB } from '../../platform/db/index.js';
import type { RequestMeta } from '../../platform/http/index.js';
import type { JobQueue } from '../../platform/jobs/index.js';
import type { Logger } from '../../platform/log/logger.js';
import { recordOrgAction } from '../../tenancy/index.js';
import type { OrgContext } from '../../tenancy/index.js';
import { listTenantsWithKeys } from '../../vault/index.js';
import type { OrgData } from '../../vault/index.js';
import type { PrivacySettings } from '../settings/settings.service.js';
import * as repo from './retention.repository.js';
import { retentionErrors } from './retention.errors.js';

export const RETENTION_JOB = 'privacy.retention';
/** Once a day at a quiet hour (UTC), apart from the audit log's own retention. */
export const RETENTION_CRON = '41 2 * * *';

// Rows per delete: each batch is its own short transaction, so a large backlog never holds locks long.
const BATCH = 500;

export interface RetentionOutcome {
  tenantId: string;
  runOn: string;
  recordsDeleted: number;
  filesDeleted: number;
  held: number;
}

export interface LegalHoldView {
  collection: string;
  key: string;
  held_by: string;
  held_at: string;
}

/**
 * Retention of vault records and files: each org keeps records `retention_days` since their last
 * write (per collection or category when overridden), files likewise (`files` override). The daily
 * run deletes what is older, never what is under legal hold, in batches whose counts are kept in
 * the day's run row; the run's one audit entry commits with the mark that it finished. A rerun of
 * the same day resumes where a crash left it, or does nothing once it finished.
 */
export function createRetention(deps: { db: Kysely<DB>; clock: Clock; orgData: OrgData; settings: PrivacySettings; logger: Logger }) {
  const { db, clock } = deps;

  async function runTenant(tenantId: string, runOn: string): Promise<RetentionOutcome | null> {
    const plan = await withTenant(db, tenantId, async (trx) => {
      // Key holders that are no org (the audit log's platform chain) have no records to keep.
      const org = await trx.selectFrom('tenants').select('retention_days').where('tenant_id', '=', tenantId).executeTakeFirst();
      if (!org) return null;
      const run = await repo.startRun(trx, tenantId, runOn, clock.now());
      if (run.finished_at) return null;
      return { start: run.started_at, orgDays: org.retention_days, overrides: (await deps.settings.read(trx, tenantId)).retention };
    });
    if (!plan) return null;
    for (let deleted = BATCH; deleted === BATCH; ) {
      deleted = await withTenant(db, tenantId, async (trx) => {
        const count = await repo.deleteExpiredRecords(trx, tenantId, plan.start, plan.overrides, plan.orgDays, BATCH);
        await repo.addToRun(trx, tenantId, runOn, { records: count, files: 0 });
        return count;
      });
    }
    for (let deleted = BATCH; deleted === BATCH; ) {
      const blobs = await withTenant(db, tenantId, async (trx) => {
        const removed = await repo.deleteExpiredFiles(trx, tenantId, plan.start, plan.overrides.files ?? plan.orgDays, BATCH);
        await repo.addToRun(trx, tenantId, runOn, { records: 0, files: removed.length });
        return removed;
      });
      // After the commit, as the vault does: a crash here leaves unreferenced encrypted blobs, never a row without its blob.
      for (const blobId of blobs) await deps.orgData.removeBlob(tenantId, blobId);
      deleted = blobs.length;
    }
    return withTenant(db, tenantId, async (trx) => {
      const held = await repo.countHeldExpired(trx, tenantId, plan.start, plan.overrides, plan.orgDays);
      const finished = await repo.finishRun(trx, tenantId, runOn, clock.now());
      if (!finished) return null;
      const outcome = { tenantId, runOn, recordsDeleted: finished.records_deleted, filesDeleted: finished.files_deleted, held };
      await recordAuditEvent(trx, {
        realm: 'user',
        tenantId,
        principalId: null,
        actor: { type: 'system', id: null },
        action: 'retention.applied',
        ip: null,
        userAgent: null,
        metadata: { run_on: runOn, started_at: finished.started_at.toISOString(), records_deleted: outcome.recordsDeleted, files_deleted: outcome.filesDeleted, held },
        subjectId: null,
        at: clock.now(),
      });
      return outcome;
    });
  }

  return {
    runTenant,

    /** The day's run for every org with vault data; returns what each finished run deleted. */
    async run(): Promise<RetentionOutcome[]> {
      const runOn = clock.now().toISOString().slice(0, 10);
      const outcomes: RetentionOutcome[] = [];
      for (const tenantId of await listTenantsWithKeys(db)) {
        const outcome = await runTenant(tenantId, runOn);
        if (outcome) outcomes.push(outcome);
      }
      return outcomes;
    },

    /** Puts a record (or a file: collection "@files") under legal hold; 409 if it already is. */
    async hold(context: OrgContext, target: { collection: string; key: string; reason: string }, meta: RequestMeta): Promise<LegalHoldView> {
      return withTenant(db, context.tenantId, async (trx) => {
        const at = clock.now();
        const inserted = await repo.insertHold(trx, { tenantId: context.tenantId, collection: target.collection, key: target.key, reason: target.reason, heldBy: context.actor.id, at });
        if (!inserted) throw retentionErrors.already_held();
        await recordOrgAction(trx, at, context, 'legal_hold.set', meta, { collection: target.collection, key: target.key, reason: target.reason });
        return { collection: target.collection, key: target.key, held_by: context.actor.id, held_at: at.toISOString() };
      });
    },

    async release(context: OrgContext, collection: string, key: string, meta: RequestMeta): Promise<void> {
      await withTenant(db, context.tenantId, async (trx) => {
        if (!(await repo.deleteHold(trx, context.tenantId, collection, key))) throw retentionErrors.not_found();
        await recordOrgAction(trx, clock.now(), context, 'legal_hold.released', meta, { collection, key });
      });
    },

    async list(context: OrgContext): Promise<LegalHoldView[]> {
      const rows = await withTenant(db, context.tenantId, (trx) => repo.listHolds(trx, context.tenantId));
      return rows.map((row) => ({ collection: row.collection, key: row.record_key, held_by: row.held_by, held_at: row.held_at.toISOString() }));
    },

    /** Registers the daily job and its schedule (the schedule once the app is ready). */
    register(jobs: JobQueue): () => Promise<void> {
      jobs.register(RETENTION_JOB, async () => {
        const outcomes = await this.run();
        deps.logger.info({ orgs: outcomes.length, records: outcomes.reduce((sum, o) => sum + o.recordsDeleted, 0), files: outcomes.reduce((sum, o) => sum + o.filesDeleted, 0) }, 'retention run finished');
      });
      return () => jobs.schedule(RETENTION_JOB, RETENTION_CRON, RETENTION_JOB);
    },
  };
}

export type Retention = ReturnType<typeof createRetention>;
