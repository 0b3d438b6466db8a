import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { SigningKey } from '../../crypto/signing-keys.js';
import type { Clock } from '../../platform/clock.js';
import { withTenant } from '../../platform/db/index.js';
import type { DB } from '../../platform/db/index.js';
import type { Job, JobQueue } from '../../platform/jobs/index.js';
import type { Vault } from '../../vault/index.js';
import type { Webhooks } from '../../webhooks/index.js';
import * as repo from './dsr.repository.js';
import { ERASURE_JOB } from './dsr.service.js';
import type { Dsr } from './dsr.service.js';
import { RECEIPT_FORMAT, signReceipt } from './receipt.js';
import type { ErasureReceipt } from './receipt.js';

/** Rows per transaction while deleting: short transactions, progress kept between them. */
const BATCH = 500;
const SYSTEM = { type: 'system', id: null } as const;

export interface ErasureJobDependencies {
  db: Kysely<DB>;
  clock: Clock;
  jobs: JobQueue;
  vault: Vault;
  webhooks: Webhooks;
  dsr: Dsr;
  /** The 'document-seal' Ed25519 key that signs receipts. */
  signingKey: () => Promise<SigningKey>;
}

interface ErasurePlan {
  records: Record<string, number>;
  files: number;
}

/**
 * The erasure's second half, after the grace period: deletes the subject's records and files in
 * batches, then in one transaction destroys their data keys (crypto-shredding, which writes the
 * erasure ledger entry), closes the request and stores its signed receipt.
 *
 * Idempotent and resumable: what will be erased is counted once, before anything is deleted, and
 * kept in the request's history (`erasure_started`), so a run after a crash deletes what is left
 * and the receipt still lists everything; the last transaction checks the request is still open,
 * so a second run after completion does nothing (one ledger entry, one receipt).
 */
export function registerErasureJob(deps: ErasureJobDependencies): void {
  const { db, vault } = deps;

  deps.jobs.register(ERASURE_JOB, async (job: Job) => {
    const { tenantId, requestId } = job.payload as { tenantId: string; requestId: string };
    const started = await withTenant(db, tenantId, async (trx) => {
      const row = await repo.findRequest(trx, tenantId, requestId, { lock: true });
      // Rejected before the grace period ended, or already done.
      if (!row || row.type !== 'erasure' || row.status !== 'in_progress') return null;
      const subjectId = deps.dsr.subjectOf(row);
      const history = await repo.listHistory(trx, tenantId, requestId);
      let plan = history.find((entry) => entry.event === 'erasure_started')?.detail as ErasurePlan | undefined;
      if (!plan) {
        plan = await vault.subjects.inventory(trx, tenantId, subjectId);
        await deps.dsr.step(trx, row, SYSTEM, 'erasure_started', { ...plan });
      }
      return { subjectId, subjectIndex: Buffer.from(row.subject_index), plan };
    });
    if (!started) return;

    while ((await withTenant(db, tenantId, (trx) => vault.subjects.deleteRecords(trx, tenantId, started.subjectIndex, BATCH))) > 0);
    while ((await vault.subjects.deleteFiles(tenantId, started.subjectIndex, BATCH)) > 0);

    const signer = await deps.signingKey();
    await withTenant(db, tenantId, async (trx) => {
      const row = await repo.findRequest(trx, tenantId, requestId, { lock: true });
      if (!row || row.status !== 'in_progress') return;
      const shred = await vault.shredSubject(trx, tenantId, started.subjectId, requestId);
      // The data is gone: a new record for the same person later starts afresh under a new key.
      await vault.subjects.setFlag(trx, tenantId, started.subjectId, 'erased', false);
      const history = await repo.listHistory(trx, tenantId, requestId);
      const deliveries = await deps.webhooks.deliveriesForRequest(trx, tenantId, requestId);
      const receipt: ErasureReceipt = {
        format: RECEIPT_FORMAT,
        receipt_id: randomUUID(),
        issued_at: deps.clock.now().toISOString(),
        org_id: tenantId,
        request: { id: requestId, received_at: row.received_at.toISOString(), erase_after: row.erase_after?.toISOString() ?? null },
        subject: { blind_index: started.subjectIndex.toString('hex') },
        erased: {
          records: started.plan.records,
          record_total: Object.values(started.plan.records).reduce((sum, count) => sum + count, 0),
          files: started.plan.files,
        },
        keys: { data_keys_destroyed: shred.destroyedKeys, ledger_entry: { id: shred.ledgerEntryId, at: shred.at.toISOString() } },
        webhooks: {
          deliveries: deliveries.map((delivery) => ({
            endpoint_id: delivery.endpoint_id,
            event_id: delivery.event_id,
            event_type: delivery.type,
            attempt: delivery.attempt,
            at: delivery.at.toISOString(),
            status_code: delivery.status_code,
            delivered: delivery.delivered,
          })),
          confirmations: history.filter((entry) => entry.event === 'erasure_confirmed').map((entry) => ({ at: entry.at.toISOString(), actor: { type: entry.actor_type, id: entry.actor_id } })),
        },
        signer: { kid: signer.kid, public_jwk: signer.publicJwk as Record<string, unknown> },
      };
      const signature = await signReceipt(receipt, signer);
      await deps.dsr.step(trx, row, SYSTEM, 'keys_destroyed', { data_keys_destroyed: shred.destroyedKeys, ledger_entry: shred.ledgerEntryId });
      await deps.dsr.audit(trx, tenantId, null, 'dsr.erasure_completed', { request_id: requestId, records: receipt.erased.record_total, files: receipt.erased.files, keys_destroyed: shred.destroyedKeys, ledger_entry: shred.ledgerEntryId }, null);
      await deps.dsr.close(trx, row, 'completed', null, SYSTEM, null, { receipt: JSON.stringify({ receipt, signature }) });
    });
  });
}
