import { createHmac } from 'node:crypto';
import type { Kysely } from 'kysely';
import { deriveKey } from '../crypto/root-key.js';
import { normalizeEmail } from '../identity/index.js';
import type { Clock } from '../platform/clock.js';
import { withTenant } from '../platform/db/index.js';
import type { DB, TenantTransaction } from '../platform/db/index.js';
import { defineErrors } from '../platform/http/index.js';
import type { RequestMeta } from '../platform/http/index.js';
import { recordOrgAction } from '../tenancy/index.js';
import type { OrgContext } from '../tenancy/index.js';
import * as repo from './suppressions.repository.js';

export const suppressionErrors = defineErrors({
  invalid_email: { status: 400, message: 'email must be one plain email address' },
  not_found: { status: 404, message: 'This address is not on the suppression list' },
  invalid_cursor: { status: 400, message: 'The cursor is not one this list returned' },
});

export interface SuppressionView {
  id: string;
  source: 'api' | 'objection';
  created_at: string;
}

/**
 * The opt-out list. Addresses are kept only as HMAC-SHA256 of their normalized form (the same
 * normalization as accounts, src/identity/email.ts) under a key derived from the root key per org:
 * the table alone tells nobody which addresses are on it, and the same address in two orgs gives
 * two unrelated hashes. Host applications check an address before outreach.
 */
export function createSuppressions(deps: { db: Kysely<DB>; clock: Clock; rootKey: Buffer }) {
  const { db, clock } = deps;

  /** The keyed hash of an address in an org; 400 for something that is not an address. */
  function hashOf(tenantId: string, email: string): Buffer {
    const normalized = normalizeEmail(email);
    if (normalized === null) throw suppressionErrors.invalid_email();
    return createHmac('sha256', deriveKey(deps.rootKey, `suppression-list:${tenantId}`)).update(normalized, 'utf8').digest();
  }

  return {
    hashOf,

    /** Adds an address in the caller's transaction (an objection request's); returns whether it was new. */
    addInTransaction: (trx: TenantTransaction, tenantId: string, emailHash: Buffer, source: 'api' | 'objection', requestId: string | null): Promise<boolean> =>
      repo.insertSuppression(trx, { tenant_id: tenantId, email_hash: emailHash, source, request_id: requestId, created_at: clock.now() }),

    removeOfRequest: (trx: TenantTransaction, tenantId: string, requestId: string) => repo.deleteSuppressionsOfRequest(trx, tenantId, requestId),

    /** Whether the address with this hash is on the list, in the caller's transaction. */
    async isSuppressed(trx: TenantTransaction, tenantId: string, emailHash: Buffer): Promise<boolean> {
      return (await repo.findSuppression(trx, tenantId, emailHash)) !== undefined;
    },

    async add(context: OrgContext, email: string, meta: RequestMeta): Promise<{ created: boolean }> {
      const hash = hashOf(context.tenantId, email);
      return withTenant(db, context.tenantId, async (trx) => {
        const created = await repo.insertSuppression(trx, { tenant_id: context.tenantId, email_hash: hash, source: 'api', request_id: null, created_at: clock.now() });
        if (created) await recordOrgAction(trx, clock.now(), context, 'suppression.added', meta, { source: 'api' });
        return { created };
      });
    },

    async remove(context: OrgContext, email: string, meta: RequestMeta): Promise<void> {
      const hash = hashOf(context.tenantId, email);
      await withTenant(db, context.tenantId, async (trx) => {
        if (!(await repo.deleteSuppression(trx, context.tenantId, hash))) throw suppressionErrors.not_found();
        await recordOrgAction(trx, clock.now(), context, 'suppression.removed', meta, {});
      });
    },

    async check(context: OrgContext, email: string): Promise<{ suppressed: boolean }> {
      const hash = hashOf(context.tenantId, email);
      return withTenant(db, context.tenantId, async (trx) => ({ suppressed: (await repo.findSuppression(trx, context.tenantId, hash)) !== undefined }));
    },

    async list(context: OrgContext, limit: number, cursor: string | null): Promise<{ data: SuppressionView[]; next_cursor: string | null }> {
      const after = cursor === null ? null : Buffer.from(cursor, 'base64url');
      if (after && after.length !== 32) throw suppressionErrors.invalid_cursor();
      return withTenant(db, context.tenantId, async (trx) => {
        const rows = await repo.listSuppressions(trx, context.tenantId, after, limit + 1);
        const page = rows.slice(0, limit);
        const last = page.at(-1);
        return {
          data: page.map((row) => ({ id: Buffer.from(row.email_hash).toString('hex'), source: row.source, created_at: row.created_at.toISOString() })),
          next_cursor: rows.length > limit && last ? Buffer.from(last.email_hash).toString('base64url') : null,
        };
      });
    },
  };
}

export type Suppressions = ReturnType<typeof createSuppressions>;
