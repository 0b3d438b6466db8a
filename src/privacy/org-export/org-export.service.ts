import { randomUUID } from 'node:crypto';
import { pipeline as pipe } from 'node:stream';
import type { Readable } from 'node:stream';
import type { Kysely } from 'kysely';
import { recordAuditEvent } from '../../audit/index.js';
import type { Principal } from '../../identity/index.js';
import type { Clock } from '../../platform/clock.js';
import { withTenant } from '../../platform/db/index.js';
import type { DB } from '../../platform/db/index.js';
import type { RequestMeta } from '../../platform/http/index.js';
import { PermanentJobError } from '../../platform/jobs/index.js';
import type { JobQueue } from '../../platform/jobs/index.js';
import type { Logger } from '../../platform/log/logger.js';
import { recordOrgAction } from '../../tenancy/index.js';
import type { OrgContext } from '../../tenancy/index.js';
import type { OrgData } from '../../vault/index.js';
import { buildOrgZip, countBytes, countExportItems } from './build-zip.js';
import { orgExportErrors } from './org-export.errors.js';
import * as repo from './org-export.repository.js';
import type { ExportSection } from './sections.js';

export const ORG_EXPORT_JOB = 'privacy.org_export';
export const ORG_EXPORT_EXPIRY_JOB = 'privacy.org_export.expire';
/** Every hour: an expired export's blob is gone within the hour after its 24 hours. */
export const ORG_EXPORT_EXPIRY_CRON = '23 * * * *';

const AVAILABLE_MS = 24 * 3600_000;
const ATTEMPTS = 3;
// Progress is written every this many items: often enough for a bar, rarely enough to cost nothing.
const PROGRESS_EVERY = 5000;

export type ExportStatus =
  | { kind: 'pending' | 'running'; id: string; status: 'pending' | 'running'; items_done: number; items_total: number | null; created_at: string }
  | { kind: 'ready'; id: string; size: number; expiresAt: Date; body: Readable };

/** The export's place in the key hierarchy: its blob, copied to another export or tenant, does not open. */
const zipPlace = (exportId: string) => ({ collection: '@exports', recordKey: exportId, field: 'zip' });

/**
 * Whole-org exports (Art. 20, and leaving the vendor): an owner asks (step-up sign-in), a job
 * streams the ZIP of every section into the vault's file store, sealed with the vault's file cipher
 * under the tenant's data key, and the owner downloads it for 24 hours, each download audited. An
 * hourly job deletes expired blobs.
 */
