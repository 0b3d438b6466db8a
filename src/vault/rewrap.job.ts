import type { Kysely } from 'kysely';
import type { DB } from '../platform/db/index.js';
import { withTenant } from '../platform/db/index.js';
import type { JobQueue } from '../platform/jobs/index.js';
import type { Logger } from '../platform/log/logger.js';
import type { Keyring } from './keyring.js';
import { countStaleDataKeys, findCurrentTenantKey, listTenantsWithKeys } from './keys.repository.js';

/** The job `rampart keys rewrap` enqueues. */
export const REWRAP_JOB = 'vault.rewrap_data_keys';

const BATCH_SIZE = 500;

/**
 * Rewraps every live data key under its tenant's current KEK, in batches of its own transaction:
 * a crash loses at most one batch's work, and the retried job goes on with the keys still stale
 * (found by their KEK version, so running twice is harmless). Logs progress per batch.
 */
export function registerRewrapJob(jobs: JobQueue, db: Kysely<DB>, keyring: Keyring, logger: Logger): void {
  jobs.register(REWRAP_JOB, async (job) => {
    const requested = (job.payload as { tenant_id?: string | null }).tenant_id ?? null;
    const tenants = requested ? [requested] : await listTenantsWithKeys(db);
    let total = 0;
    for (const tenantId of tenants) {
      for (;;) {
        const { rewrapped, remaining } = await keyring.rewrapBatch(db, tenantId, BATCH_SIZE);
        total += rewrapped;
        if (rewrapped > 0) logger.info({ job: job.id, tenant_id: tenantId, rewrapped: total, remaining }, 'data keys rewrapped');
        if (remaining === 0 || rewrapped === 0) break;
      }
    }
    logger.info({ job: job.id, tenants: tenants.length, rewrapped: total }, 'rewrap finished');
  });
}

/** Data keys not yet under their tenant's current KEK, per tenant with any: the rewrap's progress. */
export async function staleDataKeys(db: Kysely<DB>, tenantId: string | null): Promise<Array<{ tenantId: string; stale: number }>> {
  const tenants = tenantId ? [tenantId] : await listTenantsWithKeys(db);
  const counts = [];
  for (const id of tenants) {
    const stale = await withTenant(db, id, async (trx) => {
      const current = await findCurrentTenantKey(trx, id);
      return current ? countStaleDataKeys(trx, id, current.version) : 0;
    });
    if (stale > 0) counts.push({ tenantId: id, stale });
  }
  return counts;
}
