import { randomInt } from 'node:crypto';
import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import type { Clock } from '../platform/clock.js';
import { withTenant } from '../platform/db/index.js';
import type { DB, TenantTransaction } from '../platform/db/index.js';
import type { RequestMeta } from '../platform/http/index.js';
import type { JobQueue } from '../platform/jobs/index.js';
import { recordOrgAction } from '../tenancy/index.js';
import type { OrgContext } from '../tenancy/index.js';
import type { OrgActor } from '../tenancy/org-context.js';

/**
 * How reads of a collection's personal data are audited (decision 0028):
 * - `every`: one `record.read` entry per record read (the default);
 * - `sampled`: a `record.read` entry for `percent` % of reads, chosen at random, marked sampled;
 * - `aggregated`: one `record.reads_counted` entry per reader and hour, with the count.
 */
export type ReadAuditMode = { read_audit: 'every' } | { read_audit: 'sampled'; sample_percent: number } | { read_audit: 'aggregated' };

export const READ_COUNTS_JOB = 'vault.read_counts';
const HOUR_MS = 3_600_000;

interface CountKey {
  tenant_id: string;
  collection: string;
  actor_type: 'user' | 'api_key';
  actor_id: string;
  hour: string;
}

export function createReadAudit(deps: { db: Kysely<DB>; jobs: JobQueue; clock: Clock }) {
  const { clock } = deps;

  // Idempotent: a closed hour's row becomes one entry and goes, in one transaction; a rerun finds no row.
  deps.jobs.register(READ_COUNTS_JOB, async (job) => {
    const key = job.payload as CountKey;
    await withTenant(deps.db, key.tenant_id, async (trx) => {
      const row = await trx
        .deleteFrom('vault_read_counts')
        .where('tenant_id', '=', key.tenant_id)
        .where('collection', '=', key.collection)
        .where('actor_type', '=', key.actor_type)
        .where('actor_id', '=', key.actor_id)
        .where('hour', '=', new Date(key.hour))
        .returning('reads')
        .executeTakeFirst();
      if (!row) return;
      // The reader as the entry names it; a key's scopes were checked at each read, not here.
      const actor: OrgActor = key.actor_type === 'user' ? { type: 'user', id: key.actor_id } : { type: 'api_key', id: key.actor_id, scopes: [] };
      const context = { tenantId: key.tenant_id, actor };
      await recordOrgAction(trx, clock.now(), context, 'record.reads_counted', null, { collection: key.collection, hour: key.hour, reads: row.reads });
    });
  });

  async function modeOf(trx: TenantTransaction, tenantId: string, collection: string): Promise<ReadAuditMode> {
    const row = await trx.selectFrom('vault_collection_settings').select(['read_audit', 'sample_percent']).where('tenant_id', '=', tenantId).where('collection', '=', collection).executeTakeFirst();
    if (row?.read_audit === 'sampled') return { read_audit: 'sampled', sample_percent: row.sample_percent! };
    return { read_audit: row?.read_audit === 'aggregated' ? 'aggregated' : 'every' };
  }

  /** Counts a read in its hour; the hour's first read schedules the job that records it once the hour is over. */
  async function count(trx: TenantTransaction, context: OrgContext, collection: string): Promise<void> {
    const now = clock.now().getTime();
    const hour = new Date(now - (now % HOUR_MS));
    const { rows } = await sql<{ first: boolean }>`
      insert into vault_read_counts (tenant_id, collection, actor_type, actor_id, hour, reads)
      values (${context.tenantId}, ${collection}, ${context.actor.type}, ${context.actor.id}, ${hour}, 1)
      on conflict (tenant_id, collection, actor_type, actor_id, hour) do update set reads = vault_read_counts.reads + 1
      returning (xmax = 0) as first`.execute(trx);
    if (!rows[0]?.first) return;
    const key: CountKey = { tenant_id: context.tenantId, collection, actor_type: context.actor.type, actor_id: context.actor.id, hour: hour.toISOString() };
    await deps.jobs.enqueue(trx, READ_COUNTS_JOB, key, {
      runAt: new Date(hour.getTime() + HOUR_MS),
      idempotencyKey: `read-counts:${key.tenant_id}:${collection}:${key.actor_type}:${key.actor_id}:${key.hour}`,
    });
  }

  return {
    /** Audits a read of a record with a data subject as its collection's mode says, in the read's transaction. */
    async recordRead(trx: TenantTransaction, context: OrgContext, collection: string, key: string, meta: RequestMeta): Promise<void> {
      const mode = await modeOf(trx, context.tenantId, collection);
      if (mode.read_audit === 'every') return recordOrgAction(trx, clock.now(), context, 'record.read', meta, { collection, key });
      if (mode.read_audit === 'aggregated') return count(trx, context, collection);
      if (randomInt(100) < mode.sample_percent) {
        await recordOrgAction(trx, clock.now(), context, 'record.read', meta, { collection, key, sampled_percent: mode.sample_percent });
      }
    },

    /** A collection's mode (`every` until an admin sets another). */
    mode: (context: OrgContext, collection: string): Promise<ReadAuditMode> => withTenant(deps.db, context.tenantId, (trx) => modeOf(trx, context.tenantId, collection)),

    /** Sets a collection's mode; the change is audited with before and after. */
    setMode(context: OrgContext, collection: string, mode: ReadAuditMode, meta: RequestMeta): Promise<ReadAuditMode> {
      return withTenant(deps.db, context.tenantId, async (trx) => {
        const before = await modeOf(trx, context.tenantId, collection);
        const samplePercent = mode.read_audit === 'sampled' ? mode.sample_percent : null;
        const row = { read_audit: mode.read_audit, sample_percent: samplePercent, updated_at: clock.now() };
        await trx
          .insertInto('vault_collection_settings')
          .values({ tenant_id: context.tenantId, collection, ...row })
          .onConflict((conflict) => conflict.columns(['tenant_id', 'collection']).doUpdateSet(row))
          .execute();
        await recordOrgAction(trx, clock.now(), context, 'vault.read_audit_changed', meta, { collection, before, after: mode });
        return mode;
      });
    },
  };
}

export type ReadAudit = ReturnType<typeof createReadAudit>;