export function createOrgExports(deps: {
  db: Kysely<DB>;
  clock: Clock;
  jobs: JobQueue;
  orgData: OrgData;
  sections: ExportSection[];
  stepUp: (principal: Principal, password: string | undefined, meta: RequestMeta) => Promise<void>;
  logger: Logger;
}) {
  const { db, clock, orgData } = deps;

  async function build(tenantId: string, exportId: string, attempt: number): Promise<void> {
    const row = await withTenant(db, tenantId, (trx) => repo.findExport(trx, tenantId, exportId, { lock: true }));
    // Done, failed or expired already (a job delivered twice): nothing to do.
    if (!row || (row.status !== 'pending' && row.status !== 'running')) return;
    const blobId = randomUUID();
    const counted = { bytes: 0 };
    const total = await countExportItems(tenantId, deps.sections);
    await withTenant(db, tenantId, (trx) => repo.markRunning(trx, tenantId, exportId, total));
    let reported = 0;
    try {
      const result = await buildOrgZip(
        tenantId,
        deps.sections,
        // pipeline, not pipe: a failed build must end the store's write too (which then removes its partial blob).
        (zip) => orgData.writeSealedBlob(tenantId, blobId, zipPlace(exportId), pipe(zip, countBytes(counted), () => {})),
        (done) => {
          if (done - reported < PROGRESS_EVERY) return;
          reported = done;
          // Not awaited: progress is for show, and the build must not wait on it.
          void withTenant(db, tenantId, (trx) => repo.setProgress(trx, tenantId, exportId, done)).catch((error: unknown) => deps.logger.warn({ err: error }, 'org export progress not saved'));
        },
        total,
      );
      const at = clock.now();
      const stored = await withTenant(db, tenantId, (trx) => repo.markReady(trx, tenantId, exportId, { blobId, sizeBytes: counted.bytes, items: result.items, at, expiresAt: new Date(at.getTime() + AVAILABLE_MS) }));
      // Another delivery of the job finished first: this blob is nobody's.
      if (!stored) await orgData.removeBlob(tenantId, blobId);
    } catch (error) {
      await orgData.removeBlob(tenantId, blobId);
      if (attempt >= ATTEMPTS) {
        await withTenant(db, tenantId, (trx) => repo.markFailed(trx, tenantId, exportId, 'the export could not be built; see the server log', clock.now()));
        throw new PermanentJobError((error as Error).message);
      }
      throw error;
    }
  }

  async function expire(): Promise<number> {
    let expired = 0;
    for (const { tenant_id: tenantId, export_id: exportId } of await repo.expiredExports(db, clock.now())) {
      const blob = await withTenant(db, tenantId, async (trx) => {
        const marked = await repo.markExpired(trx, tenantId, exportId);
        if (!marked) return null;
        await recordAuditEvent(trx, { realm: 'user', tenantId, principalId: null, actor: { type: 'system', id: null }, action: 'org_export.expired', ip: null, userAgent: null, metadata: { export_id: exportId }, subjectId: null, at: clock.now() });
        return marked.blob_id;
      });
      if (blob) await orgData.removeBlob(tenantId, blob);
      expired += blob ? 1 : 0;
    }
    return expired;
  }

  return {
    /** Queues an export (owners, signed in as themselves, after a step-up); returns its id. */
    async request(context: OrgContext, principal: Principal, password: string | undefined, meta: RequestMeta): Promise<{ id: string; status: 'pending' }> {
      if (context.actor.type !== 'user' || context.role !== 'owner') throw orgExportErrors.owner_only();
      await deps.stepUp(principal, password, meta);
      const exportId = randomUUID();
      await withTenant(db, context.tenantId, async (trx) => {
        const at = clock.now();
        await repo.insertExport(trx, { tenantId: context.tenantId, exportId, requestedBy: principal.id, at });
        await deps.jobs.enqueue(trx, ORG_EXPORT_JOB, { tenantId: context.tenantId, exportId }, { idempotencyKey: `org-export:${exportId}`, maxAttempts: ATTEMPTS });
        await recordOrgAction(trx, at, context, 'org_export.requested', meta, { export_id: exportId });
      });
      return { id: exportId, status: 'pending' };
    },

    /** The export's status while it runs; once ready, its ZIP (the download audited first); 410 after 24 hours. */
    async fetch(context: OrgContext, exportId: string, meta: RequestMeta): Promise<ExportStatus> {
      const { tenantId } = context;
      const row = await withTenant(db, tenantId, async (trx) => {
        const found = await repo.findExport(trx, tenantId, exportId);
        if (!found) throw orgExportErrors.not_found();
        if (found.status === 'expired' || (found.status === 'ready' && found.expires_at! <= clock.now())) throw orgExportErrors.export_expired();
        if (found.status === 'failed') throw orgExportErrors.export_failed();
        if (found.status === 'ready') await recordOrgAction(trx, clock.now(), context, 'org_export.downloaded', meta, { export_id: exportId, size: found.size_bytes! });
        return found;
      });
      if (row.status === 'pending' || row.status === 'running') {
        return { kind: row.status, id: exportId, status: row.status, items_done: row.items_done, items_total: row.items_total, created_at: row.created_at.toISOString() };
      }
      return { kind: 'ready', id: exportId, size: row.size_bytes!, expiresAt: row.expires_at!, body: await orgData.readSealedBlob(tenantId, row.blob_id!, zipPlace(exportId)) };
    },

    build,
    expire,

    /** Registers the build and expiry jobs; returns the schedule to set once the app is ready. */
    register(jobs: JobQueue): () => Promise<void> {
      jobs.register(ORG_EXPORT_JOB, async (job) => {
        const { tenantId, exportId } = job.payload as { tenantId: string; exportId: string };
        await build(tenantId, exportId, job.attempt);
      });
      jobs.register(ORG_EXPORT_EXPIRY_JOB, async () => {
        const expired = await expire();
        if (expired > 0) deps.logger.info({ expired }, 'expired org exports deleted');
      });
      return () => jobs.schedule(ORG_EXPORT_EXPIRY_JOB, ORG_EXPORT_EXPIRY_CRON, ORG_EXPORT_EXPIRY_JOB);
    },
  };
}

export type OrgExports = ReturnType<typeof createOrgExports>;
