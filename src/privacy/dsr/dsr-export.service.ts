import type { Readable } from 'node:stream';
import { withTenant } from '../../platform/db/index.js';
import type { RequestMeta } from '../../platform/http/index.js';
import type { OrgContext } from '../../tenancy/index.js';
import { subjectBundle } from './bundle.js';
import type { BundleDependencies } from './bundle.js';
import type { Dsr } from './dsr.service.js';

/**
 * The export of an access or portability request: audited (with what it holds) when it starts,
 * then streamed. Moves a received request to in progress; completing it stays the org's call
 * (it has to hand the bundle to the person).
 */
export function createDsrExports(deps: BundleDependencies & { dsr: Dsr }) {
  return async function exportRequest(context: OrgContext, requestId: string, meta: RequestMeta): Promise<Readable> {
    const { row, subjectId } = await deps.dsr.forExport(context, requestId);
    await withTenant(deps.db, context.tenantId, async (trx) => {
      const inventory = await deps.vault.subjects.inventory(trx, context.tenantId, subjectId);
      const records = Object.values(inventory.records).reduce((sum, count) => sum + count, 0);
      await deps.dsr.audit(trx, context.tenantId, { context, meta }, 'dsr.exported', { request_id: requestId, records, files: inventory.files, subject_id: subjectId }, subjectId);
      await deps.dsr.step(trx, row, { type: context.actor.type, id: context.actor.id }, 'exported', { records, files: inventory.files });
    });
    return subjectBundle(deps, context, { subjectId, request: { id: row.request_id, type: row.type, received_at: row.received_at.toISOString() }, emailHash: row.email_hash ? Buffer.from(row.email_hash) : null });
  };
}
