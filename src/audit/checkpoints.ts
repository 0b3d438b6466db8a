import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import type { SigningKey } from '../crypto/signing-keys.js';
import type { Clock } from '../platform/clock.js';
import { withTenant } from '../platform/db/index.js';
import type { DB, TenantTransaction } from '../platform/db/index.js';
import { signTreeHead } from './checkpoint.js';
import { rootOfFrontier } from './merkle.js';
import { toSignedCheckpoint } from './proof-document.js';
import type { SignedCheckpoint } from './proof-document.js';

/** A signed tree head as the API shows it (the checkpoint of proof documents). */
export type CheckpointView = SignedCheckpoint;

/** When a chain that grew gets a new signed tree head. */
export interface CheckpointPolicy {
  /** This many entries since the chain's last checkpoint. */
  everyEntries: number;
  /** Or this long since it, whatever the number. */
  everyMinutes: number;
}

export const AUDIT_CHECKPOINT_JOB = 'audit.checkpoint';
/** The job looks every minute; the policy decides which chains are due. */
export const AUDIT_CHECKPOINT_CRON = '* * * * *';

const CHECKPOINT_COLUMNS = ['size', 'root', 'at', 'signature', 'key_id'] as const;

export interface CheckpointerDependencies {
  db: Kysely<DB>;
  clock: Clock;
  policy: CheckpointPolicy;
  /** The 'audit-checkpoint' Ed25519 key (ensureSigningKey), loaded when first needed. */
  signingKey: () => Promise<SigningKey>;
}

/**
 * Signs tree heads. Idempotent: a checkpoint is keyed by (tenant, size), so a job that runs twice
 * (at-least-once delivery, two nodes) signs the same head once, and the second insert is a no-op.
 */
export function createCheckpointer(deps: CheckpointerDependencies) {
  return {
    /** Signs a checkpoint for every chain that is due; returns how many it signed. */
    async run(): Promise<number> {
      let signed = 0;
      for (const tenantId of await nonEmptyChains(deps.db)) {
        if (await this.checkpointChain(tenantId, false)) signed++;
      }
      return signed;
    },

    /** Signs the chain's current head if the policy says it is due (or `force`: tests, tools); returns it, or null when nothing was signed. */
    async checkpointChain(tenantId: string, force: boolean): Promise<CheckpointView | null> {
      const key = await deps.signingKey();
      const now = deps.clock.now();
      return withTenant(deps.db, tenantId, async (trx) => {
        const head = await trx.selectFrom('audit_heads').select(['size', 'frontier']).where('tenant_id', '=', tenantId).executeTakeFirst();
        if (!head || head.size === 0) return null;
        const last = await latestCheckpoint(trx, tenantId);
        if (last && last.size >= head.size) return null;
        if (!force && last && head.size - last.size < deps.policy.everyEntries && now.getTime() - last.at.getTime() < deps.policy.everyMinutes * 60_000) return null;
        const root = rootOfFrontier(head.frontier.map((node) => Buffer.from(node)));
        const signature = signTreeHead(key.privateKey, { tenant: tenantId, size: head.size, root, time: now });
        const row = { tenant_id: tenantId, size: head.size, root, at: now, signature, key_id: key.kid };
        const inserted = await trx.insertInto('audit_checkpoints').values(row).onConflict((conflict) => conflict.columns(['tenant_id', 'size']).doNothing()).executeTakeFirst();
        return inserted.numInsertedOrUpdatedRows === 0n ? null : toCheckpointView(tenantId, row);
      });
    },
  };
}

export type Checkpointer = ReturnType<typeof createCheckpointer>;

/**
 * Chains with at least one entry; checkpointChain then decides, inside the tenant's scope, whether
 * each is due. rampart_audit_chains() (migrations/0004_audit.sql) lists heads across tenants for
 * the owner role, which RLS otherwise shows none outside a tenant scope.
 */
async function nonEmptyChains(db: Kysely<DB>): Promise<string[]> {
  const { rows } = await sql<{ tenant_id: string }>`select tenant_id from rampart_audit_chains() where size > 0`.execute(db);
  return rows.map((row) => row.tenant_id);
}

async function latestCheckpoint(trx: TenantTransaction, tenantId: string) {
  return trx.selectFrom('audit_checkpoints').select(CHECKPOINT_COLUMNS).where('tenant_id', '=', tenantId).orderBy('size', 'desc').limit(1).executeTakeFirst();
}

/** An org's checkpoints, largest first, strictly below `beforeSize` when given. */
export async function listCheckpoints(trx: TenantTransaction, tenantId: string, options: { limit: number; beforeSize?: number }): Promise<CheckpointView[]> {
  let query = trx.selectFrom('audit_checkpoints').select(CHECKPOINT_COLUMNS).where('tenant_id', '=', tenantId).orderBy('size', 'desc').limit(options.limit);
  if (options.beforeSize !== undefined) query = query.where('size', '<', options.beforeSize);
  return (await query.execute()).map((row) => toCheckpointView(tenantId, row));
}

/** The checkpoint of exactly `size` entries, or undefined. */
export async function findCheckpoint(trx: TenantTransaction, tenantId: string, size: number): Promise<CheckpointView | undefined> {
  const row = await trx.selectFrom('audit_checkpoints').select(CHECKPOINT_COLUMNS).where('tenant_id', '=', tenantId).where('size', '=', size).executeTakeFirst();
  return row && toCheckpointView(tenantId, row);
}

function toCheckpointView(tenantId: string, row: { size: number; root: Uint8Array; at: Date; signature: Uint8Array; key_id: string }): CheckpointView {
  return toSignedCheckpoint({ tenant: tenantId, size: row.size, root: Buffer.from(row.root), time: row.at }, Buffer.from(row.signature), row.key_id);
}
